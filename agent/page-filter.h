// SPDX-License-Identifier: GPL-2.0-or-later
// makedumpfile-compatible page filtering (-d dump levels) for x86_64 Linux
// 6.1, with the rules of makedumpfile 1.7.2 (Debian 12's version): the 1st
// bitmap (create_bitmap_from_memhole / create_1st_bitmap_file) and the 2nd
// bitmap (create_2nd_bitmap, __exclude_unnecessary_pages). Zero pages (bit 1)
// are NOT removed here: in kdump output makedumpfile finds them while
// writing, leaves them set in the 2nd bitmap and points them at one shared
// zero page; the writer does the same.
//
// See docs/formats/filtering.md for each rule and where it comes from.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "agent/kernel-memory.h"
#include "agent/log.h"
#include "agent/mem-map.h"
#include "formats/dump-reader.h"
#include "formats/page-bitmap.h"

namespace salvage {

// makedumpfile.h DL_EXCLUDE_* bits.
inline constexpr int kDlZero = 1;          // pages filled with zero
inline constexpr int kDlCache = 2;         // non-private page cache
inline constexpr int kDlCachePrivate = 4;  // page cache incl. private
inline constexpr int kDlUser = 8;          // user process data
inline constexpr int kDlFree = 16;         // free pages
inline constexpr int kDlMax = 31;

// Why a page was excluded (makedumpfile's pfn_free, pfn_cache, ... counters).
enum class ExcludeClass : int { kFree, kCache, kCachePrivate, kUser, kHwpoison, kOffline };
inline constexpr size_t kExcludeClasses = 6;
const char* exclude_class_name(ExcludeClass c);

struct FilterResult {
  PageBitmap present;  // makedumpfile's 1st bitmap; max_pfn() is the effective max_mapnr
  PageBitmap kept;     // 2nd bitmap before zero-page handling (subset of present)
  std::array<u64, kExcludeClasses> excluded_by_class{};
  int effective_dump_level = 0;          // what was actually applied (bits dropped on missing keys)
  std::vector<std::string> degradations; // one line each, for the user
};

// How makedumpfile 1.7.2 sets the 1st bitmap for a PT_LOAD whose end is not
// page aligned. With a bitmap file (non-cyclic) the partial last page is
// included (create_1st_bitmap_file); with in-memory cyclic buffers it is not
// (create_bitmap_from_memhole). Both round the start down.
enum class Bitmap1Rule { kCyclicBuffer, kBitmapFile };
// Which one makedumpfile picks: it runs non-cyclic only when its cyclic
// buffer (max_mapnr*2/8 bytes, capped at 4 MiB and 60% of free memory)
// holds both bitmaps, i.e. max_mapnr % 4 == 0 and max_mapnr <= 16 Mi pages
// (assuming enough free memory; calculate_cyclic_buffer_size).
Bitmap1Rule makedumpfile_bitmap1_rule(Pfn max_mapnr);

// A PT_LOAD's physical extent: [start, end) in bytes (p_paddr, p_paddr+p_memsz).
// file_end is p_paddr+p_filesz; makedumpfile only classifies pages whose
// first byte lies below it (is_in_segs).
struct LoadRange {
  u64 start = 0;
  u64 end = 0;
  u64 file_end = 0;
};

// The 1st bitmap for these ranges.
PageBitmap build_present(const std::vector<LoadRange>& loads, Pfn max_mapnr, Bitmap1Rule rule);

// struct page fields the rules look at, decoded with VMCOREINFO offsets.
struct PageFields {
  u64 flags = 0;
  u64 mapping = 0;
  u64 private_ = 0;
  u64 compound_head = 0;
  u32 mapcount = 0;
  u32 refcount = 0;
  u32 compound_order = 0;  // from page[1], only for compound heads
  u64 compound_dtor = 0;   // from page[1], only for compound heads
};
std::string describe(const PageFields& f);

// Core, independent of any dump format: reads mem_section and struct pages
// through `read`. Never fails for unreadable struct pages (those pages are
// kept and a degradation is recorded); fails only on invalid arguments.
Result<FilterResult> filter_memory(const VirtReader& read, const Vmcoreinfo& vi, const std::vector<LoadRange>& loads,
                                   Pfn max_mapnr, int dump_level, Bitmap1Rule rule);

// The agent's entry point: ranges and max_mapnr from the dump, memory through
// KernelMemory, 1st-bitmap rule as makedumpfile would choose it.
Result<FilterResult> filter_pages(DumpReader& dump, KernelMemory& mem, const Vmcoreinfo& vi, int dump_level,
                                  const Log& log);

// Reads and decodes one pfn's struct page (diagnostics, comparison tools).
Result<PageFields> read_page_fields(const VirtReader& read, const Vmcoreinfo& vi, Pfn pfn, Pfn max_mapnr);

}  // namespace salvage

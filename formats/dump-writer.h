// SPDX-License-Identifier: GPL-2.0-or-later
// The one writing interface every output format implements. The capture
// pipeline decides which pages to keep and how to encode them; a writer only
// lays them out. Writers are picked from the table in dump-writer.cc; no other
// code asks which format is in use.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "formats/codec.h"
#include "formats/dump-reader.h"
#include "formats/page-bitmap.h"
#include "formats/sink.h"

namespace salvage {

struct Utsname {
  std::string sysname = "Linux", nodename, release, version, machine = "x86_64", domainname;
};

// Everything a writer needs before the first page.
struct DumpHeaderInfo {
  std::span<const std::byte> notes;     // verbatim note section (PRSTATUS..., VMCOREINFO)
  const Vmcoreinfo* vmcoreinfo = nullptr;
  std::vector<Prstatus> cpus;
  Utsname uts;
  i64 crash_time = 0;                   // CRASHTIME, seconds since the epoch
  u64 phys_base = 0;
  u64 kernel_offset = 0;                // KASLR slide (KERNELOFFSET)
  u64 panic_task = 0;                   // task_struct of the panicking task, 0 if unknown
  std::string panic_string;
  int dump_level = 0;
  PageEncoding encoding = PageEncoding::kRaw;  // what the pipeline compresses with
  Pfn max_pfn;
  const PageBitmap* present = nullptr;  // RAM pages
  const PageBitmap* kept = nullptr;     // pages that will be passed to write_page
  std::vector<MemoryRange> ram;         // with p_vaddr, for ELF program headers
  std::vector<MemoryRange> extra_loads; // ELF: segments to repeat (the kernel image mapping)
};

struct PageRecord {
  Pfn pfn;
  PageEncoding encoding = PageEncoding::kRaw;  // kRaw: data is the page itself
  std::span<const std::byte> data;
  bool zero = false;  // all-zero page; kdump shares one stored zero page when dump_level has bit 1
};

class DumpWriter {
 public:
  virtual ~DumpWriter() = default;
  // Whether pages may arrive in this encoding (else the pipeline stores them raw).
  virtual bool accepts(PageEncoding e) const = 0;
  // True if zero pages excluded by -d 1 must already be cleared from `kept`
  // before begin() (ELF drops them; kdump shares one stored zero page).
  virtual bool drops_zero_pages() const = 0;
  virtual Result<void> begin(const DumpHeaderInfo& info) = 0;
  // After begin(): the pages to pass to write_page, if not exactly
  // info.kept (ELF also stores excluded pages inside short gaps, with their
  // real contents, as makedumpfile -E does). nullptr means info.kept.
  virtual const PageBitmap* pages_to_write() const { return nullptr; }
  // Pages arrive in ascending pfn order, exactly those of pages_to_write().
  virtual Result<void> write_page(const PageRecord& page) = 0;
  // Priority passes (a full target keeps what matters): a writer that
  // accepts them takes the pages in several passes, each started with
  // begin_pass() and ascending within itself; every page comes at most once
  // over all passes, and pages no pass brought read as missing. Without a
  // begin_pass() call, the single ascending pass above.
  virtual bool accepts_passes() const { return false; }
  virtual Result<void> begin_pass() { return make_error("this format writes its pages in one ascending pass"); }
  // complete=false marks the dump incomplete in the format's own way.
  // Flushes the writer's buffers; the sink's owner calls Sink::finish().
  virtual Result<void> finish(bool complete) = 0;
};

enum class DumpFormat { kKdump, kElf, kLkcd };
Result<std::unique_ptr<DumpWriter>> make_dump_writer(DumpFormat format, Sink& sink);

}  // namespace salvage

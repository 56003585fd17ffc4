// SPDX-License-Identifier: GPL-2.0-or-later
// The one reading interface every dump format implements: ELF vmcore,
// kdump-compressed, flattened and LKCD. Commands such as `dmesg` and `info`
// and the conversion pipeline see only this, never which format it is.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "formats/byte-source.h"
#include "formats/elf-notes.h"
#include "formats/result.h"
#include "formats/types.h"
#include "formats/vmcoreinfo.h"

namespace salvage {

enum class PageState {
  kData,      // out holds the page
  kZero,      // page is known to be all zeros (e.g. beyond p_filesz); out zeroed
  kExcluded,  // filtered out when the dump was written; out zeroed
  kHole,      // not RAM in the crashed machine; out zeroed
  kMissing,   // should be there but was never written (incomplete dump); out zeroed
};
const char* page_state_name(PageState s);

// A physical memory range that was RAM in the crashed machine.
struct MemoryRange {
  PhysAddr start;
  u64 size = 0;
  VirtAddr vaddr;  // p_vaddr of the ELF segment it came from (0 if unknown)
};

struct DumpMetadata {
  std::string format;           // "elf", "kdump", "flattened", "lkcd"
  int dump_level = 0;           // makedumpfile -d level the dump was filtered with
  bool incomplete = false;      // writer ran out of space or was cut short
  std::string compression;      // human readable, e.g. "zlib"
  std::vector<std::string> notes_for_user;  // degradations found when opening
};

class DumpReader {
 public:
  virtual ~DumpReader() = default;
  virtual const DumpMetadata& metadata() const = 0;
  // ELF note bytes (PRSTATUS per CPU, VMCOREINFO), as in /proc/vmcore.
  virtual std::span<const std::byte> notes() const = 0;
  // Highest pfn + 1 the dump describes.
  virtual Pfn max_pfn() const = 0;
  // RAM ranges (holes excluded), sorted by address.
  virtual const std::vector<MemoryRange>& ram() const = 0;
  // Segments that map part of RAM a second time through the kernel image
  // mapping (ELF vmcores only); writers of ELF output repeat them.
  virtual std::vector<MemoryRange> kernel_image() const { return {}; }
  // Whether the dump stores this pfn (false for pages it excluded or never
  // wrote). Cheap: answered from the format's index, no page is read.
  virtual bool has_page(Pfn pfn) const {
    (void)pfn;
    return true;
  }
  // Reads one page into out (kPageSize bytes). Errors are I/O or corruption.
  virtual Result<PageState> read_page(Pfn pfn, std::span<std::byte> out) = 0;
  // Reads `count` consecutive pages from `first` into out (count pages of
  // bytes), one state per page. Formats that store runs of pages
  // contiguously override it to read a run in one call; the default reads
  // page by page.
  virtual Result<void> read_pages(Pfn first, size_t count, std::span<std::byte> out, PageState* states) {
    for (size_t i = 0; i < count; ++i) {
      ASSIGN_OR_RETURN(states[i], read_page(first + i, out.subspan(i * kPageSize, kPageSize)));
    }
    return Ok();
  }
};

// Information derived from the notes that every reader shares.
struct DumpIdentity {
  std::vector<ElfNote> notes;
  std::optional<Vmcoreinfo> vmcoreinfo;
  std::vector<Prstatus> cpus;
};
Result<DumpIdentity> identify(std::span<const std::byte> notes);

// Probes the format by signature and opens it (the format table lives in
// dump-reader.cc). The reader keeps a reference to src.
Result<std::unique_ptr<DumpReader>> open_dump(ByteSource& src);

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// Reader for ELF64 ET_CORE vmcores (/proc/vmcore, makedumpfile -E, salvage
// -E). Headers are parsed with libelf; page data is read through the
// ByteSource, so /proc/vmcore can be read through mmap windows.
#pragma once

#include "formats/dump-reader.h"

namespace salvage {

struct ElfSegment {
  PhysAddr paddr;
  VirtAddr vaddr;
  FileOffset offset;
  u64 filesz = 0;
  u64 memsz = 0;
};

struct ElfVmcoreLayout {
  std::vector<ElfSegment> loads;  // PT_LOADs in program-header order
  FileOffset note_offset;
  u64 note_size = 0;
  u32 e_flags = 0;
};

// Parses the ELF header and program headers. Checks every PT_LOAD lies within
// the file and says which one does not.
Result<ElfVmcoreLayout> parse_elf_vmcore_layout(ByteSource& src);

class ElfVmcoreReader final : public DumpReader {
 public:
  static Result<std::unique_ptr<ElfVmcoreReader>> open(ByteSource& src);
  const DumpMetadata& metadata() const override { return meta_; }
  std::span<const std::byte> notes() const override { return notes_; }
  Pfn max_pfn() const override { return max_pfn_; }
  const std::vector<MemoryRange>& ram() const override { return ram_; }
  Result<PageState> read_page(Pfn pfn, std::span<std::byte> out) override;
  Result<void> read_pages(Pfn first, size_t count, std::span<std::byte> out, PageState* states) override;
  std::vector<MemoryRange> kernel_image() const override { return image_; }
  const ElfVmcoreLayout& layout() const { return layout_; }

 private:
  ElfVmcoreReader(ByteSource& src) : src_(src) {}
  ByteSource& src_;
  ElfVmcoreLayout layout_;
  std::vector<std::byte> notes_;
  std::vector<MemoryRange> ram_;
  std::vector<MemoryRange> image_;
  std::vector<size_t> by_paddr_;  // indices into layout_.loads sorted by paddr
  Pfn max_pfn_;
  DumpMetadata meta_;
};

}  // namespace salvage

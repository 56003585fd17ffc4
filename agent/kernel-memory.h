// SPDX-License-Identifier: GPL-2.0-or-later
// Reads the crashed kernel's memory by virtual address, from any DumpReader.
// x86_64 only: the kernel image mapping is resolved with phys_base, anything
// else (direct map, vmemmap, vmalloc) by walking the kernel's own page tables
// from init_top_pgt with 4- or 5-level paging as VMCOREINFO says. That works
// whatever KASLR did to page_offset_base and vmemmap_base, which VMCOREINFO
// does not export on 6.1.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "formats/dump-reader.h"

namespace salvage {

class KernelMemory {
 public:
  static Result<KernelMemory> create(DumpReader& dump, const Vmcoreinfo& vi);

  Result<PhysAddr> translate(VirtAddr va);
  Result<void> read_phys(PhysAddr pa, std::span<std::byte> out);
  Result<void> read_virt(VirtAddr va, std::span<std::byte> out);
  Result<u64> read_u64(VirtAddr va);
  Result<u32> read_u32(VirtAddr va);

  u64 phys_base() const { return phys_base_; }
  int levels() const { return levels_; }
  DumpReader& dump() { return *dump_; }

 private:
  KernelMemory() = default;
  Result<const std::byte*> page(Pfn pfn);  // cached page contents

  DumpReader* dump_ = nullptr;
  u64 phys_base_ = 0;
  u64 top_pgt_pa_ = 0;
  u64 image_size_ = 0;
  u64 pte_mask_ = 0;
  int levels_ = 4;

  static constexpr size_t kCacheSlots = 64;
  struct Slot {
    u64 pfn = ~0ULL;
    std::vector<std::byte> data;
  };
  std::vector<Slot> cache_;
  // Last translation (virtual page -> physical page), hit on sequential reads.
  u64 tlb_va_ = ~0ULL, tlb_pa_ = 0, tlb_size_ = 0;
};

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// Where the crashed kernel keeps its struct page array (mem_map), found the
// way makedumpfile 1.7.2 finds it for SPARSEMEM / SPARSEMEM_EXTREME
// (makedumpfile.c get_mm_sparsemem, get_mem_section, validate_mem_section,
// section_mem_map_addr, sparse_decode_mem_map). x86_64 6.1 kernels are
// SPARSEMEM_VMEMMAP + SPARSEMEM_EXTREME, so every present section yields one
// virtual address in the vmemmap area.
//
// Memory is read through a VirtReader callback so that the decoding can be
// tested against synthetic memory; filter_pages() passes KernelMemory.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "formats/result.h"
#include "formats/types.h"
#include "formats/vmcoreinfo.h"

namespace salvage {

using VirtReader = std::function<Result<void>(VirtAddr, std::span<std::byte>)>;

// The VMCOREINFO values the sparse memory model needs.
struct SparseKeys {
  u64 mem_section = 0;        // SYMBOL(mem_section)
  u64 mem_section_length = 0; // LENGTH(mem_section), 0 if absent
  u64 mem_section_size = 0;   // SIZE(mem_section)
  u64 section_mem_map_off = 0;// OFFSET(mem_section.section_mem_map)
  u64 page_size = 0;          // SIZE(page) (sizeof struct page)
  unsigned section_size_bits = 27;  // NUMBER(SECTION_SIZE_BITS), x86_64 default 27
  unsigned max_physmem_bits = 46;   // NUMBER(MAX_PHYSMEM_BITS), default 46 (52 with 5-level)
  bool five_level = false;

  u64 pages_per_section() const { return 1ULL << (section_size_bits - kPageShift); }
  // makedumpfile is_sparsemem_extreme(): LENGTH(mem_section) equals the
  // number of roots of the extreme layout, or is absent.
  bool extreme() const;
  u64 sections_per_root() const { return extreme() ? kPageSize / mem_section_size : 1; }
};

// Reads SparseKeys; the error names the first missing key.
Result<SparseKeys> sparse_keys(const Vmcoreinfo& vi);

// One section's slice of mem_map. mem_map is the virtual address of the
// struct page of pfn_start; 0 = no mem_map (hole or hot-removed section).
struct SectionMemMap {
  Pfn pfn_start;
  Pfn pfn_end;  // exclusive, capped at max_mapnr
  u64 mem_map = 0;
};

// Low bits of section_mem_map that are flags, not address: makedumpfile 1.7.2
// masks with ~(SECTION_MAP_LAST_BIT - 1), SECTION_MAP_LAST_BIT = 1 << 5.
inline constexpr u64 kSectionMapMask = ~((1ULL << 5) - 1);
inline constexpr u64 kSectionMarkedPresent = 1;

// Decodes every section below max_mapnr. Follows makedumpfile's order: try
// SYMBOL(mem_section) as the root array itself, and if no section validates
// (SPARSEMEM_EXTREME with mem_section being a pointer, the -x vmlinux case)
// read the pointer stored there and try again. Sections whose mem_section
// entry cannot be read get mem_map 0 and a message in degradations.
Result<std::vector<SectionMemMap>> read_mem_sections(const VirtReader& read, const SparseKeys& keys,
                                                     Pfn max_mapnr, std::vector<std::string>& degradations);

// makedumpfile is_kvaddr() is addr >= PAGE_OFFSET; salvage does not derive
// PAGE_OFFSET, so it uses the start of the kernel half of the address space.
bool is_kernel_vaddr(u64 addr, bool five_level);

}  // namespace salvage

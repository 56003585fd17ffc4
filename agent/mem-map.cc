// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/hex.h"
#include "agent/mem-map.h"

#include <cinttypes>
#include <cstdio>

#include "formats/endian.h"

namespace salvage {

namespace {


// Result of one validate_mem_section() pass (makedumpfile 1.7.2).
enum class Validation { kOk, kNoneValid, kBadMemMap, kUnreadableRoot };

Validation validate(const VirtReader& read, const SparseKeys& k, u64 root_addr, u64 num_section,
                    std::vector<SectionMemMap>& out, std::vector<std::string>& notes) {
  const u64 per_root = k.sections_per_root();
  const u64 nr_roots = div_round_up(num_section, per_root);
  const bool extreme = k.extreme();
  // makedumpfile reads the whole root array first and gives up if it cannot.
  std::vector<std::byte> roots(extreme ? 8 * nr_roots : k.mem_section_size * nr_roots);
  if (!read(VirtAddr(root_addr), roots).ok()) return Validation::kUnreadableRoot;

  out.clear();
  notes.clear();
  bool any = false;
  std::vector<std::byte> ms(k.mem_section_size);
  for (u64 nr = 0; nr < num_section; ++nr) {
    SectionMemMap s{Pfn(nr * k.pages_per_section()), Pfn((nr + 1) * k.pages_per_section()), 0};
    u64 addr;
    if (extreme) {
      u64 root = load_le<u64>(roots.data() + 8 * (nr / per_root));
      addr = root ? root + (nr % per_root) * k.mem_section_size : 0;
    } else {
      addr = root_addr + nr * k.mem_section_size;
    }
    // section_mem_map_addr(): a non-kernel address or an unreadable entry
    // counts as "not present".
    if (addr && is_kernel_vaddr(addr, k.five_level)) {
      if (read(VirtAddr(addr), ms).ok()) {
        u64 map = load_le<u64>(ms.data() + k.section_mem_map_off);
        if (map & kSectionMarkedPresent) {
          // sparse_decode_mem_map(): the kernel stores mem_map minus the
          // section's first pfn (in struct pages), so add it back.
          u64 mem_map = (map & kSectionMapMask) + nr * k.pages_per_section() * k.page_size;
          if (!is_kernel_vaddr(mem_map, k.five_level)) return Validation::kBadMemMap;
          s.mem_map = mem_map;
          any = true;
        }
      } else {
        notes.push_back("mem_section[" + std::to_string(nr) + "] at " + hex(addr) +
                        " is unreadable; its pages are kept unfiltered");
      }
    }
    out.push_back(s);
  }
  return any ? Validation::kOk : Validation::kNoneValid;
}

}  // namespace

bool SparseKeys::extreme() const {
  if (mem_section_length == 0) return true;
  u64 nr_mem_sections = 1ULL << (max_physmem_bits - section_size_bits);
  return mem_section_length == div_round_up(nr_mem_sections, kPageSize / mem_section_size);
}

bool is_kernel_vaddr(u64 addr, bool five_level) {
  return addr >= (five_level ? 0xff00000000000000ULL : 0xffff800000000000ULL);
}

Result<SparseKeys> sparse_keys(const Vmcoreinfo& vi) {
  SparseKeys k;
  ASSIGN_OR_RETURN(k.mem_section, vi.symbol("mem_section"));
  ASSIGN_OR_RETURN(k.mem_section_size, vi.size("mem_section"));
  ASSIGN_OR_RETURN(k.section_mem_map_off, vi.offset("mem_section.section_mem_map"));
  ASSIGN_OR_RETURN(k.page_size, vi.size("page"));
  if (auto l = vi.length("mem_section"); l.ok()) k.mem_section_length = *l;
  auto l5 = vi.number("pgtable_l5_enabled");
  k.five_level = l5.ok() && *l5 == 1;
  // arch/x86_64.c defaults, overridden by VMCOREINFO (calibrate_machdep_info).
  k.max_physmem_bits = k.five_level ? 52 : 46;
  if (auto b = vi.number("MAX_PHYSMEM_BITS"); b.ok() && *b > 0) k.max_physmem_bits = static_cast<unsigned>(*b);
  if (auto b = vi.number("SECTION_SIZE_BITS"); b.ok() && *b > 0) k.section_size_bits = static_cast<unsigned>(*b);
  if (k.mem_section_size == 0 || k.mem_section_size > kPageSize)
    return make_error("SIZE(mem_section)=" + std::to_string(k.mem_section_size) + " is not in 1.." +
                      std::to_string(kPageSize));
  if (k.page_size == 0 || k.page_size > 1024)
    return make_error("SIZE(page)=" + std::to_string(k.page_size) + " is implausible");
  if (k.section_mem_map_off + 8 > k.mem_section_size)
    return make_error("OFFSET(mem_section.section_mem_map)=" + std::to_string(k.section_mem_map_off) +
                      " lies outside SIZE(mem_section)");
  if (k.section_size_bits <= kPageShift || k.section_size_bits >= k.max_physmem_bits || k.max_physmem_bits > 57)
    return make_error("NUMBER(SECTION_SIZE_BITS)=" + std::to_string(k.section_size_bits) +
                      " and NUMBER(MAX_PHYSMEM_BITS)=" + std::to_string(k.max_physmem_bits) + " are inconsistent");
  return k;
}

Result<std::vector<SectionMemMap>> read_mem_sections(const VirtReader& read, const SparseKeys& keys,
                                                     Pfn max_mapnr, std::vector<std::string>& degradations) {
  const u64 num_section = div_round_up(max_mapnr.value, keys.pages_per_section());
  std::vector<SectionMemMap> out;
  std::vector<std::string> notes;
  Validation v = validate(read, keys, keys.mem_section, num_section, out, notes);
  if (v != Validation::kOk && keys.extreme()) {
    // SPARSEMEM_EXTREME v2 (Linux 4.15+, commit 83e3c48729d9): the symbol is
    // a pointer to the root array. VMCOREINFO exports the array itself, but
    // makedumpfile keeps this fallback and so do we.
    std::byte p[8];
    if (read(VirtAddr(keys.mem_section), p).ok())
      v = validate(read, keys, load_le<u64>(p), num_section, out, notes);
  }
  if (v != Validation::kOk)
    return make_error("no valid mem_section at SYMBOL(mem_section)=" + hex(keys.mem_section) +
                      (v == Validation::kUnreadableRoot ? " (root array unreadable)"
                       : v == Validation::kBadMemMap   ? " (a section_mem_map decodes to a non-kernel address)"
                                                       : " (no section marked present)"));
  for (auto& s : out)
    if (s.pfn_end > max_mapnr) s.pfn_end = max_mapnr;
  degradations.insert(degradations.end(), notes.begin(), notes.end());
  return out;
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/hex.h"
#include "agent/kernel-memory.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "formats/endian.h"

namespace salvage {

namespace {
constexpr u64 kStartKernelMap = 0xffffffff80000000ULL;  // arch/x86/include/asm/page_64_types.h
constexpr u64 kPresent = 1, kPageSizeBit = 1ULL << 7;
}  // namespace

Result<KernelMemory> KernelMemory::create(DumpReader& dump, const Vmcoreinfo& vi) {
  KernelMemory km;
  km.dump_ = &dump;
  auto pb = vi.number("phys_base");
  if (pb.ok()) {
    km.phys_base_ = static_cast<u64>(*pb);
  } else {
    // Older kernels: derive from the kernel-image PT_LOAD, as crash and
    // makedumpfile do (p_paddr - (p_vaddr - __START_KERNEL_map)).
    bool found = false;
    for (const auto& r : dump.kernel_image())
      if (r.vaddr.value >= kStartKernelMap) {
        km.phys_base_ = r.start.value - (r.vaddr.value - kStartKernelMap);
        found = true;
      }
    if (!found) return std::move(pb).error().with_context("cannot locate the kernel image");
  }
  auto top = vi.symbol("init_top_pgt");
  if (!top.ok()) {
    // Pre-4.13 kernels export swapper_pg_dir instead; name both failures so a
    // garbage init_top_pgt value is not hidden behind the fallback's error.
    auto old_top = vi.symbol("swapper_pg_dir");
    if (!old_top.ok())
      return make_error("cannot walk page tables: " + top.error().message + "; " + old_top.error().message);
    top = old_top;
  }
  if (*top < kStartKernelMap) return make_error("SYMBOL(init_top_pgt)=" + hex(*top) + " is not a kernel image address");
  km.top_pgt_pa_ = *top - kStartKernelMap + km.phys_base_;
  auto l5 = vi.number("pgtable_l5_enabled");
  km.levels_ = (l5.ok() && *l5 == 1) ? 5 : 4;
  auto isz = vi.number("KERNEL_IMAGE_SIZE");
  km.image_size_ = isz.ok() && *isz > 0 ? static_cast<u64>(*isz) : (1ULL << 30);
  u64 sme = 0;
  if (auto s = vi.number("sme_mask"); s.ok()) sme = static_cast<u64>(*s);
  km.pte_mask_ = 0x000ffffffffff000ULL & ~sme;
  km.cache_.resize(kCacheSlots);
  return km;
}

Result<const std::byte*> KernelMemory::page(Pfn pfn) {
  Slot& s = cache_[pfn.value % kCacheSlots];
  if (s.pfn == pfn.value) return static_cast<const std::byte*>(s.data.data());
  s.data.resize(kPageSize);
  s.pfn = ~0ULL;
  ASSIGN_OR_RETURN(PageState st, dump_->read_page(pfn, s.data));
  if (st == PageState::kExcluded || st == PageState::kHole || st == PageState::kMissing)
    return make_error("physical page " + hex(pfn.value << kPageShift) + " is " + page_state_name(st) +
                      " in the dump");
  s.pfn = pfn.value;
  return static_cast<const std::byte*>(s.data.data());
}

Result<PhysAddr> KernelMemory::translate(VirtAddr va) {
  const u64 v = va.value;
  if (tlb_size_ && v - tlb_va_ < tlb_size_) return PhysAddr(tlb_pa_ + (v - tlb_va_));
  if (v >= kStartKernelMap && v - kStartKernelMap < image_size_) return PhysAddr(v - kStartKernelMap + phys_base_);
  u64 table = top_pgt_pa_;
  int shift = levels_ == 5 ? 48 : 39;
  for (int level = levels_; level >= 1; --level, shift -= 9) {
    u64 index = (v >> shift) & 511;
    u64 entry_pa = table + index * 8;
    ASSIGN_OR_RETURN(const std::byte* pg, page(Pfn(entry_pa >> kPageShift))
                                              .context("page table walk for " + hex(v) + " at level " + std::to_string(level)));
    u64 entry = load_le<u64>(pg + (entry_pa & (kPageSize - 1)));
    if (!(entry & kPresent))
      return make_error("virtual address " + hex(v) + " is not mapped (level " + std::to_string(level) +
                        " entry " + hex(entry) + " at physical " + hex(entry_pa) + ")");
    if (level == 1 || ((level == 2 || level == 3) && (entry & kPageSizeBit))) {
      u64 size = 1ULL << shift;
      u64 base = entry & pte_mask_ & ~(size - 1);
      tlb_va_ = v & ~(size - 1);
      tlb_pa_ = base;
      tlb_size_ = size;
      return PhysAddr(base + (v & (size - 1)));
    }
    table = entry & pte_mask_;
  }
  return make_error("page table walk for " + hex(v) + " fell through");
}

Result<void> KernelMemory::read_phys(PhysAddr pa, std::span<std::byte> out) {
  u64 a = pa.value;
  size_t done = 0;
  while (done < out.size()) {
    u64 in_page = a & (kPageSize - 1);
    size_t n = std::min<size_t>(out.size() - done, kPageSize - in_page);
    ASSIGN_OR_RETURN(const std::byte* pg, page(Pfn(a >> kPageShift)));
    std::memcpy(out.data() + done, pg + in_page, n);
    done += n;
    a += n;
  }
  return Ok();
}

Result<void> KernelMemory::read_virt(VirtAddr va, std::span<std::byte> out) {
  u64 v = va.value;
  size_t done = 0;
  while (done < out.size()) {
    size_t n = std::min<size_t>(out.size() - done, kPageSize - (v & (kPageSize - 1)));
    ASSIGN_OR_RETURN(PhysAddr pa, translate(VirtAddr(v)));
    TRY_CTX(read_phys(pa, out.subspan(done, n)), "reading virtual " + hex(v));
    done += n;
    v += n;
  }
  return Ok();
}

Result<u64> KernelMemory::read_u64(VirtAddr va) {
  std::byte b[8];
  TRY(read_virt(va, b));
  return load_le<u64>(b);
}

Result<u32> KernelMemory::read_u32(VirtAddr va) {
  std::byte b[4];
  TRY(read_virt(va, b));
  return load_le<u32>(b);
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// ELF vmcore reader. /proc/vmcore carries one PT_NOTE (phdr 0) and a PT_LOAD
// per RAM range plus one for the kernel image, which repeats part of RAM
// (fs/proc/vmcore.c, kernel/crash_core.c crash_prepare_elf64_headers). We
// resolve overlaps the way crash does: the first PT_LOAD in header order that
// covers an address supplies it.
#include "formats/hex.h"
#include "formats/elf-vmcore.h"

#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "formats/endian.h"

namespace salvage {

namespace {


constexpr u64 kKernelTextMapBase = 0xffffffff80000000ULL;  // __START_KERNEL_map
constexpr u64 kMaxHeaderBytes = 64ULL << 20;               // sanity bound on phdr table

struct ElfHandle {
  Elf* e = nullptr;
  ~ElfHandle() {
    if (e) elf_end(e);
  }
};

}  // namespace

Result<ElfVmcoreLayout> parse_elf_vmcore_layout(ByteSource& src) {
  ASSIGN_OR_RETURN(auto ident, read_bytes(src, FileOffset(0), 64).context("reading the 64-byte ELF header"));
  const unsigned char* id = reinterpret_cast<const unsigned char*>(ident.data());
  if (std::memcmp(id, ELFMAG, SELFMAG) != 0) return make_error("not an ELF file (e_ident at 0x0)");
  if (id[EI_CLASS] != ELFCLASS64) return make_error("e_ident[EI_CLASS] at 0x4 is not ELFCLASS64");
  if (id[EI_DATA] != ELFDATA2LSB) return make_error("e_ident[EI_DATA] at 0x5 is not little-endian");
  u16 e_type = load_le<u16>(id + 16);
  if (e_type != ET_CORE) return make_error("e_type at 0x10 is " + std::to_string(e_type) + ", not ET_CORE");
  u64 phoff = load_le<u64>(id + 32);
  u64 shoff = load_le<u64>(id + 40);
  u16 phentsize = load_le<u16>(id + 54);
  u16 phnum = load_le<u16>(id + 56);
  if (phentsize != sizeof(Elf64_Phdr))
    return make_error("e_phentsize at 0x36 is " + std::to_string(phentsize) + ", expected 56");
  // With PN_XNUM the count lives in section header 0 (sh_info).
  u64 extent = std::max<u64>(64, phoff);
  u64 real_phnum = phnum;
  if (phnum == PN_XNUM) {
    // makedumpfile writes it right after the phdrs; far away means garbage,
    // and reading the headers up to it could mean reading the whole file.
    if (shoff > kMaxHeaderBytes)
      return make_error("e_phnum at 0x38 is PN_XNUM but e_shoff at 0x28 is " + hex(shoff) +
                        ", beyond any plausible header");
    ASSIGN_OR_RETURN(auto sh0, read_bytes(src, FileOffset(shoff), sizeof(Elf64_Shdr)).context("reading section header 0 for PN_XNUM at e_shoff=" + hex(shoff)));
    real_phnum = load_le<u32>(sh0.data() + 44);
    if (real_phnum == 0)
      return make_error("e_phnum at 0x38 is PN_XNUM but section header 0 sh_info at " + hex(shoff + 44) +
                        " is 0: no program headers");
    extent = std::max(extent, shoff + sizeof(Elf64_Shdr));
  }
  if (real_phnum == 0) return make_error("e_phnum at 0x38 is 0: no program headers");
  u64 ph_end = phoff + real_phnum * sizeof(Elf64_Phdr);
  if (ph_end > kMaxHeaderBytes || ph_end < phoff)
    return make_error("program header table at e_phoff=" + hex(phoff) + " with " + std::to_string(real_phnum) +
                      " entries is implausibly large");
  extent = std::max(extent, ph_end);
  ASSIGN_OR_RETURN(auto hdr, read_bytes(src, FileOffset(0), extent)
                                .context("reading " + std::to_string(real_phnum) + " program headers at e_phoff=" +
                                         hex(phoff)));

  elf_version(EV_CURRENT);
  ElfHandle h;
  h.e = elf_memory(reinterpret_cast<char*>(hdr.data()), hdr.size());
  if (!h.e) return make_error(std::string("libelf: ") + elf_errmsg(-1));
  size_t n = 0;
  if (elf_getphdrnum(h.e, &n) != 0) return make_error(std::string("libelf elf_getphdrnum: ") + elf_errmsg(-1));

  ElfVmcoreLayout layout;
  GElf_Ehdr ehdr;
  if (gelf_getehdr(h.e, &ehdr)) layout.e_flags = ehdr.e_flags;
  bool have_note = false;
  for (size_t i = 0; i < n; ++i) {
    GElf_Phdr ph;
    if (!gelf_getphdr(h.e, static_cast<int>(i), &ph))
      return make_error("libelf gelf_getphdr(" + std::to_string(i) + "): " + elf_errmsg(-1));
    std::string where = "program header " + std::to_string(i) + " at " + hex(phoff + i * sizeof(Elf64_Phdr));
    if (ph.p_type == PT_NOTE) {
      if (have_note) continue;  // /proc/vmcore merges notes into one; extra ones are ignored
      if (ph.p_offset > src.size() || ph.p_filesz > src.size() - ph.p_offset)
        return make_error(where + ": PT_NOTE p_offset=" + hex(ph.p_offset) + " p_filesz=" + hex(ph.p_filesz) +
                          " runs past the end of the file (size " + hex(src.size()) + ")");
      layout.note_offset = FileOffset(ph.p_offset);
      layout.note_size = ph.p_filesz;
      have_note = true;
    } else if (ph.p_type == PT_LOAD) {
      if (ph.p_filesz > ph.p_memsz)
        return make_error(where + ": PT_LOAD p_filesz=" + hex(ph.p_filesz) + " exceeds p_memsz=" + hex(ph.p_memsz));
      if (ph.p_filesz && (ph.p_offset > src.size() || ph.p_filesz > src.size() - ph.p_offset))
        return make_error(where + ": PT_LOAD p_offset=" + hex(ph.p_offset) + " p_filesz=" + hex(ph.p_filesz) +
                          " runs past the end of the file (size " + hex(src.size()) + ")");
      if (ph.p_paddr + ph.p_memsz < ph.p_paddr)
        return make_error(where + ": PT_LOAD p_paddr=" + hex(ph.p_paddr) + " + p_memsz overflows");
      layout.loads.push_back({PhysAddr(ph.p_paddr), VirtAddr(ph.p_vaddr), FileOffset(ph.p_offset), ph.p_filesz,
                              ph.p_memsz});
    }
  }
  if (!have_note) return make_error("no PT_NOTE program header: not a vmcore");
  if (layout.loads.empty()) return make_error("no PT_LOAD program header: the vmcore holds no memory");
  return layout;
}

Result<std::unique_ptr<ElfVmcoreReader>> ElfVmcoreReader::open(ByteSource& src) {
  std::unique_ptr<ElfVmcoreReader> r(new ElfVmcoreReader(src));
  ASSIGN_OR_RETURN(r->layout_, parse_elf_vmcore_layout(src));
  ASSIGN_OR_RETURN(r->notes_, read_bytes(src, r->layout_.note_offset, r->layout_.note_size).context("reading PT_NOTE"));
  r->meta_.format = "elf";
  r->meta_.compression = "none";
  r->meta_.incomplete = (r->layout_.e_flags & 1) != 0;  // DUMP_ELF_INCOMPLETE (makedumpfile)

  // Order segments by physical address; an overlap other than the kernel
  // image's second mapping of RAM is reported, and the first segment wins.
  auto& loads = r->layout_.loads;
  std::vector<size_t> idx(loads.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(),
                   [&](size_t a, size_t b) { return loads[a].paddr < loads[b].paddr; });
  for (size_t a = 0; a < loads.size(); ++a)
    for (size_t b = a + 1; b < loads.size(); ++b) {
      const auto& x = loads[a];
      const auto& y = loads[b];
      bool overlap = x.paddr.value < y.paddr.value + y.memsz && y.paddr.value < x.paddr.value + x.memsz;
      bool image = x.vaddr.value >= kKernelTextMapBase || y.vaddr.value >= kKernelTextMapBase;
      if (overlap && !image)
        r->meta_.notes_for_user.push_back("PT_LOAD " + std::to_string(a) + " and " + std::to_string(b) +
                                          " overlap at physical " + hex(std::max(x.paddr.value, y.paddr.value)) +
                                          "; the first one is used");
    }
  r->by_paddr_ = idx;
  // RAM ranges: the direct-map PT_LOADs, merged where they continue each
  // other in both physical and virtual address. The kernel image segment
  // repeats part of RAM through the __START_KERNEL_map mapping; it is kept
  // apart (kernel_image()) so writers can reproduce it.
  u64 max_end = 0;
  for (size_t i : idx) {
    const auto& s = loads[i];
    if (s.memsz == 0) continue;
    u64 start = s.paddr.value, end = s.paddr.value + s.memsz;
    max_end = std::max(max_end, end);
    if (s.vaddr.value >= kKernelTextMapBase) {
      r->image_.push_back({s.paddr, s.memsz, s.vaddr});
      continue;
    }
    if (!r->ram_.empty()) {
      auto& back = r->ram_.back();
      u64 bend = back.start.value + back.size;
      if (start == bend && s.vaddr.value == back.vaddr.value + back.size) {
        back.size += s.memsz;
        continue;
      }
    }
    r->ram_.push_back({PhysAddr(start), end - start, s.vaddr});
  }
  // A kernel image segment outside every RAM range is RAM of its own.
  for (const auto& im : r->image_) {
    bool covered = false;
    for (const auto& m : r->ram_)
      if (m.start <= im.start && im.start.value + im.size <= m.start.value + m.size) covered = true;
    if (!covered) r->ram_.push_back(im);
  }
  std::sort(r->ram_.begin(), r->ram_.end(), [](const MemoryRange& a, const MemoryRange& b) { return a.start < b.start; });
  // Overlapping direct-map PT_LOADs (corrupt headers, reported above) or an
  // image segment straddling a RAM edge would list a physical page twice;
  // ram() promises disjoint ranges, so clip each range to start where the
  // previous one ends (the earlier range wins, as in read_page()).
  std::vector<MemoryRange> disjoint;
  for (auto m : r->ram_) {
    if (!disjoint.empty()) {
      u64 prev_end = disjoint.back().start.value + disjoint.back().size;
      if (m.start.value + m.size <= prev_end) continue;
      if (m.start.value < prev_end) {
        u64 cut = prev_end - m.start.value;
        m.start = PhysAddr(prev_end);
        m.size -= cut;
        if (m.vaddr.value) m.vaddr = VirtAddr(m.vaddr.value + cut);
      }
    }
    disjoint.push_back(m);
  }
  r->ram_ = std::move(disjoint);
  r->max_pfn_ = Pfn(div_round_up(max_end, kPageSize));
  return r;
}

Result<void> ElfVmcoreReader::read_pages(Pfn first, size_t count, std::span<std::byte> out, PageState* states) {
  // A run inside one segment's file data is contiguous in the file: one
  // read instead of one per page (a 64 GiB vmcore is 16 Mi pages).
  const u64 pa = first.value << kPageShift, len = count * kPageSize;
  for (const auto& s : layout_.loads) {
    if (s.paddr.value <= pa && pa + len <= s.paddr.value + s.filesz) {
      // First segment in header order covering pa wins, as in read_page.
      bool shadowed = false;
      for (const auto& t : layout_.loads) {
        if (&t == &s) break;
        if (t.paddr.value < pa + len && pa < t.paddr.value + t.memsz) shadowed = true;
      }
      if (shadowed) break;
      TRY_CTX(src_.read_at(s.offset + (pa - s.paddr.value), out.first(len)),
              "reading pfns " + hex(first.value) + "+" + std::to_string(count) + " at file offset " +
                  hex(s.offset.value + (pa - s.paddr.value)));
      for (size_t i = 0; i < count; ++i) states[i] = PageState::kData;
      return Ok();
    }
  }
  return DumpReader::read_pages(first, count, out, states);
}

Result<PageState> ElfVmcoreReader::read_page(Pfn pfn, std::span<std::byte> out) {
  const u64 pa = pfn.value << kPageShift;
  const u64 pend = pa + kPageSize;
  const auto& loads = layout_.loads;
  // Fast path: the whole page inside one segment's file data (first in phdr order).
  const ElfSegment* whole = nullptr;
  bool any = false;
  for (const auto& s : loads) {
    if (s.paddr.value <= pa && pend <= s.paddr.value + s.memsz) {
      whole = &s;
      break;
    }
  }
  if (whole) {
    u64 rel = pa - whole->paddr.value;
    if (rel + kPageSize <= whole->filesz) {
      TRY_CTX(src_.read_at(whole->offset + rel, out.first(kPageSize)),
              "reading pfn " + hex(pfn.value) + " from PT_LOAD at file offset " + hex(whole->offset.value + rel));
      return PageState::kData;
    }
  }
  // Slow path: page straddles segment edges or p_filesz; assemble it.
  std::memset(out.data(), 0, kPageSize);
  bool data = false;
  for (size_t i : by_paddr_) {
    const auto& s = loads[i];
    u64 s0 = std::max(pa, s.paddr.value), s1 = std::min(pend, s.paddr.value + s.memsz);
    if (s0 >= s1) continue;
    any = true;
    u64 f1 = std::min(s1, s.paddr.value + s.filesz);
    if (s0 < f1) {
      TRY_CTX(src_.read_at(s.offset + (s0 - s.paddr.value), out.subspan(s0 - pa, f1 - s0)),
              "reading pfn " + hex(pfn.value) + " from file offset " + hex(s.offset.value + (s0 - s.paddr.value)));
      data = true;
    }
  }
  if (!any) return PageState::kHole;
  return data ? PageState::kData : PageState::kZero;
}

}  // namespace salvage

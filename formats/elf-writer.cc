// SPDX-License-Identifier: GPL-2.0-or-later
// ELF64 ET_CORE writer, laid out like `makedumpfile -E` (makedumpfile 1.7.x,
// write_elf_header / write_elf_pages_cyclic) with what crash, gdb and drgn
// need (docs/formats/elf.md):
//
//   0                Elf64_Ehdr
//   64               Elf64_Phdr[phnum]: [0] PT_NOTE, then PT_LOADs
//   (64+56*phnum)    Elf64_Shdr[1] only with PN_XNUM (phnum >= 0xffff)
//   ...              notes, verbatim (PRSTATUS..., VMCOREINFO)
//   roundup 4096     page data, one 4 KiB slot per page of each PT_LOAD's
//                    file part, so p_offset == p_paddr (mod 4096) holds and
//                    the file stays mmap-friendly (makedumpfile does not
//                    align; readers do not care either way).
//
// Splitting: within each source range, a run of >= 256 excluded pages
// (makedumpfile PFN_EXCLUDED) ends a PT_LOAD; the run counts in p_memsz but
// not p_filesz and the next PT_LOAD starts at the next kept page with p_vaddr
// advanced alike. Shorter runs stay in p_filesz with their real contents, as
// makedumpfile copies them: pages_to_write() asks the pipeline for them.
//
// Kernel image mapping (info.extra_loads, p_vaddr in __START_KERNEL_map):
// makedumpfile writes its data a second time. We split it the same way but
// point its PT_LOADs at the bytes already written for the direct-map PT_LOAD
// of the same physical pages (ELF allows segments to share file bytes), so
// the image costs program headers, not megabytes. Only a part that RAM does
// not cover gets its own file space. The image PT_LOADs come first, as in
// /proc/vmcore; both copies hold identical bytes, so lookup order is moot.
#include <elf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "formats/hex.h"
#include "formats/endian.h"
#include "formats/format-table.h"

namespace salvage {

namespace {

constexpr u64 kPfnExcluded = 256;  // makedumpfile.h PFN_EXCLUDED
constexpr u32 kDumpElfIncomplete = 0x1;  // makedumpfile.h DUMP_ELF_INCOMPLETE (e_flags)


// One output PT_LOAD.
struct Load {
  u64 paddr = 0, vaddr = 0, filesz = 0, memsz = 0, offset = 0;
  u64 first_pfn = 0, data_pages = 0;  // pages of file data starting at first_pfn
};

// File space holding consecutive pages [first_pfn, first_pfn + pages).
struct Slot {
  u64 first_pfn = 0, pages = 0, file_off = 0;
  u64 next = 0;  // next pfn to write (pages before it are written or zero-filled)
  u64 end() const { return first_pfn + pages; }
};

class ElfWriter final : public DumpWriter {
 public:
  explicit ElfWriter(Sink& sink) : sink_(sink) {}
  bool accepts(PageEncoding e) const override { return e == PageEncoding::kRaw; }
  bool drops_zero_pages() const override { return true; }
  Result<void> begin(const DumpHeaderInfo& info) override;
  Result<void> write_page(const PageRecord& page) override;
  Result<void> finish(bool complete) override;
  const PageBitmap* pages_to_write() const override { return &wanted_; }

 private:
  std::vector<Load> split(const MemoryRange& r, const PageBitmap& kept) const;
  Result<void> write_headers(u32 e_flags);
  Result<void> fill_zeros(Slot& s, u64 upto_pfn);

  Sink& sink_;
  std::vector<Load> loads_;      // program-header order (without PT_NOTE)
  std::vector<Slot> slots_;      // sorted by first_pfn
  std::vector<size_t> open_;     // slots that pfns have reached
  size_t next_slot_ = 0;
  std::vector<std::byte> head_;  // ehdr + phdrs (+ shdr) + notes
  std::vector<std::byte> zeros_;
  PageBitmap wanted_;  // every page inside some PT_LOAD's file data
  u64 total_size_ = 0, max_written_ = 0;
  u64 planned_ = 0, written_ = 0;  // kept pages: planned and written
  const PageBitmap* kept_ = nullptr;
  bool began_ = false, finished_ = false;
};

// makedumpfile's splitting of one source PT_LOAD, at page granularity.
std::vector<Load> ElfWriter::split(const MemoryRange& r, const PageBitmap& kept) const {
  std::vector<Load> out;
  const u64 start = r.start.value, end = r.start.value + r.size;
  if (r.size == 0) return out;
  const u64 pfn_start = start >> kPageShift, pfn_end = div_round_up(end, kPageSize);
  auto emit = [&](u64 first, u64 data_end, u64 mem_end) {
    Load l;
    l.paddr = std::max(start, first << kPageShift);
    l.memsz = std::min(mem_end << kPageShift, end) - l.paddr;
    l.filesz = data_end > first ? std::min(data_end << kPageShift, end) - l.paddr : 0;
    l.vaddr = r.vaddr.value ? r.vaddr.value + (l.paddr - start) : 0;
    l.first_pfn = first;
    l.data_pages = data_end > first ? data_end - first : 0;
    out.push_back(l);
  };
  u64 first = pfn_start, data_end = pfn_start, run = 0;
  for (u64 pfn = pfn_start; pfn < pfn_end; ++pfn) {
    if (!kept.test(Pfn(pfn))) {
      ++run;
      continue;
    }
    if (run >= kPfnExcluded) {
      emit(first, data_end, pfn);  // may have no data: a leading excluded run
      first = pfn;
    }
    data_end = pfn + 1;  // short excluded runs stay inside the file data
    run = 0;
  }
  emit(first, data_end, pfn_end);
  return out;
}

Result<void> ElfWriter::begin(const DumpHeaderInfo& info) {
  if (began_) return make_error("elf writer: begin() called twice");
  began_ = true;
  if (!info.kept) return make_error("elf writer: DumpHeaderInfo.kept is null");
  const PageBitmap& kept = *info.kept;
  planned_ = kept.count();

  std::vector<MemoryRange> ram = info.ram;
  std::sort(ram.begin(), ram.end(), [](const MemoryRange& a, const MemoryRange& b) { return a.start < b.start; });
  std::vector<Load> ram_loads, image_loads;
  for (const auto& r : ram)
    for (auto& l : split(r, kept)) ram_loads.push_back(l);
  for (const auto& r : info.extra_loads)
    for (auto& l : split(r, kept)) image_loads.push_back(l);

  const u64 nloads = ram_loads.size() + image_loads.size();
  const u64 phnum = 1 + nloads;
  const bool xnum = phnum >= PN_XNUM;
  const u64 note_off = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr) + (xnum ? sizeof(Elf64_Shdr) : 0);
  const u64 data_off = round_up(note_off + info.notes.size(), kPageSize);

  // File space for the direct-map loads, in pfn order so writes are sequential.
  u64 off = data_off;
  for (auto& l : ram_loads) {
    l.offset = off + (l.paddr & (kPageSize - 1));
    if (l.data_pages) {
      slots_.push_back({l.first_pfn, l.data_pages, off, l.first_pfn});
      off += l.data_pages * kPageSize;
    }
  }
  // Image loads share the direct-map bytes when one RAM slot holds all their
  // pages; otherwise they get their own slot.
  for (auto& l : image_loads) {
    l.offset = off + (l.paddr & (kPageSize - 1));  // for data-less loads: a valid, non-zero offset
    if (!l.data_pages) continue;
    const Slot* host = nullptr;
    for (const auto& s : slots_)
      if (s.first_pfn <= l.first_pfn && l.first_pfn + l.data_pages <= s.end()) host = &s;
    if (host) {
      l.offset = host->file_off + (l.first_pfn - host->first_pfn) * kPageSize + (l.paddr & (kPageSize - 1));
    } else {
      slots_.push_back({l.first_pfn, l.data_pages, off, l.first_pfn});
      off += l.data_pages * kPageSize;
    }
  }
  total_size_ = off;
  std::stable_sort(slots_.begin(), slots_.end(), [](const Slot& a, const Slot& b) { return a.first_pfn < b.first_pfn; });

  // Every kept page must land somewhere.
  {
    size_t si = 0;
    u64 covered_to = 0;  // slots merged so far cover up to this pfn (exclusive)
    const auto bytes = kept.bytes();
    for (u64 byte = 0; byte < bytes.size(); ++byte) {
      u8 b = static_cast<u8>(bytes[byte]);
      for (; b; b &= b - 1) {
        u64 pfn = byte * 8 + __builtin_ctz(b);
        while (si < slots_.size() && slots_[si].first_pfn <= pfn) covered_to = std::max(covered_to, slots_[si++].end());
        if (covered_to <= pfn) return make_error("elf writer: kept pfn " + hex(pfn) + " lies outside every RAM range");
      }
    }
  }

  // makedumpfile writes the real contents of excluded pages inside a
  // PT_LOAD's file data (runs shorter than PFN_EXCLUDED); ask for them too,
  // so no page in p_filesz reads back as zeros that were not zeros.
  wanted_ = PageBitmap(info.max_pfn);
  for (const auto& sl : slots_) wanted_.set_range(Pfn(sl.first_pfn), sl.pages, true);
  kept_ = &kept;  // planned_ counts kept pages; gap pages are extra

  loads_ = std::move(image_loads);
  loads_.insert(loads_.end(), ram_loads.begin(), ram_loads.end());
  head_.assign(note_off + info.notes.size(), std::byte{0});
  if (!info.notes.empty()) std::memcpy(head_.data() + note_off, info.notes.data(), info.notes.size());

  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = note_off;
  note.p_filesz = note.p_memsz = info.notes.size();
  note.p_align = 0;  // drgn/libelf would use 8-byte note alignment for 8
  std::memcpy(head_.data() + sizeof(Elf64_Ehdr), &note, sizeof note);
  for (size_t i = 0; i < loads_.size(); ++i) {
    const Load& l = loads_[i];
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_W | PF_X;  // as /proc/vmcore
    ph.p_offset = l.offset;
    ph.p_vaddr = l.vaddr;
    ph.p_paddr = l.paddr;
    ph.p_filesz = l.filesz;
    ph.p_memsz = l.memsz;
    ph.p_align = 0;  // crash: p_align 0 selects the kdump ELF path
    std::memcpy(head_.data() + sizeof(Elf64_Ehdr) + (1 + i) * sizeof(Elf64_Phdr), &ph, sizeof ph);
  }
  if (xnum) {
    Elf64_Shdr sh{};
    sh.sh_type = SHT_NULL;
    sh.sh_info = static_cast<u32>(phnum);  // PN_XNUM: real e_phnum lives here
    std::memcpy(head_.data() + sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr), &sh, sizeof sh);
  }
  if (phnum > 0xffffffffULL) return make_error("elf writer: " + std::to_string(phnum) + " program headers overflow sh_info");
  return write_headers(0).context("writing ELF headers");
}

Result<void> ElfWriter::write_headers(u32 e_flags) {
  const u64 phnum = 1 + loads_.size();
  const bool xnum = phnum >= PN_XNUM;
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
  eh.e_type = ET_CORE;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_flags = e_flags;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = xnum ? PN_XNUM : static_cast<u16>(phnum);
  if (xnum) {
    eh.e_shoff = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr);
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = 1;
    eh.e_shstrndx = SHN_UNDEF;
  }
  std::memcpy(head_.data(), &eh, sizeof eh);
  TRY(sink_.write_at(FileOffset(0), head_));
  max_written_ = std::max<u64>(max_written_, head_.size());
  return Ok();
}

Result<void> ElfWriter::fill_zeros(Slot& s, u64 upto_pfn) {
  while (s.next < upto_pfn) {
    u64 n = std::min<u64>(upto_pfn - s.next, kPfnExcluded);
    if (zeros_.size() < n * kPageSize) zeros_.assign(kPfnExcluded * kPageSize, std::byte{0});
    u64 off = s.file_off + (s.next - s.first_pfn) * kPageSize;
    TRY_CTX(sink_.write_at(FileOffset(off), std::span(zeros_).first(n * kPageSize)),
            "zero-filling excluded pages at " + hex(off));
    s.next += n;
    max_written_ = std::max(max_written_, off + n * kPageSize);
  }
  return Ok();
}

Result<void> ElfWriter::write_page(const PageRecord& page) {
  if (!began_ || finished_) return make_error("elf writer: write_page outside begin()/finish()");
  const u64 pfn = page.pfn.value;
  std::span<const std::byte> data = page.data;
  if (page.encoding != PageEncoding::kRaw)
    return make_error("elf writer: pfn " + hex(pfn) + " arrived encoded; ELF stores pages raw");
  if (data.empty() && page.zero) {
    if (zeros_.size() < kPageSize) zeros_.assign(kPfnExcluded * kPageSize, std::byte{0});
    data = std::span(zeros_).first(kPageSize);
  }
  if (data.size() != kPageSize)
    return make_error("elf writer: pfn " + hex(pfn) + " has " + std::to_string(data.size()) + " bytes, expected 4096");
  while (next_slot_ < slots_.size() && slots_[next_slot_].first_pfn <= pfn) open_.push_back(next_slot_++);
  bool placed = false;
  for (size_t k = 0; k < open_.size();) {
    Slot& s = slots_[open_[k]];
    if (pfn >= s.end()) {
      open_.erase(open_.begin() + static_cast<long>(k));  // pfns only ascend: this slot is done
      continue;
    }
    ++k;
    if (pfn < s.next) return make_error("elf writer: pfn " + hex(pfn) + " arrived twice or out of order");
    TRY(fill_zeros(s, pfn));
    u64 off = s.file_off + (pfn - s.first_pfn) * kPageSize;
    TRY_CTX(sink_.write_at(FileOffset(off), data), "writing pfn " + hex(pfn) + " at " + hex(off));
    s.next = pfn + 1;
    max_written_ = std::max(max_written_, off + kPageSize);
    placed = true;
  }
  if (!placed) return make_error("elf writer: pfn " + hex(pfn) + " is not in any PT_LOAD's file data");
  if (kept_->test(page.pfn)) ++written_;  // gap pages the source lacks are zero-filled
  return Ok();
}

Result<void> ElfWriter::finish(bool complete) {
  if (!began_) return make_error("elf writer: finish() before begin()");
  if (finished_) return make_error("elf writer: finish() called twice");
  finished_ = true;
  // A cut-short dump: extend the file to the size the program headers
  // describe, so readers see holes (zeros) rather than PT_LOADs past EOF.
  if (!complete && max_written_ < total_size_) {
    std::byte z{0};
    (void)sink_.write_at(FileOffset(total_size_ - 1), std::span(&z, 1));  // best effort: the disk may be full
  }
  TRY_CTX(write_headers(complete ? 0 : kDumpElfIncomplete), "rewriting ELF header");
  if (complete && written_ != planned_)
    return make_error("elf writer: " + std::to_string(written_) + " pages written but " + std::to_string(planned_) +
                      " were kept (gap pages are optional)");
  return Ok();
}

}  // namespace

std::unique_ptr<DumpWriter> make_elf_writer(Sink& sink) { return std::make_unique<ElfWriter>(sink); }

}  // namespace salvage

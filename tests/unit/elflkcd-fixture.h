// SPDX-License-Identifier: GPL-2.0-or-later
// Synthetic dump inputs shared by the ELF and LKCD writer tests: an in-memory
// Sink, a note section (PRSTATUS per CPU + VMCOREINFO), a memory map with a
// kernel-image mapping, and a page pattern that readers can check
// (tests/readers/tools/check-synthetic.py computes the same pattern).
#pragma once

#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "formats/dump-writer.h"
#include "formats/elf-notes.h"
#include "formats/endian.h"

namespace salvage::testing {

class MemorySink final : public Sink {
 public:
  Result<void> write_at(FileOffset off, std::span<const std::byte> d) override {
    if (off.value + d.size() > bytes.size()) bytes.resize(off.value + d.size());
    std::memcpy(bytes.data() + off.value, d.data(), d.size());
    ++writes;
    return Ok();
  }
  Result<void> finish() override { return Ok(); }
  std::string name() const override { return "memory-sink"; }
  std::vector<std::byte> bytes;
  u64 writes = 0;
};

// Page contents: u64 pfn at 0, then bytes (pfn * 31 + i) & 0xff, except
// every 7th pfn, which is half zeros so that zlib has something to do.
inline std::vector<std::byte> pattern_page(u64 pfn) {
  std::vector<std::byte> p(kPageSize);
  for (u64 i = 0; i < kPageSize; ++i) p[i] = std::byte((pfn * 31 + i) & 0xff);
  if (pfn % 7 == 0) std::memset(p.data() + 2048, 0, 2048);
  store_le<u64>(p.data(), pfn);
  return p;
}

inline std::vector<std::byte> zlib_page(std::span<const std::byte> page) {
  uLongf n = compressBound(page.size());
  std::vector<std::byte> out(n);
  compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(page.data()), page.size(), 6);
  out.resize(n);
  return out;
}

inline constexpr u64 kDirectMap = 0xffff888000000000ULL;
inline constexpr u64 kKernelOffset = 0x1a000000ULL;
inline constexpr u64 kPhysBase = 0x3000000ULL;  // physical load address - compile-time address
inline constexpr u64 kTextVaddr = 0xffffffff81000000ULL + kKernelOffset;
inline constexpr u64 kImagePaddr = 0x100000 + 0x200 * kPageSize;  // inside range B
inline constexpr u64 kImagePages = 700;                            // crosses B's long excluded run

inline std::string vmcoreinfo_text() {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "OSRELEASE=6.1.0-synthetic\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=%llx\n"
                "SYMBOL(_stext)=%llx\nNUMBER(phys_base)=%llu\nKERNELOFFSET=%llx\n"
                "NUMBER(pgtable_l5_enabled)=0\nCRASHTIME=1700000000\n",
                static_cast<unsigned long long>(kTextVaddr + 0x1000000),
                static_cast<unsigned long long>(kTextVaddr), static_cast<unsigned long long>(kPhysBase),
                static_cast<unsigned long long>(kKernelOffset));
  return buf;
}

inline Prstatus make_cpu(int i) {
  Prstatus p;
  p.pid = i == 1 ? 4242 : 0;
  for (size_t r = 0; r < kPrstatusNumRegs; ++r) p.regs[r] = 0x1000ULL * (i + 1) + r;
  return p;
}

inline std::vector<std::byte> make_notes(int ncpus, const std::string& vmcoreinfo) {
  std::vector<std::byte> notes;
  for (int i = 0; i < ncpus; ++i) {
    std::vector<std::byte> desc(kPrstatusSize);
    Prstatus p = make_cpu(i);
    store_le<i32>(desc.data() + kPrstatusPidOffset, p.pid);
    for (size_t r = 0; r < kPrstatusNumRegs; ++r) store_le<u64>(desc.data() + kPrstatusRegOffset + 8 * r, p.regs[r]);
    auto n = make_elf_note("CORE", kNtPrstatus, desc);
    notes.insert(notes.end(), n.begin(), n.end());
  }
  auto v = make_elf_note("VMCOREINFO", 0, std::as_bytes(std::span(vmcoreinfo.data(), vmcoreinfo.size())));
  notes.insert(notes.end(), v.begin(), v.end());
  return notes;
}

// Memory map: A = [0x1000, 0x9f000) with a 5-page gap kept out (short run);
// B = [0x100000, +2048 pages) with a 300-page excluded run at B+0x300 and a
// 100-page excluded tail; the kernel image maps B+0x200 .. B+0x200+700 pages.
struct Synthetic {
  std::vector<std::byte> notes;
  std::string vmcoreinfo;
  PageBitmap present, kept;
  DumpHeaderInfo info;
  std::vector<u64> kept_pfns;

  explicit Synthetic(int ncpus = 2) {
    vmcoreinfo = vmcoreinfo_text();
    notes = make_notes(ncpus, vmcoreinfo);
    const u64 b0 = 0x100, bn = 2048;
    Pfn max(b0 + bn);
    present = PageBitmap(max);
    kept = PageBitmap(max);
    present.set_range(Pfn(1), 0x9e, true);
    present.set_range(Pfn(b0), bn, true);
    kept = present;
    kept.set_range(Pfn(0x10), 5, false);
    kept.set_range(Pfn(b0 + 0x300), 300, false);
    kept.set_range(Pfn(b0 + bn - 100), 100, false);
    for (u64 p = 0; p < max.value; ++p)
      if (kept.test(Pfn(p))) kept_pfns.push_back(p);
    info.notes = notes;
    for (int i = 0; i < ncpus; ++i) info.cpus.push_back(make_cpu(i));
    info.uts.nodename = "labhost";
    info.uts.release = "6.1.0-synthetic";
    info.uts.version = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0";
    info.crash_time = 1700000000;
    info.phys_base = kPhysBase;
    info.kernel_offset = kKernelOffset;
    info.panic_task = 0xffff888003c48000ULL;
    info.panic_string = "sysrq triggered crash";
    info.max_pfn = max;
    info.present = &present;
    info.kept = &kept;
    info.ram.push_back({PhysAddr(0x1000), 0x9e * kPageSize, VirtAddr(kDirectMap + 0x1000)});
    info.ram.push_back({PhysAddr(b0 * kPageSize), bn * kPageSize, VirtAddr(kDirectMap + b0 * kPageSize)});
    info.extra_loads.push_back({PhysAddr(kImagePaddr), kImagePages * kPageSize, VirtAddr(kTextVaddr)});
  }
  Synthetic(const Synthetic&) = delete;
};

// Drives a writer over the synthetic input.
inline Result<void> write_all(DumpWriter& w, Synthetic& s, PageEncoding enc, bool complete = true,
                              size_t stop_after = SIZE_MAX) {
  s.info.encoding = enc;
  TRY(w.begin(s.info));
  size_t n = 0;
  std::vector<u64> pfns = s.kept_pfns;
  if (const PageBitmap* want = w.pages_to_write()) {  // the writer asks for more than kept
    pfns.clear();
    for (u64 p = 0; p < want->max_pfn().value; ++p)
      if (want->test(Pfn(p))) pfns.push_back(p);
  }
  for (u64 pfn : pfns) {
    if (n++ == stop_after) break;
    auto page = pattern_page(pfn);
    PageRecord rec{Pfn(pfn), PageEncoding::kRaw, page};
    std::vector<std::byte> z;
    if (enc == PageEncoding::kZlib && w.accepts(enc)) {
      z = zlib_page(page);
      if (z.size() < kPageSize) rec = PageRecord{Pfn(pfn), PageEncoding::kZlib, z};
    }
    TRY(w.write_page(rec));
  }
  return w.finish(complete);
}

// Where to leave the outputs for tests/readers/tools/check-synthetic.* (unset: nowhere).
inline void maybe_save(const std::string& name, const std::vector<std::byte>& bytes) {
  const char* dir = std::getenv("SALVAGE_SYNTHETIC_DIR");
  if (!dir) return;
  std::ofstream f(std::string(dir) + "/" + name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace salvage::testing

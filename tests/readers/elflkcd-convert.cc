// SPDX-License-Identifier: GPL-2.0-or-later
// Test driver (not part of salvage): converts an ELF vmcore into ELF or LKCD
// with every RAM page kept, through the real writers, then reads the output
// back with our own reader and compares every page. Used to check what crash
// makes of our LKCD/ELF output on the lab vmcore (tests/readers/elflkcd-lab.sh).
//
//   elflkcd-convert (elf|lkcd-raw|lkcd-zlib) VMCORE OUT
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "agent/file-sink.h"
#include "agent/file-source.h"
#include "formats/dump-writer.h"
#include "formats/elf-vmcore.h"

using namespace salvage;

static int fail(const std::string& what, const Error& e) {
  std::fprintf(stderr, "elflkcd-convert: %s: %s\n", what.c_str(), e.message.c_str());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s (elf|lkcd-raw|lkcd-zlib) VMCORE OUT\n", argv[0]);
    return 2;
  }
  std::string mode = argv[1];
  auto src = FileSource::open(argv[2]);
  if (!src.ok()) return fail("open", src.error());
  auto rd = ElfVmcoreReader::open(**src);
  if (!rd.ok()) return fail("reading vmcore", rd.error());
  auto& r = **rd;
  auto id = identify(r.notes());
  if (!id.ok()) return fail("notes", id.error());

  DumpHeaderInfo info;
  info.notes = r.notes();
  info.cpus = id->cpus;
  if (id->vmcoreinfo) {
    const auto& vi = *id->vmcoreinfo;
    info.vmcoreinfo = &vi;
    info.uts.release = vi.osrelease();
    info.kernel_offset = vi.kernel_offset();
    if (auto pb = vi.number("phys_base"); pb.ok()) info.phys_base = static_cast<u64>(*pb);
    if (auto t = vi.decimal("CRASHTIME"); t.ok()) info.crash_time = *t;
  }
  info.panic_string = "converted by elflkcd-convert";
  info.max_pfn = r.max_pfn();
  PageBitmap present(r.max_pfn());
  for (const auto& m : r.ram())
    for (u64 p = m.start.value >> kPageShift; p < div_round_up(m.start.value + m.size, kPageSize); ++p)
      present.set(Pfn(p));
  PageBitmap kept = present;
  info.present = &present;
  info.kept = &kept;
  // Direct-map PT_LOADs become info.ram, the kernel-image one an extra load.
  for (const auto& s : r.layout().loads) {
    MemoryRange m{s.paddr, s.memsz, s.vaddr};
    if (s.vaddr.value >= 0xffffffff80000000ULL) info.extra_loads.push_back(m);
    else info.ram.push_back(m);
  }
  DumpFormat fmt = mode == "elf" ? DumpFormat::kElf : DumpFormat::kLkcd;
  info.encoding = mode == "lkcd-zlib" ? PageEncoding::kZlib : PageEncoding::kRaw;

  auto sink = FileSink::create(argv[3]);
  if (!sink.ok()) return fail("create", sink.error());
  auto w = make_dump_writer(fmt, **sink);
  if (!w.ok()) return fail("writer", w.error());
  if (auto b = (*w)->begin(info); !b.ok()) return fail("begin", b.error());
  std::vector<std::byte> page(kPageSize), z(compressBound(kPageSize));
  u64 n = 0;
  for (u64 p = 0; p < r.max_pfn().value; ++p) {
    if (!kept.test(Pfn(p))) continue;
    auto st = r.read_page(Pfn(p), page);
    if (!st.ok()) return fail("read pfn", st.error());
    PageRecord rec{Pfn(p), PageEncoding::kRaw, page};
    if (info.encoding == PageEncoding::kZlib) {
      uLongf zn = z.size();
      compress2(reinterpret_cast<Bytef*>(z.data()), &zn, reinterpret_cast<const Bytef*>(page.data()), kPageSize, 1);
      if (zn < kPageSize) rec = PageRecord{Pfn(p), PageEncoding::kZlib, std::span(z).first(zn)};
    }
    if (auto wr = (*w)->write_page(rec); !wr.ok()) return fail("write", wr.error());
    ++n;
  }
  if (auto f = (*w)->finish(true); !f.ok()) return fail("finish", f.error());
  if (auto f = (*sink)->finish(); !f.ok()) return fail("sink finish", f.error());
  sink->reset();

  // Read back and compare.
  auto out = FileSource::open(argv[3]);
  if (!out.ok()) return fail("reopen", out.error());
  auto back = open_dump(**out);
  if (!back.ok()) return fail("reading output back", back.error());
  std::vector<std::byte> a(kPageSize), b(kPageSize);
  u64 diff = 0;
  for (u64 p = 0; p < r.max_pfn().value; ++p) {
    if (!kept.test(Pfn(p))) continue;
    auto sa = r.read_page(Pfn(p), a);
    auto sb = (*back)->read_page(Pfn(p), b);
    if (!sa.ok() || !sb.ok() || a != b) ++diff;
  }
  if ((*back)->notes().size() != r.notes().size() ||
      std::memcmp((*back)->notes().data(), r.notes().data(), r.notes().size()) != 0) {
    std::fprintf(stderr, "elflkcd-convert: notes differ after read-back\n");
    return 1;
  }
  std::printf("%s: %llu pages written, %llu differ on read-back, KERNELOFFSET=%llx phys_base=%llx\n", argv[3],
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(diff),
              static_cast<unsigned long long>(info.kernel_offset), static_cast<unsigned long long>(info.phys_base));
  return diff ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// Test-only: compares salvage's page filter with a kdump-compressed file that
// makedumpfile wrote from the same vmcore at the same -d level.
//
//   filter-compare VMCORE MAKEDUMPFILE_OUTPUT LEVEL
//
// Checks, bit for bit: max_mapnr, the 1st bitmap against FilterResult.present,
// the 2nd bitmap against FilterResult.kept, and (when LEVEL has bit 1) the
// pages makedumpfile pointed at its shared zero page (page_desc == pd_zero,
// formats.md 1.6) against the kept pages whose content is all zero. Prints
// the first differing pfns with their struct page fields; exit status 1 on
// any difference, 2 on usage or I/O errors. The kdump header is parsed here
// directly (formats.md 1.2/1.3), independently of salvage's kdump reader.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "agent/file-source.h"
#include "agent/kernel-memory.h"
#include "agent/page-filter.h"
#include "formats/endian.h"

using namespace salvage;

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "filter-compare: %s\n", msg.c_str());
  std::exit(2);
}

struct MdfDump {
  u64 max_mapnr = 0;
  std::vector<u8> bitmap1, bitmap2;
  std::vector<bool> zero;  // by pfn: descriptor equals pd_zero
  bool bit(const std::vector<u8>& b, u64 pfn) const { return pfn / 8 < b.size() && (b[pfn / 8] >> (pfn & 7)) & 1; }
};

MdfDump read_mdf(const std::string& path, bool want_zero) {
  auto src = FileSource::open(path);
  if (!src.ok()) die(src.error().message);
  ByteSource& s = **src;
  auto rd = [&](u64 off, u64 len) {
    auto r = read_bytes(s, FileOffset(off), len);
    if (!r.ok()) die(path + ": " + r.error().message);
    return std::move(*r);
  };
  auto h = rd(0, 464);
  if (std::memcmp(h.data(), "KDUMP   ", 8) != 0) die(path + ": not a kdump-compressed file (use makedumpfile without -F/-E)");
  const i32 version = load_le<i32>(&h[8]);
  const u64 bs = static_cast<u64>(load_le<i32>(&h[428]));
  const u64 sub_blocks = static_cast<u64>(load_le<i32>(&h[432]));
  const u64 bitmap_blocks = load_le<u32>(&h[436]);
  MdfDump d;
  d.max_mapnr = load_le<u32>(&h[440]);
  if (version >= 6) d.max_mapnr = load_le<u64>(rd(bs + 96, 8).data());
  const u64 half = bitmap_blocks * bs / 2;
  auto bm = rd((1 + sub_blocks) * bs, 2 * half);
  d.bitmap1.assign(reinterpret_cast<u8*>(bm.data()), reinterpret_cast<u8*>(bm.data()) + half);
  d.bitmap2.assign(reinterpret_cast<u8*>(bm.data()) + half, reinterpret_cast<u8*>(bm.data()) + 2 * half);
  if (!want_zero) return d;
  u64 count = 0;
  for (u64 p = 0; p < d.max_mapnr; ++p) count += d.bit(d.bitmap2, p);
  const u64 desc_start = (1 + sub_blocks + bitmap_blocks) * bs;
  const u64 data_start = desc_start + 24 * count;  // pd_zero's data is written first
  auto desc = rd(desc_start, 24 * count);
  d.zero.assign(d.max_mapnr, false);
  u64 i = 0;
  for (u64 p = 0; p < d.max_mapnr; ++p) {
    if (!d.bit(d.bitmap2, p)) continue;
    const std::byte* e = &desc[24 * i++];
    d.zero[p] = load_le<i64>(e) == static_cast<i64>(data_start) && load_le<u32>(e + 8) == bs && load_le<u32>(e + 12) == 0;
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: filter-compare VMCORE MAKEDUMPFILE_OUTPUT LEVEL\n");
    return 2;
  }
  const int level = std::atoi(argv[3]);
  auto src = FileSource::open(argv[1]);
  if (!src.ok()) die(src.error().message);
  auto dump = open_dump(**src);
  if (!dump.ok()) die(dump.error().message);
  DumpReader& dr = **dump;
  auto id = identify(dr.notes());
  if (!id.ok() || !id->vmcoreinfo) die("no VMCOREINFO in " + std::string(argv[1]));
  const Vmcoreinfo& vi = *id->vmcoreinfo;
  auto km = KernelMemory::create(dr, vi);
  if (!km.ok()) die(km.error().message);
  Log log(0);
  auto t0 = std::chrono::steady_clock::now();
  auto fr = filter_pages(dr, *km, vi, level, log);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!fr.ok()) die(fr.error().message);
  const FilterResult& f = *fr;
  for (const auto& d : f.degradations) std::printf("  degradation: %s\n", d.c_str());

  const MdfDump m = read_mdf(argv[2], level & kDlZero);
  VirtReader read = [&](VirtAddr va, std::span<std::byte> out) { return km->read_virt(va, out); };
  int failures = 0;
  auto show = [&](const char* what, u64 pfn, bool mdf, bool ours) {
    auto pf = read_page_fields(read, vi, Pfn(pfn), f.present.max_pfn());
    std::printf("  DIFF %s pfn 0x%" PRIx64 ": makedumpfile=%d salvage=%d  %s\n", what, pfn, mdf, ours,
                pf.ok() ? describe(*pf).c_str() : pf.error().message.c_str());
  };
  if (m.max_mapnr != f.present.max_pfn().value) {
    std::printf("  DIFF max_mapnr: makedumpfile=0x%" PRIx64 " salvage=0x%" PRIx64 "\n", m.max_mapnr,
                f.present.max_pfn().value);
    ++failures;
  }
  u64 d1 = 0, d2 = 0, dz = 0, mdf_kept = 0, mdf_zero = 0, our_zero = 0;
  std::vector<std::byte> page(kPageSize);
  for (u64 p = 0; p < m.max_mapnr; ++p) {
    bool m1 = m.bit(m.bitmap1, p), o1 = f.present.test(Pfn(p));
    bool m2 = m.bit(m.bitmap2, p), o2 = f.kept.test(Pfn(p));
    mdf_kept += m2;
    if (m1 != o1 && ++d1 <= 10) show("1st bitmap", p, m1, o1);
    if (m2 != o2 && ++d2 <= 10) show("2nd bitmap", p, m2, o2);
    if ((level & kDlZero) && o2) {
      auto st = dr.read_page(Pfn(p), page);
      if (!st.ok()) die("reading pfn " + std::to_string(p) + ": " + st.error().message);
      bool oz = true;
      for (auto b : page)
        if (b != std::byte{0}) { oz = false; break; }
      bool mz = m.zero[p];
      mdf_zero += mz;
      our_zero += oz;
      if (m2 && mz != oz && ++dz <= 10) show("zero page", p, mz, oz);
    }
  }
  failures += d1 != 0;
  failures += d2 != 0;
  failures += dz != 0;
  std::printf("level %2d: kept makedumpfile=%" PRIu64 " salvage=%" PRIu64, level, mdf_kept, f.kept.count());
  if (level & kDlZero) std::printf("  zero makedumpfile=%" PRIu64 " salvage=%" PRIu64, mdf_zero, our_zero);
  std::printf("  present=%" PRIu64 "  effective=%d  filter %.3f s  excluded:", f.present.count(), f.effective_dump_level,
              secs);
  for (size_t c = 0; c < kExcludeClasses; ++c)
    std::printf(" %s=%" PRIu64, exclude_class_name(static_cast<ExcludeClass>(c)), f.excluded_by_class[c]);
  std::printf("\n");
  if (failures)
    std::printf("  MISMATCH: %" PRIu64 " 1st-bitmap, %" PRIu64 " 2nd-bitmap, %" PRIu64 " zero-page differences\n", d1, d2,
                dz);
  return failures ? 1 : 0;
}

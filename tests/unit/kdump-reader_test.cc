// SPDX-License-Identifier: GPL-2.0-or-later
// Regression tests for the kdump and flattened readers against inputs the
// fuzzers found (tests/fuzz/fuzz-open-dump): a max_mapnr_64 near 2^64 that
// wrapped the bitmap size to 0, max_mapnr_64 larger than the bitmaps, 1st
// bitmaps with millions of runs, note sizes that wrap, and flattened
// records at huge offsets. The files are built here, byte by byte, in the
// shape of the fuzzer's inputs (header_version 6, sub_hdr_size 1).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>

#include "formats/dump-reader.h"
#include "formats/endian.h"
#include "formats/flattened.h"
#include "formats/kdump.h"

namespace salvage {
namespace {

using kdump::DiskDumpHeader;
using kdump::KdumpSubHeader;

// A kdump-compressed file: blocks 0 (header), 1 (sub-header), then
// bitmap_blocks blocks of bitmaps, then one zeroed page_desc (offset 0:
// "never written") per bit of the 2nd bitmap. bits(pfn) gives both bitmaps.
struct KdumpFile {
  u64 max_mapnr_64 = 0x5001;
  u32 max_mapnr = 16;  // what the fuzzer's inputs carry
  u32 bitmap_blocks = 2;
  i64 offset_note = 0;
  u64 size_note = 0;
  std::vector<std::byte> bitmap;  // one bitmap's bytes (both are the same)

  std::vector<std::byte> build() const {
    const u64 bm_len = u64{bitmap_blocks} * kPageSize;
    u64 n_desc = 0;
    for (std::byte b : bitmap) n_desc += static_cast<u64>(__builtin_popcount(static_cast<unsigned>(b)));
    std::vector<std::byte> f((2 + bitmap_blocks) * kPageSize + n_desc * sizeof(kdump::PageDesc));
    DiskDumpHeader h{};
    std::memcpy(h.signature, kdump::kSignature, sizeof h.signature);
    h.header_version = 6;
    h.block_size = kPageSize;
    h.sub_hdr_size = 1;
    h.bitmap_blocks = bitmap_blocks;
    h.max_mapnr = max_mapnr;
    h.status = kdump::kCompressedZlib;
    h.nr_cpus = 1;
    std::memcpy(f.data(), &h, sizeof h);
    KdumpSubHeader sh{};
    sh.max_mapnr_64 = max_mapnr_64;
    sh.offset_note = offset_note;
    sh.size_note = size_note;
    std::memcpy(f.data() + kPageSize, &sh, sizeof sh);
    const u64 n = std::min<u64>(bitmap.size(), bm_len / 2);
    std::memcpy(f.data() + 2 * kPageSize, bitmap.data(), n);
    std::memcpy(f.data() + 2 * kPageSize + bm_len / 2, bitmap.data(), n);
    return f;
  }
};

void expect_error(const std::vector<std::byte>& f, std::initializer_list<const char*> needles) {
  MemorySource src(f);
  auto r = open_dump(src);
  ASSERT_FALSE(r.ok());
  for (const char* n : needles) EXPECT_NE(r.error().message.find(n), std::string::npos) << r.error().message;
}

bool bit_of(const std::vector<std::byte>& bm, u64 p) {
  return p / 8 < bm.size() && ((static_cast<u8>(bm[p / 8]) >> (p & 7)) & 1);
}

// fuzz open-dump-crash-05d56238: max_mapnr_64 = 2^64-1 made
// div_round_up(max_mapnr, 8) wrap to 0, every size check pass, and
// bitmap1_[bm_bytes - 1] index -1. Also the values just below, where the
// rounding wraps as well.
TEST(KdumpReaderHardening, MaxMapnrNearTwoToThe64IsRejected) {
  for (u64 mm : {~u64{0}, ~u64{0} - 6, u64{1} << 63}) {
    KdumpFile k;
    k.max_mapnr_64 = mm;
    k.bitmap.assign(16, std::byte{0xff});
    expect_error(k.build(), {"max_mapnr_64 at 0x1060", "bitmap_blocks at 0x1b4", "65536 pfns"});
  }
}

TEST(KdumpReaderHardening, MaxMapnrMustFitTheBitmaps) {
  KdumpFile k;
  k.bitmap_blocks = 2;
  k.max_mapnr_64 = 2 * kPageSize * 8 + 1;  // one pfn more than two blocks of bits
  expect_error(k.build(), {"max_mapnr_64 at 0x1060", "65537"});
  // A legacy single-bitmap file may use all of bitmap_blocks for one
  // bitmap (crash dump_is_partial()): still accepted.
  k.bitmap_blocks = 1;
  k.max_mapnr_64 = kPageSize * 8;
  k.bitmap.assign(kPageSize / 2, std::byte{0});
  auto f = k.build();
  MemorySource src(f);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->max_pfn(), Pfn(kPageSize * 8));
}

// fuzz timeout-30d27170 / timeout-5662c477 / timeout-006256dc /
// open-dump-timeout-a1e77274: max_mapnr_64 (0x3000..0x5001) that disagrees
// with max_mapnr and a random 1st bitmap. ram() must be exactly the runs of
// set bits (checked against a bit-by-bit scan) and read_page must agree.
TEST(KdumpReaderHardening, RandomBitmapRunsAreExact) {
  for (u64 mm : {u64{0x3000}, u64{0x4000}, u64{0x5001}, u64{0x5040}}) {
    std::mt19937_64 rng(mm);
    KdumpFile k;
    k.max_mapnr_64 = mm;
    k.bitmap.resize(div_round_up(mm, 8));
    for (u64 i = 0; i < k.bitmap.size(); ++i) {
      // Mix dense words, empty words and noise, to hit every ctz path.
      const u64 kind = (i / 8) % 4;
      k.bitmap[i] = kind == 0 ? std::byte{0xff} : kind == 1 ? std::byte{0} : std::byte(rng());
    }
    if (mm & 7) k.bitmap.back() &= std::byte((1u << (mm & 7)) - 1);
    auto f = k.build();
    MemorySource src(f);
    auto r = open_dump(src);
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::vector<MemoryRange> want;
    for (u64 p = 0; p < mm; ++p) {
      if (!bit_of(k.bitmap, p)) continue;
      if (!want.empty() && want.back().start.value + want.back().size == p * kPageSize)
        want.back().size += kPageSize;
      else
        want.push_back({PhysAddr(p * kPageSize), kPageSize, VirtAddr(0)});
    }
    const auto& ram = (*r)->ram();
    ASSERT_EQ(ram.size(), want.size()) << "max_mapnr " << mm;
    for (size_t i = 0; i < ram.size(); ++i) {
      EXPECT_EQ(ram[i].start, want[i].start) << i;
      EXPECT_EQ(ram[i].size, want[i].size) << i;
    }
    std::vector<std::byte> page(kPageSize);
    for (u64 p = 0; p < mm + 70; ++p) {
      auto st = (*r)->read_page(Pfn(p), page);
      ASSERT_TRUE(st.ok()) << st.error().message;
      EXPECT_EQ(*st, bit_of(k.bitmap, p) && p < mm ? PageState::kMissing : PageState::kHole) << p;
    }
  }
}

// The fuzzer's OOM: a 1st bitmap of alternating bits describes a run per
// two pfns. build_ram is linear and ram() is capped by merging close runs;
// the merged-in pfns still read as holes.
TEST(KdumpReaderHardening, AlternatingBitmapIsMergedNotExploded) {
  KdumpFile k;
  k.bitmap_blocks = 256;  // 128 blocks a bitmap: 4 Mi pfns, 2 Mi runs
  k.max_mapnr_64 = 128 * kPageSize * 8;
  k.bitmap.assign(128 * kPageSize, std::byte{0x55});
  auto f = k.build();
  // The 2nd bitmap is irrelevant to ram(); clear it so that the file needs
  // no page_desc table.
  std::memset(f.data() + (2 + 128) * kPageSize, 0, 128 * kPageSize);
  f.resize((2 + 256) * kPageSize);
  auto t0 = std::chrono::steady_clock::now();
  MemorySource src(f);
  auto r = open_dump(src);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_LT(ms, 5000);
  const auto& ram = (*r)->ram();
  EXPECT_LE(ram.size(), 16384u);
  EXPECT_GE(ram.size(), 1u);
  for (size_t i = 1; i < ram.size(); ++i) EXPECT_LT(ram[i - 1].start.value + ram[i - 1].size, ram[i].start.value);
  // Every pfn with its bit set is covered.
  EXPECT_EQ(ram.front().start, PhysAddr(0));
  EXPECT_EQ(ram.back().start.value + ram.back().size, (k.max_mapnr_64 - 1) * kPageSize);
  bool noted = false;
  for (const auto& n : (*r)->metadata().notes_for_user) noted |= n.find("were merged") != std::string::npos;
  EXPECT_TRUE(noted);
  std::vector<std::byte> page(kPageSize);
  EXPECT_EQ(*(*r)->read_page(Pfn(1), page), PageState::kHole);
  EXPECT_EQ(*(*r)->read_page(Pfn(2), page), PageState::kExcluded);
}

// size_note near 2^64 wrapped offset_note + size_note below the file size,
// and the reader then tried to allocate it.
TEST(KdumpReaderHardening, NoteSizeThatWrapsIsRejected) {
  KdumpFile k;
  k.bitmap.assign(16, std::byte{0xff});
  k.offset_note = 0x100;
  k.size_note = ~u64{0} - 0x80;
  expect_error(k.build(), {"offset_note at 0x1030", "past the end of the file"});
}

// A flattened stream whose few records sit at huge offsets would present a
// terabyte file of zeros to the kdump reader, which sizes its bitmaps from
// it. Refused by name; a stream with ordinary small holes still opens.
std::vector<std::byte> flat_stream(const std::vector<std::pair<u64, std::vector<std::byte>>>& recs) {
  std::vector<std::byte> s(flat::kHeaderSize);
  std::memcpy(s.data(), flat::kSignature, sizeof flat::kSignature);
  store_be64(s.data() + 16, 1);  // TYPE_FLAT_HEADER
  store_be64(s.data() + 24, 1);
  for (const auto& [off, data] : recs) {
    std::byte rh[16];
    store_be64(rh, static_cast<i64>(off));
    store_be64(rh + 8, static_cast<i64>(data.size()));
    s.insert(s.end(), rh, rh + 16);
    s.insert(s.end(), data.begin(), data.end());
  }
  std::byte end[16];
  store_be64(end, -1);
  store_be64(end + 8, -1);
  s.insert(s.end(), end, end + 16);
  return s;
}

TEST(KdumpReaderHardening, FlattenedRecordsAtHugeOffsetsAreRefused) {
  KdumpFile k;
  k.bitmap.assign(16, std::byte{0xff});
  auto f = k.build();
  // Header without the zeros after it (makedumpfile writes only
  // sizeof(disk_dump_header) there), then the rest.
  std::vector<std::byte> head(f.begin(), f.begin() + sizeof(DiskDumpHeader));
  std::vector<std::byte> rest(f.begin() + kPageSize, f.end());
  auto ok = flat_stream({{0, head}, {kPageSize, rest}});
  MemorySource src(ok);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->metadata().format, "flattened");

  auto bad = flat_stream({{0, head}, {kPageSize, rest}, {u64{1} << 40, {std::byte{1}}}});
  MemorySource bsrc(bad);
  auto b = open_dump(bsrc);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("never written"), std::string::npos) << b.error().message;
}

}  // namespace
}  // namespace salvage

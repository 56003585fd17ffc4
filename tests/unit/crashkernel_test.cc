// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/crashkernel.h"

#include <gtest/gtest.h>

namespace salvage {
namespace {

constexpr u64 G = 1ull << 30, M = 1ull << 20;

TEST(Crashkernel, MemParse) {
  EXPECT_EQ(*parse_mem_size("256M"), 256 * M);
  EXPECT_EQ(*parse_mem_size("2G"), 2 * G);
  EXPECT_EQ(*parse_mem_size("0x1000"), 0x1000u);
  EXPECT_FALSE(parse_mem_size("12Q").ok());
  EXPECT_FALSE(parse_mem_size("").ok());
}

TEST(Crashkernel, SimpleForms) {
  EXPECT_EQ(*crashkernel_size("256M", 8 * G), 256 * M);
  EXPECT_EQ(*crashkernel_size("256M@16M", 8 * G), 256 * M);
  EXPECT_EQ(*crashkernel_size("512M,high", 8 * G), 512 * M);
  EXPECT_FALSE(crashkernel_size("256M junk", 8 * G).ok());
}

TEST(Crashkernel, RangesLikeParseCrashkernelMem) {
  std::string_view s = kSuggestedCrashkernel;  // 1G-4G:192M,4G-64G:256M,64G-:512M
  EXPECT_EQ(*crashkernel_size(s, 512 * M), 0u);  // below every range
  EXPECT_EQ(*crashkernel_size(s, 2 * G), 192 * M);
  EXPECT_EQ(*crashkernel_size(s, 4 * G), 256 * M);  // start is inclusive, end exclusive
  EXPECT_EQ(*crashkernel_size(s, 100 * G), 512 * M);
  EXPECT_EQ(*crashkernel_size("2G-4G:320M,4G-32G:512M@16M", 8 * G), 512 * M);  // Ubuntu's, with an offset
  auto bad = crashkernel_size("4G-2G:128M", 8 * G);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("end <= start"), std::string::npos);
}

TEST(Crashkernel, AdviceNamesParameterAndSize) {
  std::string a = crashkernel_advice(8 * G);
  EXPECT_NE(a.find("crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M"), std::string::npos) << a;
  EXPECT_NE(a.find("256 MiB"), std::string::npos) << a;
  EXPECT_NE(a.find("GRUB_CMDLINE_LINUX"), std::string::npos) << a;
}

TEST(Crashkernel, MeminfoAndDumpEstimate) {
  auto m = parse_meminfo(
      "MemTotal:        8000000 kB\nMemFree:         4000000 kB\nBuffers:          100000 kB\n"
      "Cached:          1100000 kB\nShmem:            200000 kB\nAnonPages:       1000000 kB\n");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->total, 8000000ull * 1024);
  auto raw = estimate_dump(*m, 0, "raw");
  EXPECT_EQ(raw.raw_bytes, m->total);  // level 0 keeps everything
  auto d31 = estimate_dump(*m, 31, "zstd");
  // 8000000 - 4000000 free - (100000 + 1100000 - 200000) cache - 1000000 anon = 2000000 kB
  EXPECT_EQ(d31.raw_bytes, 2000000ull * 1024);
  EXPECT_LT(d31.bytes, d31.raw_bytes);
  EXPECT_GT(estimate_dump(*m, 31, "lzo").bytes, d31.bytes);  // weaker codec, bigger estimate
  EXPECT_FALSE(parse_meminfo("nothing here\n").ok());
}

TEST(Crashkernel, ReservationNeededAddsFloor) {
  EXPECT_EQ(reservation_needed(40 * M, 3 * M, 9 * M, 0), 52 * M + kCaptureRuntimeFloor);
  // Two bitmaps, one bit per 4 KiB page each: 64 GiB of RAM adds 4 MiB.
  EXPECT_EQ(reservation_needed(40 * M, 3 * M, 9 * M, 64 * G), 56 * M + kCaptureRuntimeFloor);
  // The lab's measured case: Debian 6.1's init_size, salvage's initramfs,
  // 1 GiB of RAM: under the 64M at which the lab's capture completes.
  EXPECT_LE(reservation_needed(53968896, 1494930, 3917824, 1 * G), 64 * M);
  EXPECT_EQ(human_bytes(256 * M), "256 MiB");
  EXPECT_EQ(human_bytes(2 * G), "2 GiB");
}

}  // namespace
}  // namespace salvage

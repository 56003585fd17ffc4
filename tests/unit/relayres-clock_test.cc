// formats/relayres-clock: record stamps to ns for each clock_id.
#include "formats/relayres-clock.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <limits>

namespace salvage {
namespace {

constexpr u64 kAnchorClock = 5'000'000'000;             // 5 s after boot
constexpr u64 kAnchorReal = 1'700'000'000'000'000'000;  // a 2023 wall time

RelayresClock tsc_clock(u32 khz, u64 anchor_tsc) {
  RelayresClock c;
  c.clock_id = RELAYRES_CLOCK_TSC;
  c.tsc_khz = khz;
  c.anchor_tsc = anchor_tsc;
  c.anchor_clock_ns = kAnchorClock;
  c.anchor_real_ns = kAnchorReal;
  return c;
}

TEST(RelayresClock, LocalStampsAreNsOnTheAnchorsScale) {
  RelayresClock c;
  c.clock_id = RELAYRES_CLOCK_LOCAL;
  c.anchor_clock_ns = kAnchorClock;
  c.anchor_real_ns = kAnchorReal;
  EXPECT_EQ(c.clock_ns(kAnchorClock + 1234), static_cast<i64>(kAnchorClock + 1234));
  EXPECT_EQ(c.wall_ns(kAnchorClock + 1'500'000'000), static_cast<i64>(kAnchorReal + 1'500'000'000));
  EXPECT_EQ(c.wall_ns(kAnchorClock - 7), static_cast<i64>(kAnchorReal - 7));  // before the anchor
  EXPECT_FALSE(relayres_clock_problem(c));
}

TEST(RelayresClock, TscCyclesConvertThroughTscKhz) {
  // 2.3 GHz: 2,300,000 cycles a millisecond. The anchor TSC is large (the
  // TSC counts from reset, not from this kernel's boot).
  const u64 anchor = 900'000'000'000'000ull;
  const auto c = tsc_clock(2'300'000, anchor);
  EXPECT_EQ(c.since_anchor_ns(anchor), 0);
  EXPECT_EQ(c.since_anchor_ns(anchor + 2'300'000), 1'000'000);               // 1 ms
  EXPECT_EQ(c.since_anchor_ns(anchor + 2'300'000'000ull * 3600), 3600'000'000'000);  // 1 h: no overflow
  EXPECT_EQ(c.since_anchor_ns(anchor + 23), 10);                             // 23 cycles = 10 ns
  EXPECT_EQ(c.since_anchor_ns(anchor - 2'300'000), -1'000'000);              // a stamp before the anchor
  EXPECT_EQ(c.clock_ns(anchor + 2'300'000'000ull), static_cast<i64>(kAnchorClock + 1'000'000'000));
  EXPECT_EQ(c.wall_ns(anchor + 2'300'000'000ull), static_cast<i64>(kAnchorReal + 1'000'000'000));
  EXPECT_FALSE(relayres_clock_problem(c));
}

TEST(RelayresClock, TscRoundsToNearestNs) {
  const auto c = tsc_clock(3'000'000, 1000);  // 3 GHz: 3 cycles a ns
  EXPECT_EQ(c.since_anchor_ns(1000 + 4), 1);    // 1.33 ns
  EXPECT_EQ(c.since_anchor_ns(1000 + 5), 2);    // 1.67 ns
  EXPECT_EQ(c.since_anchor_ns(1000 - 5), -2);
}

TEST(RelayresClock, TscOrderIsPreserved) {
  // Merging sorts raw stamps; conversion must not reorder them.
  const auto c = tsc_clock(2'299'985, 123'456'789);
  i64 prev = c.wall_ns(123'456'789 - 10'000);
  for (u64 ts = 123'456'789 - 9'999; ts < 123'456'789 + 10'000; ts += 7) {
    const i64 w = c.wall_ns(ts);
    EXPECT_GE(w, prev) << ts;
    prev = w;
  }
}

TEST(RelayresClock, ExtremeStampsClampInsteadOfWrapping) {
  const auto c = tsc_clock(1, 0);  // 1 kHz: 10^6 ns a cycle
  EXPECT_EQ(c.since_anchor_ns(~0ull), std::numeric_limits<i64>::max());
  const auto d = tsc_clock(1, ~0ull);
  EXPECT_EQ(d.since_anchor_ns(0), std::numeric_limits<i64>::min());
}

TEST(RelayresClock, ReadsTheHeadersNewFields) {
  relayres_header hd;
  std::memset(&hd, 0, sizeof hd);
  hd.clock_id = RELAYRES_CLOCK_TSC;
  hd.tsc_khz = 2'299'985;
  hd.anchor_tsc = 42;
  hd.anchor_clock_ns = kAnchorClock;
  hd.anchor_real_ns = kAnchorReal;
  const auto c = relayres_clock(hd);
  EXPECT_EQ(c.clock_id, RELAYRES_CLOCK_TSC);
  EXPECT_EQ(c.tsc_khz, 2'299'985u);
  EXPECT_EQ(c.anchor_tsc, 42u);
  EXPECT_EQ(c.anchor_clock_ns, kAnchorClock);
  EXPECT_EQ(c.anchor_real_ns, kAnchorReal);
  // The additive layout: the new fields sit where reserved1 was, after
  // init_jiffies, and the header keeps its size.
  EXPECT_EQ(offsetof(relayres_header, tsc_khz), offsetof(relayres_header, init_jiffies) + 8);
  EXPECT_EQ(offsetof(relayres_header, anchor_tsc), offsetof(relayres_header, tsc_khz) + 8);
  EXPECT_EQ(offsetof(relayres_header, reserved2) - offsetof(relayres_header, tsc_khz), 48u);
}

TEST(RelayresClock, ProblemsNameTheField) {
  auto c = tsc_clock(0, 0);
  auto p = relayres_clock_problem(c);
  ASSERT_TRUE(p);
  EXPECT_NE(p->find("tsc_khz"), std::string::npos) << *p;
  // Without tsc_khz the stamps are read as ns (the pre-TSC behaviour).
  EXPECT_EQ(c.wall_ns(kAnchorClock + 5), static_cast<i64>(kAnchorReal + 5));
  c.clock_id = 9;
  p = relayres_clock_problem(c);
  ASSERT_TRUE(p);
  EXPECT_NE(p->find("clock_id 9"), std::string::npos) << *p;
}

}  // namespace
}  // namespace salvage

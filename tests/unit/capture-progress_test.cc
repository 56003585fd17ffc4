// SPDX-License-Identifier: GPL-2.0-or-later
// The capture's console progress line.
#include <gtest/gtest.h>

#include "agent/capture-progress.h"

namespace salvage {
namespace {

TEST(CaptureProgress, PercentRateAndTimeLeft) {
  // 256 pages = 1 MiB; half of 200 MiB in 10 s: 10 MiB/s, 10 s left.
  EXPECT_EQ(format_progress(256 * 100, 256 * 200, 10.0), "vmcore: 50% 100/200 MiB, 10.0 MiB/s, 10 s left");
}

TEST(CaptureProgress, EdgesDoNotDivideByZero) {
  EXPECT_EQ(format_progress(0, 256, 0.0), "vmcore: 0% 0/1 MiB, 0.0 MiB/s, ? s left");
  EXPECT_EQ(format_progress(0, 0, 0.0), "vmcore: 100% 0/0 MiB, 0.0 MiB/s, 0 s left");
  EXPECT_EQ(format_progress(512, 512, 2.0), "vmcore: 100% 2/2 MiB, 1.0 MiB/s, 0 s left");
}

}  // namespace
}  // namespace salvage

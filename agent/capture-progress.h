// SPDX-License-Identifier: GPL-2.0-or-later
// The capture's console progress line: at most one a second, with percent,
// MiB/s and time left. A serial console at 115200 baud moves ~11 KiB/s, so
// every line costs capture time; once a second is plenty.
#pragma once

#include <string>

#include "formats/types.h"

namespace salvage {

// "vmcore: 42% 118/280 MiB, 23.5 MiB/s, 7 s left" (pages of 4 KiB read so
// far, of the pages to write; seconds since the page loop started).
std::string format_progress(u64 done_pages, u64 total_pages, double seconds);

class ProgressLine {
 public:
  // Prints through agent_say when at least `interval_s` passed since the
  // last line (and always at 100%).
  explicit ProgressLine(double interval_s = 1.0);
  void update(u64 done_pages, u64 total_pages);

 private:
  double interval_s_;
  double start_;
  double last_ = -1e9;
  bool done_ = false;
};

}  // namespace salvage

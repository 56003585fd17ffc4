// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/capture-progress.h"

#include <cinttypes>
#include <cstdio>

#include "agent/capture-system.h"

namespace salvage {

std::string format_progress(u64 done_pages, u64 total_pages, double seconds) {
  const double mib = static_cast<double>(done_pages) * 4096.0 / 1048576.0;
  const double total_mib = static_cast<double>(total_pages) * 4096.0 / 1048576.0;
  const unsigned pct = total_pages ? static_cast<unsigned>(done_pages * 100 / total_pages) : 100;
  const double rate = seconds > 0 ? mib / seconds : 0;
  char left[32] = "?";
  if (done_pages >= total_pages) std::snprintf(left, sizeof left, "0");
  else if (done_pages > 0 && seconds > 0)
    std::snprintf(left, sizeof left, "%.0f", seconds * static_cast<double>(total_pages - done_pages) /
                                                 static_cast<double>(done_pages));
  char buf[160];
  std::snprintf(buf, sizeof buf, "vmcore: %u%% %.0f/%.0f MiB, %.1f MiB/s, %s s left", pct, mib, total_mib, rate, left);
  return buf;
}

ProgressLine::ProgressLine(double interval_s) : interval_s_(interval_s), start_(agent_uptime()) {}

void ProgressLine::update(u64 done_pages, u64 total_pages) {
  const double now = agent_uptime();
  const bool finished = done_pages >= total_pages;
  if (done_ || (!finished && now - last_ < interval_s_)) return;
  last_ = now;
  done_ = finished;
  agent_say("%s", format_progress(done_pages, total_pages, now - start_).c_str());
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// The few system chores of the capture agent (salvage as PID 1 in the
// capture kernel): mounts, the console, kernel modules, the hardware
// watchdog and the final action. Nothing here may throw or abort: every
// failure is reported and the agent carries on.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/capture-config.h"
#include "formats/result.h"

namespace salvage {

// Console lines "salvage: [  12.34] ..." with seconds since the agent
// started (CLOCK_MONOTONIC), written with one write(2) to fd 2 so lines from
// the supervisor and the capture child do not interleave mid-line.
void agent_say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
double agent_uptime();

// proc, sysfs, devtmpfs and a tmpfs /tmp; an already mounted one is fine.
// Returns a description of each mount that failed.
std::vector<std::string> mount_basics();

// Reopens /dev/console as fds 0-2 (the kernel leaves them closed when the
// initramfs has no /dev/console).
void attach_console();

// Memory tuning for a capture kernel that runs in a few MiB, then one
// console line with MemTotal and MemFree (how much headroom this
// crashkernel= left). Failures are logged, never fatal.
void tune_capture_memory();

// Loads each module file with finit_module, in the given order (the list is
// in dependency order already, from modules.dep), with the MOD.PARAM=
// options `cmdline` gives it (module_options in agent/cmdline.h). EEXIST
// (built in or loaded) is fine. Returns the number that failed; each is
// logged.
int load_module_list(const std::vector<std::string>& paths, std::string_view cmdline);

// Hardware watchdog (/dev/watchdog). Absent is fine: every call is a no-op.
class Watchdog {
 public:
  Watchdog() = default;
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  void open();       // arms it (opening starts the timer) and logs its timeout
  void pet();        // at most one write per call; opens the device first if
                     // it has appeared since (its driver is loaded late)
  void disarm();     // magic close: write 'V' then close
  bool active() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// sync() in a helper process bounded by `max_seconds` (a stuck device must
// not keep the machine from rebooting), then reboot(2) with the action.
// Returns only if reboot(2) failed; the caller then sleeps forever.
void do_final_action(FinalAction a, unsigned max_sync_seconds);

[[noreturn]] void sleep_forever();

}  // namespace salvage

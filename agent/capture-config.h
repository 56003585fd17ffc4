// SPDX-License-Identifier: GPL-2.0-or-later
// The capture configuration baked into the initramfs by `salvage
// mkinitramfs` and read by the PID-1 agent in the capture kernel:
// /etc/salvage.conf (key=value lines) and /etc/salvage.modules (module load
// order). Documented in docs/formats/initramfs.md. The kernel command line's
// salvage.KEY=VALUE options use the same keys and override the file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/net-config.h"
#include "formats/result.h"

namespace salvage {

inline constexpr const char* kCaptureConfigPath = "/etc/salvage.conf";
inline constexpr const char* kCaptureModulesPath = "/etc/salvage.modules";
inline constexpr int kCaptureConfigVersion = 1;

// Where a dump goes. Block forms name a raw device or partition; the fs form
// ("fs:<block form>:<dir>") a file system mounted to write <dir>/<host>/<time>/.
// "net" or "net:ADDR:PORT" streams to a collector (agent/capture-net.h; value
// is the ADDR:PORT, "" for the config's collector=).
struct TargetSpec {
  enum class Kind { kLabel, kUuid, kPartUuid, kPath, kNet };
  Kind kind = Kind::kPath;
  std::string value;       // the label, UUID, PARTUUID or /dev path
  bool file_system = false;
  std::string dir;         // absolute directory inside the file system (fs form only)

  std::string device_spec() const;  // "LABEL=dump", "/dev/vdb" (without fs:...:dir)
  std::string to_string() const;    // round-trips through parse_target_spec
};
Result<TargetSpec> parse_target_spec(std::string_view spec);
// The address a net target streams to: the target's own ADDR:PORT, else the
// config's collector= (here, not in capture-net.cc, so that `salvage test`
// uses the same rule in every build).
std::string net_target_collector(const TargetSpec& t, const NetConfig& n);
// A comma-separated list, "net,LABEL=dump" (a label holding ',' cannot be listed).
Result<std::vector<TargetSpec>> parse_target_list(std::string_view list);

enum class FinalAction { kReboot, kPoweroff, kHalt };
const char* final_action_name(FinalAction a);

struct CaptureConfig {
  std::vector<TargetSpec> targets;  // tried in order; the first that works wins
  int dump_level = 31;              // makedumpfile -d bit mask, 0..31
  std::string compression = "zstd"; // page codec: raw zlib lzo snappy zstd
  std::string format = "kdump";     // kdump elf lkcd
  FinalAction final_action = FinalAction::kReboot;
  unsigned timeout_s = 0;           // whole capture; 0 = no limit
  unsigned device_wait_s = 30;      // how long to wait for a target device to appear
  // Test hook (salvage.test_hang=S): the capture child stalls S seconds
  // after loading its modules, like a dead disk would, so the lab can prove
  // the supervisor's timeout and the watchdog petting on a real kernel.
  unsigned test_hang_s = 0;
  std::string kernel_release;       // the kernel the modules were taken from (informational)
  NetConfig net;                    // the net target's interface, addresses, collector (agent/net-config.h)
};

// Parses /etc/salvage.conf. Unknown keys are errors (a typo must not silently
// fall back to a default in the one run that matters); errors name the line.
Result<CaptureConfig> parse_capture_config(std::string_view text);
std::string render_capture_config(const CaptureConfig& c);

// Sets one key (the file's keys; "target" appends, a comma list appends each). Shared by the file parser
// and the command-line override.
Result<void> set_capture_key(CaptureConfig& c, std::string_view key, std::string_view value);

// Applies salvage.KEY=VALUE words of a kernel command line. The first
// salvage.target= replaces the baked-in list, later ones append. Other words
// are ignored. Returns the list of problems instead of stopping at the first:
// PID 1 reports them and carries on with what it has.
std::vector<std::string> apply_capture_cmdline(CaptureConfig& c, std::string_view cmdline);

// /etc/salvage.modules: one module path per line (absolute, inside the
// initramfs), in load order; '#' comments and blank lines ignored.
Result<std::vector<std::string>> parse_module_list(std::string_view text);
std::string render_module_list(const std::vector<std::string>& paths, std::string_view kernel_release);

}  // namespace salvage

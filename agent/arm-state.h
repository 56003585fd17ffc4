// SPDX-License-Identifier: GPL-2.0-or-later
// What `salvage load` armed, remembered for `salvage status` and `salvage
// test`: /var/lib/salvage/loaded (HostPaths::state_file), KEY=VALUE lines.
// The kernel only says "a crash kernel is loaded"; which files and command
// line were used, and whether they still match the running system, only
// this file knows.
#pragma once

#include <string>
#include <string_view>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

struct FileStamp {
  std::string path;
  u64 size = 0;
  i64 mtime = 0;  // seconds since the epoch
};
Result<FileStamp> stamp_file(const std::string& path);

struct ArmState {
  FileStamp kernel;
  std::string kernel_release;  // from the bzImage header
  FileStamp initrd;            // path empty: loaded without an initramfs
  std::string cmdline;
  std::string method;          // "kexec_file_load" or "kexec-tools"
  i64 loaded_at = 0;
};

std::string render_arm_state(const ArmState& s);
Result<ArmState> parse_arm_state(std::string_view text);

}  // namespace salvage

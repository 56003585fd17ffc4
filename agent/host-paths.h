// SPDX-License-Identifier: GPL-2.0-or-later
// Where the arming commands (load, status, test) look at the host: /proc,
// /sys, /dev, /boot and salvage's state file. One value passed down from
// main, never a global, so tests point every command at a temporary tree
// (--proc-root, --sys-root, --dev-root, --boot-dir, --state-file).
#pragma once

#include <string>
#include <string_view>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

struct HostPaths {
  std::string proc = "/proc";
  std::string sys = "/sys";
  std::string dev = "/dev";
  std::string boot = "/boot";
  std::string modules = "/lib/modules";
  std::string state_file = "/var/lib/salvage/loaded";
  std::string initramfs_dir = "/var/lib/salvage";

  // Consumes one of the options above at argv[i] (advancing i past its
  // value). Returns false when argv[i] is not one of them.
  bool parse_option(int argc, char** argv, int& i);
  static const char* usage() {
    return "[--proc-root DIR] [--sys-root DIR] [--dev-root DIR] [--boot-dir DIR] [--modules-dir DIR] "
           "[--state-file FILE] [--initramfs-dir DIR]";
  }

  // The running kernel's release (proc/sys/kernel/osrelease = uname -r).
  Result<std::string> running_release() const;
  // Defaults when --kernel/--initrd are not given.
  std::string default_kernel(const std::string& release) const { return boot + "/vmlinuz-" + release; }
  std::string default_initramfs(const std::string& release) const {
    return initramfs_dir + "/initramfs-" + release + ".img";
  }
  // /sys/kernel/kexec_crash_size (bytes reserved by crashkernel=), and
  // whether /sys/kernel/kexec_crash_loaded says 1.
  Result<u64> crash_size() const;
  Result<bool> crash_loaded() const;
  // MemTotal from proc/meminfo, in bytes.
  Result<u64> mem_total() const;
  // The selected kernel lockdown mode ("none", "integrity",
  // "confidentiality"), or "" when the lockdown LSM is absent.
  std::string lockdown() const;
  // 1/0 from the EFI SecureBoot variable, -1 when not booted with EFI.
  int secure_boot() const;
  // x86: the boot CPU's initial APIC id from proc/cpuinfo, -1 if unknown.
  long boot_cpu_apicid() const;
};

// Whole small file (sysfs/procfs attributes, state files); errors name the path.
Result<std::string> read_text_file(const std::string& path, size_t max_bytes = 1 << 20);
// Whole file of any size (kernel images, initramfs).
Result<std::string> read_binary_file(const std::string& path, size_t max_bytes = 1ull << 31);
// Writes via a temporary file and rename, creating the parent directory (0755).
Result<void> write_file_atomic(const std::string& path, std::string_view data, unsigned mode);
std::string trim_space(std::string_view s);

}  // namespace salvage

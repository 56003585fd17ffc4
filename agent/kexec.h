// SPDX-License-Identifier: GPL-2.0-or-later
// Loading and unloading the capture kernel. kexec_file_load(2) with
// KEXEC_FILE_ON_CRASH is called directly (the kernel parses and, under
// lockdown, verifies the bzImage itself); when the syscall does not exist
// (ENOSYS: a kernel without CONFIG_KEXEC_FILE) salvage runs kexec-tools'
// `kexec -p`, which uses the older kexec_load(2).
#pragma once

#include <string>
#include <vector>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

// What the x86 boot header of a bzImage says (Documentation/x86/boot.rst).
struct BzImageInfo {
  u16 protocol = 0;      // boot protocol version, 0x020f for Linux 6.1
  u32 init_size = 0;     // bytes the kernel needs to decompress and run (protocol >= 2.10)
  std::string version;   // "6.1.0-18-cloud-amd64 (debian-kernel@...) #1 SMP ..."
  std::string release() const;  // first word of version
};
Result<BzImageInfo> parse_bzimage(std::string_view image);

struct KexecRequest {
  std::string kernel;
  std::string initrd;   // empty: no initramfs
  std::string cmdline;
};

enum class KexecMethod { kAuto, kSyscall, kKexecTools };
const char* kexec_method_name(KexecMethod m);

struct KexecOptions {
  KexecMethod method = KexecMethod::kAuto;
  std::string kexec_tool = "kexec";  // searched in PATH unless it contains '/'
};

// Loads the crash kernel. Returns the method that worked.
Result<KexecMethod> kexec_load_crash(const KexecRequest& req, const KexecOptions& opt);
// Unloads it (both methods unload whatever is loaded).
Result<KexecMethod> kexec_unload_crash(const KexecOptions& opt);

// The kexec-tools command lines salvage runs (for the fallback and --dry-run).
std::vector<std::string> kexec_tools_load_argv(const KexecRequest& req, const std::string& tool);
std::vector<std::string> kexec_tools_unload_argv(const std::string& tool);

// A sentence on what an errno from kexec_file_load means for the user.
std::string explain_kexec_errno(int err);

}  // namespace salvage

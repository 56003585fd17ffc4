// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage status`: is a capture kernel armed, with what, and does it still
// fit the running system. Exit status: 0 armed and current, 1 not armed,
// 3 armed but stale (kernel or initramfs changed since `salvage load`),
// 2 usage.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "agent/arm-state.h"
#include "agent/cmdline.h"
#include "agent/commands.h"
#include "agent/crashkernel.h"
#include "agent/host-paths.h"

namespace salvage {
namespace {

// Reasons the armed files no longer match the running system.
std::vector<std::string> staleness(const HostPaths& host, const ArmState& s, const std::string& release) {
  std::vector<std::string> out;
  if (!s.kernel_release.empty() && s.kernel_release != release)
    out.push_back("the loaded kernel is " + s.kernel_release + " but " + release + " is running");
  for (const FileStamp* f : {&s.kernel, &s.initrd}) {
    if (f->path.empty()) continue;
    auto now = stamp_file(f->path);
    if (!now.ok()) out.push_back(f->path + " is gone since it was loaded");
    else if (now->size != f->size || now->mtime != f->mtime)
      out.push_back(f->path + " changed since it was loaded (run salvage load again)");
  }
  // Modules installed after the initramfs was built (a rebuilt kernel
  // package with the same release) may no longer match what it carries.
  struct stat st{};
  std::string moddir = host.modules + "/" + release;
  if (!s.initrd.path.empty() && ::stat(moddir.c_str(), &st) == 0 && st.st_mtime > s.initrd.mtime)
    out.push_back("the initramfs is older than " + moddir + " (run salvage mkinitramfs, then salvage load)");
  return out;
}

}  // namespace

int cmd_status(int argc, char** argv) {
  HostPaths host;
  for (int i = 1; i < argc; ++i) {
    if (host.parse_option(argc, argv, i)) continue;
    std::fprintf(stderr, "usage: salvage status %s\n", HostPaths::usage());
    return 2;
  }
  auto release = host.running_release();
  std::string rel = release.ok() ? *release : "?";
  auto loaded = host.crash_loaded();
  auto reserved = host.crash_size();
  std::printf("running kernel:  %s\n", rel.c_str());
  if (!reserved.ok()) std::printf("reserved memory: unknown (%s)\n", reserved.error().message.c_str());
  else if (*reserved == 0)
    std::printf("reserved memory: none: %s\n", crashkernel_advice(host.mem_total().ok() ? *host.mem_total() : 0).c_str());
  else std::printf("reserved memory: %s\n", human_bytes(*reserved).c_str());
  bool armed = loaded.ok() && *loaded;
  std::printf("capture kernel:  %s\n", !loaded.ok() ? ("unknown (" + loaded.error().message + ")").c_str()
                                        : armed   ? "loaded"
                                                  : "not loaded (run salvage load)");

  auto text = read_text_file(host.state_file);
  std::vector<std::string> stale;
  if (!text.ok()) {
    std::printf("armed with:      unknown (%s)\n",
                armed ? (host.state_file + " is missing: loaded by another tool?").c_str() : "nothing recorded");
  } else if (auto s = parse_arm_state(*text); !s.ok()) {
    std::printf("armed with:      unreadable %s: %s\n", host.state_file.c_str(), s.error().message.c_str());
  } else {
    std::printf("kernel:          %s (%s)\n", s->kernel.path.c_str(), s->kernel_release.c_str());
    std::printf("initramfs:       %s (%s)\n", s->initrd.path.empty() ? "none" : s->initrd.path.c_str(),
                human_bytes(s->initrd.size).c_str());
    std::string targets;
    for (const auto& p : split_cmdline(s->cmdline).params)
      if (param_key(p) == "salvage.target") targets += (targets.empty() ? "" : ", ") + p.substr(p.find('=') + 1);
    std::printf("target:          %s\n", targets.empty() ? "from the initramfs's /etc/salvage.conf" : targets.c_str());
    std::printf("command line:    %s\n", s->cmdline.c_str());
    std::printf("loaded with:     %s\n", s->method.c_str());
    if (armed) stale = staleness(host, *s, rel);
    std::printf("up to date:      %s\n", !armed ? "-" : stale.empty() ? "yes" : "no");
    for (const auto& r : stale) std::printf("  - %s\n", r.c_str());
  }

  std::string lock = host.lockdown();
  int sb = host.secure_boot();
  std::printf("lockdown:        %s\n", lock.empty() ? "not available" : lock.c_str());
  std::printf("secure boot:     %s\n", sb < 0 ? "no EFI variable" : sb ? "on" : "off");
  if ((!lock.empty() && lock != "none") || sb == 1)
    std::printf("note:            only kexec_file_load with a kernel signed by a trusted key can arm this machine;\n"
                "                 kexec -p (kexec_load) is refused\n");
  if (!armed) return 1;
  return stale.empty() ? 0 : 3;
}

}  // namespace salvage

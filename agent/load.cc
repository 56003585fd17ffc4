// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage load`: arm the capture kernel. Reads the running command line,
// checks the crashkernel reservation, builds the capture command line
// (agent/cmdline.h), loads kernel + initramfs with kexec_file_load
// (agent/kexec.h) and records what it loaded for `salvage status`.
// `salvage load --unload` disarms. docs/arming.md describes it all.
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <unistd.h>

#include "agent/arm-state.h"
#include "agent/capture-config.h"
#include "agent/cmdline.h"
#include "agent/commands.h"
#include "agent/crashkernel.h"
#include "agent/host-paths.h"
#include "agent/kexec.h"
#include "agent/log.h"
#include "formats/cpio-reader.h"

namespace salvage {
namespace {

struct LoadArgs {
  HostPaths host;
  std::string kernel, initrd, append, cmdline_from;
  CaptureCmdlineOptions cmd;
  KexecOptions kexec;
  bool dry_run = false, unload = false;
  int verbosity = 0;
};

void usage() {
  std::fprintf(stderr,
               "usage: salvage load [--kernel PATH] [--initrd PATH] [--append ARGS] [--target SPEC]...\n"
               "                    [--option KEY=VALUE]... [--dry-run] [--unload] [--cmdline-from FILE]\n"
               "                    [--method auto|syscall|kexec-tools] [--kexec PATH] [-v] %s\n",
               HostPaths::usage());
}

// Returns 0 on success, 2 on a usage error.
int parse_args(int argc, char** argv, LoadArgs& a) {
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    bool has_next = i + 1 < argc;
    if (a.host.parse_option(argc, argv, i)) continue;
    if (s == "--dry-run") a.dry_run = true;
    else if (s == "--unload") a.unload = true;
    else if (s == "-v") ++a.verbosity;
    else if (s == "--kernel" && has_next) a.kernel = argv[++i];
    else if (s == "--initrd" && has_next) a.initrd = argv[++i];
    else if (s == "--append" && has_next) a.cmd.append += std::string(a.cmd.append.empty() ? "" : " ") + argv[++i];
    else if (s == "--cmdline-from" && has_next) a.cmdline_from = argv[++i];
    else if (s == "--kexec" && has_next) a.kexec.kexec_tool = argv[++i];
    else if (s == "--target" && has_next) a.cmd.salvage_options.emplace_back("target", argv[++i]);
    else if (s == "--option" && has_next) {
      std::string kv = argv[++i];
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "salvage load: --option wants KEY=VALUE, got '%s'\n", kv.c_str());
        return 2;
      }
      std::string key = kv.substr(0, eq);
      if (key.starts_with("salvage.")) key.erase(0, 8);
      a.cmd.salvage_options.emplace_back(key, kv.substr(eq + 1));
    } else if (s == "--method" && has_next) {
      std::string m = argv[++i];
      if (m == "auto") a.kexec.method = KexecMethod::kAuto;
      else if (m == "syscall") a.kexec.method = KexecMethod::kSyscall;
      else if (m == "kexec-tools") a.kexec.method = KexecMethod::kKexecTools;
      else {
        std::fprintf(stderr, "salvage load: --method is auto, syscall or kexec-tools, not '%s'\n", m.c_str());
        return 2;
      }
    } else {
      usage();
      return 2;
    }
  }
  return 0;
}

// Every salvage.* option must be one the capture agent understands: a typo
// found now is better than a capture kernel that ignores it after a panic.
Result<void> check_salvage_options(const CaptureCmdlineOptions& cmd) {
  CaptureConfig scratch;
  for (const auto& [k, v] : cmd.salvage_options)
    TRY_CTX(set_capture_key(scratch, k, v), "salvage." + k + "=" + v);
  return Ok();
}

Result<void> check_reservation(const HostPaths& host, const Log& log, u64 need) {
  ASSIGN_OR_RETURN(u64 reserved, host.crash_size());
  if (reserved == 0) {
    u64 ram = host.mem_total().ok() ? *host.mem_total() : 0;
    return make_error("no memory is reserved for a capture kernel (" + host.sys + "/kernel/kexec_crash_size is 0): " +
                      crashkernel_advice(ram));
  }
  log.info("reserved for the capture kernel: %s", human_bytes(reserved).c_str());
  if (need > reserved)
    log.warn("the capture needs about %s but only %s is reserved; the load or the capture may fail (%s)",
             human_bytes(need).c_str(), human_bytes(reserved).c_str(),
             crashkernel_advice(host.mem_total().ok() ? *host.mem_total() : 0).c_str());
  return Ok();
}

int unload(const LoadArgs& a, const Log& log) {
  if (a.dry_run) {
    std::printf("would unload the capture kernel (kexec_file_load KEXEC_FILE_UNLOAD, or: kexec -p -u)\n");
    return 0;
  }
  auto m = kexec_unload_crash(a.kexec);
  if (!m.ok()) {
    log.error("unload: %s", m.error().message.c_str());
    return 1;
  }
  if (::unlink(a.host.state_file.c_str()) < 0 && errno != ENOENT)
    log.warn("could not remove %s: %s", a.host.state_file.c_str(), std::strerror(errno));
  std::printf("capture kernel unloaded (%s)\n", kexec_method_name(*m));
  return 0;
}

}  // namespace

int cmd_load(int argc, char** argv) {
  LoadArgs a;
  if (int rc = parse_args(argc, argv, a)) return rc;
  Log log(a.verbosity);
  if (a.unload) return unload(a, log);
  auto fail = [&](const Error& e) {
    log.error("%s", e.message.c_str());
    return 1;
  };

  std::string release, running;
  {
    StepTimer t(log, "read running kernel");
    auto r = a.host.running_release();
    if (!r.ok()) return fail(r.error());
    release = *r;
    auto c = read_text_file(a.cmdline_from.empty() ? a.host.proc + "/cmdline" : a.cmdline_from);
    if (!c.ok()) return fail(c.error());
    running = trim_space(*c);
  }
  if (auto r = check_salvage_options(a.cmd); !r.ok()) return fail(r.error());
  if (a.kernel.empty()) a.kernel = a.host.default_kernel(release);
  if (a.initrd.empty()) a.initrd = a.host.default_initramfs(release);

  BzImageInfo bz;
  u64 need = 0;
  ArmState state;
  {
    StepTimer t(log, "check kernel and initramfs");
    auto img = read_binary_file(a.kernel, 256u << 20);
    if (!img.ok()) return fail(img.error().with_context("capture kernel"));
    auto b = parse_bzimage(*img);
    if (!b.ok()) return fail(b.error().with_context(a.kernel));
    bz = *b;
    auto rd = read_binary_file(a.initrd, 1u << 30);
    if (!rd.ok())
      return fail(rd.error().with_context("capture initramfs (build it with salvage mkinitramfs)"));
    u64 unpacked = rd->size() * 3;  // if unreadable below: assume 3x compression
    if (auto l = read_initramfs(*rd); l.ok()) {
      unpacked = l->unpacked_bytes;
      if (!l->find("init")) log.warn("%s has no /init: the capture kernel will not run salvage", a.initrd.c_str());
    } else {
      log.warn("%s: %s", a.initrd.c_str(), l.error().message.c_str());
    }
    need = reservation_needed(bz.init_size, rd->size(), unpacked, a.host.mem_total().ok() ? *a.host.mem_total() : 0);
    auto ks = stamp_file(a.kernel);
    auto is = stamp_file(a.initrd);
    if (!ks.ok()) return fail(ks.error());
    if (!is.ok()) return fail(is.error());
    state.kernel = *ks;
    state.initrd = *is;
    state.kernel_release = bz.release();
  }
  {
    StepTimer t(log, "check reservation");
    if (auto r = check_reservation(a.host, log, need); !r.ok()) return fail(r.error());
  }
  std::string capture;
  {
    StepTimer t(log, "build command line");
    a.cmd.boot_cpu_apicid = a.host.boot_cpu_apicid();
    auto c = build_capture_cmdline(running, a.cmd);
    if (!c.ok()) return fail(c.error());
    capture = *c;
    if (a.verbosity > 0)
      for (const auto& p : split_cmdline(running).params)
        if (const char* why = drop_reason(p)) log.info("dropped %s: %s", p.c_str(), why);
  }
  std::printf("kernel:       %s (%s)\n", a.kernel.c_str(), bz.release().c_str());
  std::printf("initramfs:    %s\n", a.initrd.c_str());
  std::printf("command line: %s\n", capture.c_str());
  if (bz.release() != release)
    log.warn("the capture kernel is %s but the running kernel is %s", bz.release().c_str(), release.c_str());
  std::string lock = a.host.lockdown();
  if ((!lock.empty() && lock != "none") || a.host.secure_boot() == 1) {
    if (a.kexec.method == KexecMethod::kKexecTools)
      log.warn("lockdown/Secure Boot is on: kexec -p (kexec_load) is refused; only kexec_file_load with a signed kernel works");
  }
  KexecRequest req{a.kernel, a.initrd, capture};
  if (a.dry_run) {
    std::printf("dry run: would call kexec_file_load(KEXEC_FILE_ON_CRASH)");
    std::string line;
    for (const auto& w : kexec_tools_load_argv(req, a.kexec.kexec_tool)) line += " " + w;
    std::printf(", falling back to:%s\n", line.c_str());
    return 0;
  }
  {
    StepTimer t(log, "load");
    auto m = kexec_load_crash(req, a.kexec);
    if (!m.ok()) return fail(m.error());
    state.method = kexec_method_name(*m);
  }
  state.cmdline = capture;
  state.loaded_at = static_cast<i64>(std::time(nullptr));
  if (auto r = write_file_atomic(a.host.state_file, render_arm_state(state), 0644); !r.ok())
    log.warn("armed, but could not record it for salvage status: %s", r.error().message.c_str());
  std::printf("capture kernel loaded (%s)\n", state.method.c_str());
  return 0;
}

}  // namespace salvage

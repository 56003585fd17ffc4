// SPDX-License-Identifier: GPL-2.0-or-later
// The capture agent: salvage as PID 1 in the capture kernel.
//
// Design: PID 1 only supervises. It mounts the basics, reads the config,
// arms the hardware watchdog, then forks one child that does all the work
// (modules, target, kernel log, dump). PID 1 waits for it with the capture
// timeout, petting the watchdog once a second, reaping every orphan, and
// then says on the console what happened and does the final action. This
// is the most robust shape for "PID 1 never exits, never crashes, never
// hangs": a bug, an abort, a fatal signal or an out-of-memory kill in the
// page pipeline ends the child, not init (whose death would panic the
// capture kernel); a hang in the child (a dead disk, a driver that never
// probes) is cut off by the timeout; and the supervisor's own code is a
// small loop with no allocation-heavy work. If the final action itself
// fails, PID 1 sleeps forever rather than return from main.
#include "agent/capture-agent.h"

#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "agent/capture-config.h"
#include "agent/host-paths.h"
#include "agent/capture-fs.h"
#include "agent/capture-net.h"
#include "agent/capture-system.h"
#include "agent/capture-target.h"
#include "agent/capture-trace.h"
#include "agent/capture-write.h"
#include "formats/codec.h"

namespace salvage {

namespace {

constexpr const char* kVmcore = "/proc/vmcore";
constexpr unsigned kSyncLimitS = 20;

// Child exit codes: what the supervisor tells the console.
enum ChildStatus : int {
  kSaved = 0,           // a complete dump is on a target
  kSavedIncomplete = 1, // a dump cut short (a full target) is on a target
  kNoVmcore = 2,        // not a capture kernel
  kAllTargetsFailed = 3,
  kVmcoreUnreadable = 4,
};

const char* child_status_text(int st) {
  switch (st) {
    case kSaved: return "the dump is saved";
    case kSavedIncomplete: return "an INCOMPLETE dump is saved (the target is too small)";
    case kNoVmcore: return "no /proc/vmcore: this is not a capture kernel, nothing to save";
    case kAllTargetsFailed: return "every target failed: NO DUMP SAVED (the kernel log is above)";
    case kVmcoreUnreadable: return "/proc/vmcore could not be read: NO DUMP SAVED";
  }
  return "the capture failed";
}


std::string cmdline_word(std::string_view cmdline, std::string_view key) {
  size_t pos = 0;
  while (pos < cmdline.size()) {
    size_t end = cmdline.find_first_of(" \n\t", pos);
    if (end == std::string_view::npos) end = cmdline.size();
    std::string_view w = cmdline.substr(pos, end - pos);
    if (w.substr(0, key.size()) == key) return std::string(w.substr(key.size()));
    pos = end + 1;
  }
  return "";
}

// /etc/salvage.conf, then salvage.* from the kernel command line. Problems
// are reported and the agent carries on with what it has.
CaptureConfig read_config(const std::string& cmdline) {
  CaptureConfig cfg;
  auto text = read_text_file(kCaptureConfigPath);
  if (!text.ok()) {
    agent_say("%s: %s; using defaults and the command line", kCaptureConfigPath, text.error().message.c_str());
  } else {
    auto parsed = parse_capture_config(*text);
    if (parsed.ok()) cfg = std::move(*parsed);
    else agent_say("%s: %s; using defaults and the command line", kCaptureConfigPath, parsed.error().message.c_str());
  }
  for (const auto& p : apply_capture_cmdline(cfg, cmdline)) agent_say("kernel command line: %s", p.c_str());
  return cfg;
}

void print_config(const CaptureConfig& c) {
  std::string targets;
  for (const auto& t : c.targets) targets += (targets.empty() ? "" : ", ") + t.to_string();
  agent_say("targets: %s", targets.empty() ? "(none)" : targets.c_str());
  agent_say("dump level %d, %s pages, %s format; timeout %s; device wait %u s; then %s", c.dump_level,
            c.compression.c_str(), c.format.c_str(), c.timeout_s ? (std::to_string(c.timeout_s) + " s").c_str() : "none",
            c.device_wait_s, final_action_name(c.final_action));
}

ConvertSettings settings_for(const CaptureConfig& c) {
  ConvertSettings s;
  s.dump_level = c.dump_level;
  s.encoding = encoding_from_name(c.compression).value_or(PageEncoding::kZstd);
  s.format = c.format == "elf" ? DumpFormat::kElf : c.format == "lkcd" ? DumpFormat::kLkcd : DumpFormat::kKdump;
  s.threads = std::max(1u, std::thread::hardware_concurrency());
  s.priority_passes = true;  // kdump: kernel pages before user pages, so a full target keeps bt and log
  return s;
}

// The kernel log on the console: the last resort when no target took it.
void print_log_to_console(const std::string& text) {
  agent_say("----- kernel log of the crashed kernel (%zu bytes) -----", text.size());
  for (size_t off = 0; off < text.size();) {
    ssize_t w = ::write(2, text.data() + off, text.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  agent_say("----- end of kernel log -----");
}

// ---- the capture child ----------------------------------------------------

int capture_child(const CaptureConfig& cfg, const std::string& cmdline, double deadline) {
  const Log log(0);
  // 1. Modules for the targets, in dependency order.
  if (auto list = read_text_file(kCaptureModulesPath); list.ok()) {
    auto paths = parse_module_list(*list);
    if (paths.ok()) {
      int failed = load_module_list(*paths, cmdline);
      if (failed) agent_say("%d module(s) failed to load; trying the targets anyway", failed);
    } else {
      agent_say("%s: %s", kCaptureModulesPath, paths.error().message.c_str());
    }
  }

  if (cfg.test_hang_s) {
    agent_say("salvage.test_hang=%u: the capture stalls for %u s (a test of the timeout and the watchdog)",
              cfg.test_hang_s, cfg.test_hang_s);
    for (double until = agent_uptime() + cfg.test_hang_s; agent_uptime() < until;) ::sleep(1);
  }

  // 2. The crashed kernel's memory: identify, filter, decode the log.
  if (::access(kVmcore, F_OK) != 0) return kNoVmcore;
  const ConvertSettings settings = settings_for(cfg);
  agent_say("reading %s (dump level %d)", kVmcore, settings.dump_level);
  auto src = open_capture_source(kVmcore, settings.dump_level, log);
  if (!src.ok()) {
    agent_say("%s: %s", kVmcore, src.error().message.c_str());
    return kVmcoreUnreadable;
  }
  CaptureSource& s = **src;
  agent_say("crashed kernel %s on %s; %s", s.info.release.c_str(), s.info.hostname.c_str(),
            s.info.panic_string.empty() ? "no panic message found" : s.info.panic_string.c_str());
  agent_say("%llu of %llu RAM pages to write after filtering (%.2f s)",
            static_cast<unsigned long long>(s.prepared->filtered.kept.count()),
            static_cast<unsigned long long>(s.prepared->filtered.present.count()), s.prepare_seconds);
  s.trace = recover_capture_trace(cmdline, RelayresReadPaths{});  // flight recorder (agent/capture-trace.h)

  // 3. Targets in order; the first that takes the dump wins.
  auto say_lines = [](const std::string& text) {
    for (size_t a = 0, b; a < text.size(); a = b + 1) {
      b = text.find('\n', a);
      if (b == std::string::npos) b = text.size();
      agent_say("  %s", text.substr(a, b - a).c_str());
    }
  };
  bool kept_incomplete = false;  // a full file system kept vmcore-incomplete
  for (const auto& t : cfg.targets) {
    const std::string name = t.to_string();
    if (t.kind == TargetSpec::Kind::kNet) {  // the network target: agent/capture-net.h
      const NetOutcome o = capture_net_target(cfg, t, s, settings, log, deadline);
      if (o == NetOutcome::kSaved) return kSaved;
      kept_incomplete |= o == NetOutcome::kIncomplete;
      continue;
    }
    double wait = cfg.device_wait_s;
    // Leave time before the supervisor's deadline to print the log and act.
    if (deadline > 0) wait = std::min(wait, std::max(0.0, deadline - agent_uptime() - 5.0));
    agent_say("target %s: looking for the device (up to %.0f s)", name.c_str(), wait);
    auto dev = wait_for_target(t, wait);
    if (!dev.ok()) {
      agent_say("target %s: %s", name.c_str(), dev.error().message.c_str());
      continue;
    }
    agent_say("target %s: %s", name.c_str(), dev->c_str());
    if (t.file_system) {  // agent/capture-fs.h
      auto f = capture_to_file_system(*dev, t, s, settings, log);
      if (!f.ok()) {
        agent_say("target %s: %s; next target", name.c_str(), f.error().message.c_str());
        continue;
      }
      say_lines(f->capture.summary);
      if (!f->capture.complete) {
        agent_say("target %s: file system full, INCOMPLETE dump kept as %s; next target", name.c_str(),
                  f->vmcore_path.c_str());
        kept_incomplete = true;
        continue;
      }
      agent_say("dump complete on %s: %s in %.1f s", dev->c_str(), f->vmcore_path.c_str(), f->capture.seconds);
      return kSaved;
    }
    auto r = capture_to_device(*dev, name, s, settings, log);
    if (!r.ok()) {
      agent_say("target %s: %s; next target", name.c_str(), r.error().message.c_str());
      continue;
    }
    say_lines(r->summary);
    agent_say("dump %s on %s in %.1f s", r->complete ? "complete" : "INCOMPLETE", dev->c_str(), r->seconds);
    return r->complete ? kSaved : kSavedIncomplete;
  }
  if (cfg.targets.empty()) agent_say("no target configured (salvage.target= or /etc/salvage.conf)");
  if (kept_incomplete) return kSavedIncomplete;
  if (!s.dmesg.empty()) print_log_to_console(s.dmesg);
  else agent_say("the kernel log could not be decoded either: %s", s.dmesg_error.c_str());
  return kAllTargetsFailed;
}

// ---- the supervisor (PID 1) -----------------------------------------------

// Waits for `child` until `deadline` (0: none), petting the watchdog and
// reaping orphans. Returns the child's wait status, or -1 on timeout.
int supervise(pid_t child, double deadline, Watchdog& wd) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (;;) {
    int st = 0;
    pid_t r;
    while ((r = ::waitpid(-1, &st, WNOHANG)) > 0)
      if (r == child) return st;
    if (r < 0 && errno == ECHILD) return 0;  // cannot happen; do not spin
    wd.pet();
    if (deadline > 0 && agent_uptime() >= deadline) return -1;
    timespec one{1, 0};
    (void)::sigtimedwait(&chld, nullptr, &one);
  }
}

}  // namespace

bool is_capture_agent(int argc, char** argv) {
  const std::string_view name = argc > 0 && argv[0] ? argv[0] : "";
  if (name == "/init") return true;
  // PID 1 under any other name is the agent too (rdinit=/sbin/init), except
  // when called "salvage": that is a container running `salvage save` (say)
  // as its entry point, which must not become a capture agent and reboot.
  const std::string_view base = name.substr(name.rfind('/') == std::string_view::npos ? 0 : name.rfind('/') + 1);
  return ::getpid() == 1 && base != "salvage";
}

void run_capture_agent() {
  // SIGCHLD stays blocked in PID 1 (sigtimedwait collects it); the child
  // restores the default mask. SIGPIPE must never end anything.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto mount_problems = mount_basics();
  attach_console();
  struct utsname u {};
  ::uname(&u);
  agent_say("capture agent starting as pid %d on %s", static_cast<int>(::getpid()), u.release);
  for (const auto& m : mount_problems) agent_say("%s", m.c_str());
  tune_capture_memory();

  auto cmdline_r = read_text_file("/proc/cmdline");
  const std::string cmdline = cmdline_r.ok() ? *cmdline_r : "";
  const CaptureConfig cfg = read_config(cmdline);
  if (std::string h = cmdline_word(cmdline, "elfcorehdr="); !h.empty())
    agent_say("elfcorehdr=%s (the crashed kernel's ELF header, set by the kernel)", h.c_str());
  print_config(cfg);
  const double deadline = cfg.timeout_s ? agent_uptime() + cfg.timeout_s : 0;

  Watchdog wd;
  wd.open();

  int outcome = -2;  // -2: could not fork; -1: timed out; else the wait status
  pid_t child = ::fork();
  if (child == 0) {
    ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
    ::_exit(capture_child(cfg, cmdline, deadline));
  }
  if (child < 0) {
    agent_say("fork: %s; capturing in pid 1 itself", std::strerror(errno));
    outcome = capture_child(cfg, cmdline, deadline) << 8;  // as a wait status with that exit code
  } else {
    outcome = supervise(child, deadline, wd);
  }

  if (outcome == -1) {
    agent_say("capture TIMED OUT after %u s (salvage.timeout=%u): stopping it", cfg.timeout_s, cfg.timeout_s);
    ::kill(child, SIGKILL);
  } else if (WIFSIGNALED(outcome)) {
    agent_say("the capture process died of signal %d (%s): NO DUMP SAVED, or an incomplete one", WTERMSIG(outcome),
              strsignal(WTERMSIG(outcome)));
  } else if (WIFEXITED(outcome)) {
    agent_say("%s", child_status_text(WEXITSTATUS(outcome)));
  }
  agent_say("final action: %s", final_action_name(cfg.final_action));
  // A hardware watchdog stays armed for a reboot (if the reboot hangs, it
  // resets the machine: the same outcome) but not for halt or poweroff.
  if (cfg.final_action != FinalAction::kReboot) wd.disarm();
  do_final_action(cfg.final_action, kSyncLimitS);
  agent_say("sleeping forever (pid 1 must not exit)");
  sleep_forever();
}

}  // namespace salvage

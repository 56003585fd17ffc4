// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/capture-system.h"

#include <fcntl.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "agent/cmdline.h"
#include "agent/crashkernel.h"
#include "agent/host-paths.h"
#include "agent/modules.h"

namespace salvage {

namespace {

double monotonic() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

// CLOCK_MONOTONIC counts from boot, as the kernel's own console timestamps
// ("[   3.141] ...") do, so agent lines line up with them.
double agent_uptime() { return monotonic(); }

void agent_say(const char* fmt, ...) {
  char buf[1024];
  int n = std::snprintf(buf, sizeof buf, "salvage: [%7.2f] ", agent_uptime());
  va_list ap;
  va_start(ap, fmt);
  n += std::vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n), fmt, ap);
  va_end(ap);
  if (n > static_cast<int>(sizeof buf) - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  for (int off = 0; off < n;) {
    ssize_t w = ::write(2, buf + off, static_cast<size_t>(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += static_cast<int>(w);
  }
}

std::vector<std::string> mount_basics() {
  struct M {
    const char* src;
    const char* dir;
    const char* type;
    unsigned long flags;
  };
  static constexpr M kMounts[] = {
      {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID},
      {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC},
      {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC},
      {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV},
  };
  std::vector<std::string> failed;
  for (const M& m : kMounts) {
    ::mkdir(m.dir, 0755);
    if (::mount(m.src, m.dir, m.type, m.flags, nullptr) != 0 && errno != EBUSY)
      failed.push_back(std::string("mount ") + m.type + " on " + m.dir + ": " + std::strerror(errno));
  }
  return failed;
}

void attach_console() {
  int fd = ::open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return;  // nothing better to do: keep whatever we have
  for (int i = 0; i < 3; ++i) ::dup2(fd, i);  // dup2 clears O_CLOEXEC on the copies
  if (fd > 2) ::close(fd);
}

void tune_capture_memory() {
  // Watermark boosting (mm/page_alloc.c boost_watermark, since Linux 5.0,
  // commit 1c30844d2dfe) raises a zone's min watermark by a pageblock, 2 MiB
  // on x86_64, after an allocation falls back to another migrate type, and
  // only kswapd's reclaim lowers it again. The kernel skips it on zones under
  // 8 MiB "including kdump capture kernels", but a crashkernel=64M capture
  // kernel has ~18 MiB managed: there the boost holds back a tenth of memory
  // that reclaim cannot give back (no swap, no page cache yet), and the lab
  // saw GFP_KERNEL allocations go to the OOM killer with 1.5 MiB free.
  // (The boot itself, before /init, is helped by smaller initramfs and the
  // capture command line; see docs/arming.md.)
  int fd = ::open("/proc/sys/vm/watermark_boost_factor", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, "0\n", 2) != 2)
    agent_say("vm.watermark_boost_factor=0: %s (carrying on)", std::strerror(errno));
  if (fd >= 0) ::close(fd);

  auto text = read_text_file("/proc/meminfo", 64 << 10);
  auto mi = text.ok() ? parse_meminfo(*text) : Result<MemInfo>(text.error());
  if (!mi.ok()) return;
  agent_say("memory: %.1f MiB in this kernel, %.1f MiB free at start", mi->total / 1048576.0, mi->free / 1048576.0);
}

int load_module_list(const std::vector<std::string>& paths, std::string_view cmdline) {
  int failed = 0;
  for (const auto& p : paths) {
    const std::string params = module_options(cmdline, module_name(p));
    const double t0 = agent_uptime();
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      agent_say("module %s: cannot open: %s", p.c_str(), std::strerror(errno));
      ++failed;
      continue;
    }
    // flags 0: the initramfs holds plain .ko files (mkinitramfs decompresses).
    long r = ::syscall(SYS_finit_module, fd, params.c_str(), 0);
    int e = errno;
    ::close(fd);
    if (r == 0 && !params.empty())
      agent_say("module %s loaded with %s (%.2f s)", p.c_str(), params.c_str(), agent_uptime() - t0);
    else if (r == 0) agent_say("module %s loaded (%.2f s)", p.c_str(), agent_uptime() - t0);
    else if (e == EEXIST) agent_say("module %s already present", p.c_str());
    else {
      agent_say("module %s: finit_module: %s", p.c_str(), std::strerror(e));
      ++failed;
    }
  }
  return failed;
}

Watchdog::~Watchdog() {
  if (fd_ >= 0) ::close(fd_);
}

void Watchdog::open() {
  if (fd_ >= 0) return;
  fd_ = ::open("/dev/watchdog", O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) return;  // no watchdog (yet): nothing to pet
  int timeout = 0;
  if (::ioctl(fd_, WDIOC_GETTIMEOUT, &timeout) == 0)
    agent_say("watchdog armed (/dev/watchdog, timeout %d s); petting it while the capture runs", timeout);
  else
    agent_say("watchdog armed (/dev/watchdog); petting it while the capture runs");
  pet();
}

void Watchdog::pet() {
  // The driver is usually a module (softdog, i6300esb, iTCO_wdt) that the
  // capture child loads after PID 1 started: keep looking for the device.
  if (fd_ < 0) open();
  if (fd_ < 0) return;
  (void)!::write(fd_, "\0", 1);
}

void Watchdog::disarm() {
  if (fd_ < 0) return;
  (void)!::write(fd_, "V", 1);  // magic close (CONFIG_WATCHDOG_NOWAYOUT may ignore it)
  ::close(fd_);
  fd_ = -1;
}

void do_final_action(FinalAction a, unsigned max_sync_seconds) {
  // sync(2) can block forever on a device that stopped answering; a child
  // does it and is abandoned after the limit.
  pid_t pid = ::fork();
  if (pid == 0) {
    ::sync();
    ::_exit(0);
  }
  if (pid > 0) {
    const double deadline = agent_uptime() + max_sync_seconds;
    for (;;) {
      int st = 0;
      pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid || (r < 0 && errno != EINTR)) break;
      if (agent_uptime() > deadline) {
        agent_say("sync did not finish in %u s; going on without it", max_sync_seconds);
        break;
      }
      ::usleep(100 * 1000);
    }
  } else {
    ::sync();  // no fork: sync here and hope
  }
  int cmd = a == FinalAction::kPoweroff ? RB_POWER_OFF : a == FinalAction::kHalt ? RB_HALT_SYSTEM : RB_AUTOBOOT;
  ::reboot(cmd);
  agent_say("final action %s failed: %s", final_action_name(a), std::strerror(errno));
}

void sleep_forever() {
  for (;;) ::pause();
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// Runs a check in a fresh network namespace made for the test (a forked
// child that calls unshare(CLONE_NEWNET)), with a veth pair v0 <-> v1 in it
// (made by iproute2's `ip`, which the child's namespace confines). The host's
// network is never touched. The check returns "" on success or what failed.
#pragma once

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

namespace salvage::testing {

// "" or why namespaces are unavailable (the test then skips).
inline std::string run_in_netns(const std::function<std::string()>& check) {
  int p[2];
  if (::pipe(p) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    std::string r;
    if (::unshare(CLONE_NEWNET) != 0) r = "SKIP unshare(CLONE_NEWNET) failed";
    else if (std::system("ip link add v0 type veth peer name v1 >/dev/null 2>&1") != 0) r = "SKIP cannot create a veth pair";
    else r = check();
    (void)!::write(p[1], r.data(), r.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (!WIFEXITED(st)) return "the namespace child died (signal " + std::to_string(WTERMSIG(st)) + ")";
  return out;
}

}  // namespace salvage::testing

#define RUN_IN_NETNS(...)                                              \
  do {                                                                 \
    std::string netns_r = salvage::testing::run_in_netns(__VA_ARGS__);     \
    if (netns_r.rfind("SKIP ", 0) == 0) GTEST_SKIP() << netns_r;       \
    EXPECT_EQ(netns_r, "");                                            \
  } while (0)

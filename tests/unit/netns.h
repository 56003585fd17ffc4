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

// Inside run_in_netns: a peer in a second namespace (one namespace would
// see its own addresses as martian sources). start() forks it; it unshares
// a network namespace, waits until v1 has been moved into it, brings lo and
// v1 up with 10.9.0.1/24 and runs serve(). Meanwhile this side runs
// `ip link set v1 netns PEER && <parent_setup>`. finish() waits for the peer
// and returns what serve() returned, or the peer's setup failure prefixed
// with `error_prefix`.
class NetnsPeer {
 public:
  NetnsPeer(const std::function<std::string()>& serve, const std::string& parent_setup,
            const std::string& error_prefix = "") {
    int ready[2], go[2];
    if (::pipe(ready) || ::pipe(go) || ::pipe(res_)) {
      error_ = "pipe";
      return;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string r;
      char c;
      if (::unshare(CLONE_NEWNET) != 0) r = error_prefix + "server unshare";
      (void)!::write(ready[1], "x", 1);
      (void)!::read(go[0], &c, 1);
      if (r.empty() && std::system("ip link set lo up && ip link set v1 up && ip addr add 10.9.0.1/24 dev v1") != 0)
        r = error_prefix + "server ip setup";
      if (r.empty()) r = serve();
      (void)!::write(res_[1], r.data(), r.size());
      ::_exit(0);
    }
    ::close(res_[1]);
    char c;
    (void)!::read(ready[0], &c, 1);
    const std::string mv = "ip link set v1 netns " + std::to_string(pid_) + " && " + parent_setup;
    const bool moved = std::system(mv.c_str()) == 0;
    (void)!::write(go[1], "x", 1);
    if (!moved) error_ = "moving v1";
  }
  // "" when the peer is serving; else what went wrong.
  const std::string& error() const { return error_; }
  std::string finish() {
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(res_[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    return out;
  }

 private:
  pid_t pid_ = -1;
  int res_[2] = {-1, -1};
  std::string error_;
};

}  // namespace salvage::testing

#define RUN_IN_NETNS(...)                                              \
  do {                                                                 \
    std::string netns_r = salvage::testing::run_in_netns(__VA_ARGS__);     \
    if (netns_r.rfind("SKIP ", 0) == 0) GTEST_SKIP() << netns_r;       \
    EXPECT_EQ(netns_r, "");                                            \
  } while (0)

// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage test` with a net target against a live `salvage collector` on
// loopback (issue 4): the probe connects with the bundle the initramfs
// carries, completes TLS 1.3 and PROBE, and reports accepted / refused (not
// enrolled, wrong host, with the collector's reason) / unreachable (address
// and errno) / TLS failure; the collector stores nothing for any of them.
// The collector runs in a forked child (run_collector serves until SIGTERM).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/collector.h"
#include "agent/commands.h"
#include "formats/cpio.h"
#include "tests/unit/fake-host.h"
#include "tests/unit/temp-dir.h"

namespace salvage {
namespace {

namespace fs = std::filesystem;
using testing::FakeHost;
using testing::run_command;

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A collector in a child process; stopped (SIGTERM) and reaped at scope end.
struct LiveCollector {
  pid_t pid = -1;
  uint16_t port = 0;
  LiveCollector(const std::string& root, const std::string& cred, bool insecure, const std::string& port_file,
                uint64_t quota_bytes = UINT64_MAX) {
    fs::remove(port_file);
    pid = ::fork();
    if (pid == 0) {
      CollectorOptions o;
      o.listen_address = "127.0.0.1";
      o.port = 0;
      o.root = root;
      o.cred_dir = cred;
      o.insecure = insecure;
      o.port_file = port_file;
      o.limits.quota_bytes = quota_bytes;
      const Log log(0);
      ::_exit(run_collector(o, log));
    }
    for (int i = 0; i < 200 && port == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      port = static_cast<uint16_t>(std::atoi(slurp(port_file).c_str()));
    }
  }
  ~LiveCollector() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// The capture initramfs of a net-only host: /init, salvage.conf and, unless
// empty, the bundle at /etc/salvage/collector.bundle.
void write_initramfs(const FakeHost& h, const std::string& conf, const std::string& bundle) {
  CpioWriter w;
  (void)w.add_file("init", 0755, std::string(5000, 'x'));
  (void)w.add_file("etc/salvage.conf", 0644, conf);
  if (!bundle.empty()) (void)w.add_file("etc/salvage/collector.bundle", 0600, bundle);
  testing::write_file(h.root + "/var/lib/salvage/initramfs-" + h.release + ".img", testing::gzip(w.finish()));
}

std::string net_conf(uint16_t port, bool insecure) {
  return "version=1\ntarget=net\nnet=52:54:00:12:34:56\nip=static\nnet_address=10.0.2.15/24\ncollector=127.0.0.1:" +
         std::to_string(port) + "\n" +
         (insecure ? "collector_insecure=1\n" : "collector_bundle=/etc/salvage/collector.bundle\n");
}

int run_test(const FakeHost& h, std::string* out) {
  ::testing::internal::CaptureStdout();
  int rc = run_command(cmd_test, h.args({"test", "--probe-timeout", "5"}));
  *out = ::testing::internal::GetCapturedStdout();
  return rc;
}

// Nothing under the collector's root: no host directory, no file.
bool stored_nothing(const std::string& root) { return !fs::exists(root) || fs::is_empty(root); }

class SelfTestNet : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp = std::make_unique<testing::TempDir>("salvage-selftest-net");
    cred = tmp->path + "/cred";
    root = tmp->path + "/root";
    const Log quiet(0);
    ASSERT_TRUE(enroll_host(cred, "web-01", "127.0.0.1:7341", tmp->path + "/web-01.bundle", quiet).ok());
    bundle = slurp(tmp->path + "/web-01.bundle");
  }
  std::unique_ptr<testing::TempDir> tmp;
  std::string cred, root, bundle;
};

TEST_F(SelfTestNet, EnrolledHostIsAcceptedAndNothingIsStored) {
  LiveCollector c(root, cred, false, tmp->path + "/port");
  ASSERT_NE(c.port, 0);
  FakeHost h;
  write_initramfs(h, net_conf(c.port, false), bundle);
  std::string out;
  EXPECT_EQ(run_test(h, &out), 0) << out;
  EXPECT_NE(out.find("ok    target net: collector 127.0.0.1:" + std::to_string(c.port) +
                     " accepts this host as web-01 (TLS 1.3, mutual); nothing stored by the probe"),
            std::string::npos)
      << out;
  EXPECT_TRUE(stored_nothing(root)) << "the probe created " << fs::begin(fs::directory_iterator(root))->path();
}

TEST_F(SelfTestNet, UnenrolledHostFailsWithTheReason) {
  // A key enrolled at another collector, pinning ours: what an unenrolled host has.
  const Log quiet(0);
  ASSERT_TRUE(enroll_host(tmp->path + "/other", "web-01", "127.0.0.1:1", tmp->path + "/rogue.bundle", quiet).ok());
  auto ours = parse_bundle(bundle).value();
  std::string rogue = slurp(tmp->path + "/rogue.bundle");
  const auto fp = rogue.find("collector-fingerprint ") + 22;
  rogue.replace(fp, 64, ours.collector_fingerprint);
  LiveCollector c(root, cred, false, tmp->path + "/port");
  ASSERT_NE(c.port, 0);
  FakeHost h;
  write_initramfs(h, net_conf(c.port, false), rogue);
  std::string out;
  EXPECT_EQ(run_test(h, &out), 1) << out;
  EXPECT_NE(out.find("FAIL  target net: collector refused: 127.0.0.1:" + std::to_string(c.port) +
                     " refused this host's certificate after the TLS handshake"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("not enrolled there"), std::string::npos) << out;
  EXPECT_TRUE(stored_nothing(root));
}

TEST_F(SelfTestNet, AnotherHostsNameIsRefusedWithTheCollectorsReason) {
  std::string liar = bundle;
  liar.replace(liar.find("host web-01"), 11, "host web-02");
  LiveCollector c(root, cred, false, tmp->path + "/port");
  ASSERT_NE(c.port, 0);
  FakeHost h;
  write_initramfs(h, net_conf(c.port, false), liar);
  std::string out;
  EXPECT_EQ(run_test(h, &out), 1) << out;
  EXPECT_NE(out.find("refuses this host: wrong host name: certificate enrolled for web-01, PROBE says web-02"),
            std::string::npos)
      << out;
  EXPECT_TRUE(stored_nothing(root));
}

TEST_F(SelfTestNet, HostAtItsQuotaIsRefusedAndNothingIsAdded) {
  testing::write_file(root + "/web-01/20261122-000000/vmcore", std::string(4096, 'x'));
  LiveCollector c(root, cred, false, tmp->path + "/port", 1024);
  ASSERT_NE(c.port, 0);
  FakeHost h;
  write_initramfs(h, net_conf(c.port, false), bundle);
  std::string out;
  EXPECT_EQ(run_test(h, &out), 1) << out;
  EXPECT_NE(out.find("refuses this host: quota reached: host web-01 has 4096 bytes stored"), std::string::npos) << out;
  size_t entries = 0;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) ++entries;
  EXPECT_EQ(entries, 3u);  // web-01, its dump directory, the vmcore: nothing new
}

TEST_F(SelfTestNet, NothingListeningNamesTheAddressAndErrno) {
  // A port that was just free: bound, not listening.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  const uint16_t port = ntohs(sa.sin_port);
  FakeHost h;
  write_initramfs(h, net_conf(port, false), bundle);
  std::string out;
  EXPECT_EQ(run_test(h, &out), 1) << out;
  ::close(s);
  EXPECT_NE(out.find("FAIL  target net: collector unreachable: cannot connect to 127.0.0.1:" + std::to_string(port) +
                     ": Connection refused (errno 111, ECONNREFUSED)"),
            std::string::npos)
      << out;
}

TEST_F(SelfTestNet, TlsProbeOfAPlaintextCollectorIsATlsFailure) {
  LiveCollector c(root, cred, true, tmp->path + "/port");
  ASSERT_NE(c.port, 0);
  FakeHost h;
  write_initramfs(h, net_conf(c.port, false), bundle);
  std::string out;
  EXPECT_EQ(run_test(h, &out), 1) << out;
  EXPECT_NE(out.find("FAIL  target net: collector TLS failure: TLS 1.3 handshake with 127.0.0.1:" +
                     std::to_string(c.port) + " failed"),
            std::string::npos)
      << out;
  EXPECT_TRUE(stored_nothing(root));
}

TEST_F(SelfTestNet, InsecureLabProbe) {
  LiveCollector c(root, cred, true, tmp->path + "/port");
  ASSERT_NE(c.port, 0);
  FakeHost h;
  testing::write_file(h.root + "/proc/sys/kernel/hostname", "lab-host\n");
  write_initramfs(h, net_conf(c.port, true), "");
  std::string out;
  EXPECT_EQ(run_test(h, &out), 0) << out;
  EXPECT_NE(out.find("warn  target net: collector_insecure=1"), std::string::npos) << out;
  EXPECT_NE(out.find("accepts this host as lab-host (INSECURE plaintext)"), std::string::npos) << out;
  EXPECT_TRUE(stored_nothing(root));
}

TEST_F(SelfTestNet, PlaintextProbeOfATlsCollectorFails) {
  LiveCollector c(root, cred, false, tmp->path + "/port");
  ASSERT_NE(c.port, 0);
  FakeHost h;
  write_initramfs(h, net_conf(c.port, true), "");
  std::string out;
  EXPECT_EQ(run_test(h, &out), 1) << out;
  EXPECT_NE(out.find("a TLS collector does that to a plaintext client"), std::string::npos) << out;
  EXPECT_TRUE(stored_nothing(root));
}

// A version-1 collector answers PROBE (a version-2 frame) with REFUSE
// "unsupported version": reachable, but the host's name was not checked.
TEST_F(SelfTestNet, VersionOneCollectorIsAWarning) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(s, 1), 0);
  socklen_t len = sizeof sa;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  std::thread old([s] {
    int c = ::accept(s, nullptr, nullptr);
    std::byte hdr[kFrameHeaderSize];
    (void)!::recv(c, hdr, sizeof hdr, MSG_WAITALL);
    // What collector-server.cc of version 1 sends for a version it does not speak.
    auto out = encode_refusal(FrameType::kRefuse, {ReasonCode::kVersion, "this collector speaks version 1"});
    (void)!::send(c, out.data(), out.size(), 0);
    ::close(c);
  });
  FakeHost h;
  write_initramfs(h, net_conf(ntohs(sa.sin_port), true), "");
  std::string out;
  EXPECT_EQ(run_test(h, &out), 0) << out;
  old.join();
  ::close(s);
  EXPECT_NE(out.find("warn  target net: collector 127.0.0.1:" + std::to_string(ntohs(sa.sin_port)) +
                     " speaks only wire protocol version 1"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace salvage

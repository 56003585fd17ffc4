// SPDX-License-Identifier: GPL-2.0-or-later
#include <gtest/gtest.h>
#include <utime.h>

#include "agent/arm-state.h"
#include "agent/commands.h"
#include "agent/host-paths.h"
#include "tests/unit/fake-host.h"

namespace salvage {
namespace {

using testing::FakeHost;
using testing::run_command;

int status(const FakeHost& h, std::string* out) {
  ::testing::internal::CaptureStdout();
  int rc = run_command(cmd_status, h.args({"status"}));
  *out = ::testing::internal::GetCapturedStdout();
  return rc;
}

void arm(const FakeHost& h) {
  ArmState s;
  s.kernel = *stamp_file(h.root + "/boot/vmlinuz-" + h.release);
  s.kernel_release = h.release;
  s.initrd = *stamp_file(h.root + "/var/lib/salvage/initramfs-" + h.release + ".img");
  s.cmdline = "console=ttyS0 irqpoll salvage.target=LABEL=dumpdisk";
  s.method = "kexec_file_load";
  ASSERT_TRUE(write_file_atomic(h.root + "/var/lib/salvage/loaded", render_arm_state(s), 0644).ok());
  testing::write_file(h.root + "/sys/kernel/kexec_crash_loaded", "1\n");
}

TEST(Status, NotLoaded) {
  FakeHost h;
  std::string out;
  EXPECT_EQ(status(h, &out), 1) << out;
  EXPECT_NE(out.find("not loaded"), std::string::npos) << out;
  EXPECT_NE(out.find("reserved memory: 256 MiB"), std::string::npos) << out;
}

TEST(Status, LoadedAndCurrent) {
  FakeHost h;
  arm(h);
  std::string out;
  EXPECT_EQ(status(h, &out), 0) << out;
  EXPECT_NE(out.find("target:          LABEL=dumpdisk"), std::string::npos) << out;
  EXPECT_NE(out.find("up to date:      yes"), std::string::npos) << out;
}

TEST(Status, StaleAfterKernelChangeAndLockdownReported) {
  FakeHost h;
  arm(h);
  testing::write_file(h.root + "/proc/sys/kernel/osrelease", "6.1.0-newer-amd64\n");
  testing::write_file(h.root + "/sys/kernel/security/lockdown", "none [integrity] confidentiality\n");
  std::string out;
  EXPECT_EQ(status(h, &out), 3) << out;
  EXPECT_NE(out.find("the loaded kernel is " + h.release + " but 6.1.0-newer-amd64 is running"), std::string::npos) << out;
  EXPECT_NE(out.find("lockdown:        integrity"), std::string::npos) << out;
  EXPECT_NE(out.find("only kexec_file_load with a kernel signed"), std::string::npos) << out;
}

TEST(Status, StaleWhenModulesNewerThanInitramfs) {
  FakeHost h;
  arm(h);
  std::string moddir = h.root + "/lib/modules/" + h.release;
  std::filesystem::create_directories(moddir);
  struct utimbuf t{0, 4000000000};  // far in the future
  ::utime(moddir.c_str(), &t);
  std::string out;
  EXPECT_EQ(status(h, &out), 3) << out;
  EXPECT_NE(out.find("the initramfs is older than"), std::string::npos) << out;
}

}  // namespace
}  // namespace salvage

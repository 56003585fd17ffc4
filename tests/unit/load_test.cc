// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage load` against a fake host. Nothing here calls kexec_file_load:
// --dry-run stops before it, and the real-load test forces the kexec-tools
// path onto a stub script, so the host is never armed.
#include <gtest/gtest.h>

#include "agent/arm-state.h"
#include "agent/commands.h"
#include "agent/host-paths.h"
#include "tests/unit/fake-host.h"

namespace salvage {
namespace {

using testing::FakeHost;
using testing::run_command;

TEST(Load, DryRunPrintsCaptureCommandLine) {
  FakeHost h;
  ::testing::internal::CaptureStdout();
  int rc = run_command(cmd_load, h.args({"load", "--dry-run", "--target", "LABEL=dumpdisk"}));
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("command line: console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=10"), std::string::npos) << out;
  EXPECT_NE(out.find("salvage.target=LABEL=dumpdisk"), std::string::npos) << out;
  EXPECT_EQ(out.find("crashkernel="), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(h.root + "/var/lib/salvage/loaded"));
}

TEST(Load, NoReservationNamesCrashkernel) {
  FakeHost h;
  testing::write_file(h.root + "/sys/kernel/kexec_crash_size", "0\n");
  ::testing::internal::CaptureStderr();
  int rc = run_command(cmd_load, h.args({"load", "--dry-run"}));
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("no memory is reserved for a capture kernel"), std::string::npos) << err;
  EXPECT_NE(err.find("crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M"), std::string::npos) << err;
  EXPECT_NE(err.find("192 MiB"), std::string::npos) << err;  // the fake host has ~1.9 GiB
}

TEST(Load, RejectsUnknownSalvageOption) {
  FakeHost h;
  ::testing::internal::CaptureStderr();
  int rc = run_command(cmd_load, h.args({"load", "--dry-run", "--option", "dump_levl=31"}));
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("unknown key 'dump_levl'"), std::string::npos) << err;
}

TEST(Load, KexecToolsPathRecordsStateAndUnloads) {
  FakeHost h;
  std::string log = h.root + "/kexec.log", stub = h.root + "/kexec-stub";
  testing::write_file(stub, "#!/bin/sh\necho \"$@\" >> " + log + "\n");
  ::chmod(stub.c_str(), 0755);
  ::testing::internal::CaptureStdout();
  int rc = run_command(cmd_load, h.args({"load", "--method", "kexec-tools", "--kexec", stub}));
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(rc, 0) << out;
  auto called = read_text_file(log);
  ASSERT_TRUE(called.ok());
  EXPECT_NE(called->find("-p " + h.root + "/boot/vmlinuz-" + h.release + " --initrd="), std::string::npos) << *called;
  auto st = read_text_file(h.root + "/var/lib/salvage/loaded");
  ASSERT_TRUE(st.ok());
  auto s = parse_arm_state(*st);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->kernel_release, h.release);
  EXPECT_EQ(s->method, "kexec-tools");
  EXPECT_NE(s->cmdline.find("irqpoll"), std::string::npos);

  ::testing::internal::CaptureStdout();
  rc = run_command(cmd_load, h.args({"load", "--unload", "--method", "kexec-tools", "--kexec", stub}));
  out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(read_text_file(log)->find("-p -u"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(h.root + "/var/lib/salvage/loaded"));
}

}  // namespace
}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage test` against a fake host: the required proof that it catches a
// missing target without crashing anything.
#include <gtest/gtest.h>

#include "agent/commands.h"
#include "tests/unit/fake-host.h"

namespace salvage {
namespace {

using testing::FakeHost;
using testing::run_command;

int run_test(const FakeHost& h, std::vector<std::string> extra, std::string* out) {
  std::vector<std::string> cmd = {"test"};
  cmd.insert(cmd.end(), extra.begin(), extra.end());
  ::testing::internal::CaptureStdout();
  int rc = run_command(cmd_test, h.args(cmd));
  *out = ::testing::internal::GetCapturedStdout();
  return rc;
}

TEST(SelfTest, PassesWithTargetPresent) {
  FakeHost h;
  h.add_disk("vdb", "dumpdisk", 1ull << 30);
  std::string out;
  EXPECT_EQ(run_test(h, {}, &out), 0) << out;
  EXPECT_NE(out.find("target LABEL=dumpdisk"), std::string::npos) << out;
  EXPECT_NE(out.find("all checks passed"), std::string::npos) << out;
}

TEST(SelfTest, CatchesMissingTarget) {
  FakeHost h;  // no disk labelled dumpdisk
  std::string out;
  EXPECT_EQ(run_test(h, {}, &out), 1) << out;
  EXPECT_NE(out.find("FAIL  target LABEL=dumpdisk: no such device"), std::string::npos) << out;
}

TEST(SelfTest, CatchesTooSmallTargetAndReservation) {
  FakeHost h;
  h.add_disk("vdb", "dumpdisk", 64ull << 20);                      // far below the estimate
  testing::write_file(h.root + "/sys/kernel/kexec_crash_size", "0\n");  // nothing reserved
  std::string out;
  EXPECT_EQ(run_test(h, {}, &out), 1) << out;
  EXPECT_NE(out.find("smaller than the estimated dump"), std::string::npos) << out;
  EXPECT_NE(out.find("no crashkernel memory reserved: add crashkernel="), std::string::npos) << out;
}

TEST(SelfTest, TargetFlagOverridesConfigAndMissingModuleFails) {
  FakeHost h;
  h.add_disk("vdc", "other", 1ull << 30);
  // vdc is driven by a loadable virtio_blk the initramfs does not carry.
  namespace fs = std::filesystem;
  fs::create_directories(h.root + "/sys/devices/pci0/virtio1/driver");
  fs::create_directories(h.root + "/sys/module/virtio_blk");
  testing::write_file(h.root + "/sys/module/virtio_blk/initstate", "live\n");
  fs::create_symlink("../../../../module/virtio_blk", h.root + "/sys/devices/pci0/virtio1/driver/module");
  fs::create_symlink("../../../devices/pci0/virtio1", h.root + "/sys/class/block/vdc/device");
  std::string out;
  EXPECT_EQ(run_test(h, {"--target", "LABEL=other"}, &out), 1) << out;
  EXPECT_NE(out.find("needs module virtio_blk"), std::string::npos) << out;
  EXPECT_EQ(out.find("dumpdisk"), std::string::npos) << out;
}

TEST(SelfTest, MissingInitramfsFails) {
  FakeHost h;
  h.add_disk("vdb", "dumpdisk", 1ull << 30);
  std::filesystem::remove(h.root + "/var/lib/salvage/initramfs-" + h.release + ".img");
  std::string out;
  EXPECT_EQ(run_test(h, {"--target", "LABEL=dumpdisk"}, &out), 1) << out;
  EXPECT_NE(out.find("salvage mkinitramfs"), std::string::npos) << out;
}

// A file-system target mounted now: its file-system module (a loadable
// xfs here) must be in the initramfs, and the mount must have room.
void mount_xfs(FakeHost& h, const std::string& mountpoint) {
  h.add_disk("vdd", "crashfs", 8ull << 30);
  testing::write_file(h.root + "/sys/module/xfs/initstate", "live\n");
  testing::write_file(h.root + "/proc/self/mounts", "/dev/vdd " + mountpoint + " xfs rw,relatime 0 0\n");
}

TEST(SelfTest, FileSystemTargetNeedsItsModule) {
  FakeHost h;
  mount_xfs(h, h.root);  // statvfs of the mount point: the temp dir's real file system
  std::string out;
  EXPECT_EQ(run_test(h, {"--target", "fs:LABEL=crashfs:/var/crash"}, &out), 1) << out;
  EXPECT_NE(out.find("FAIL  target fs:LABEL=crashfs:/var/crash: needs module xfs"), std::string::npos) << out;
  EXPECT_NE(out.find(" free for an estimated "), std::string::npos) << out;
}

TEST(SelfTest, FileSystemTargetWithModulePasses) {
  FakeHost h;
  mount_xfs(h, h.root);
  testing::write_file(h.root + "/var/lib/salvage/initramfs-" + h.release + ".img",
                      testing::capture_initramfs("version=1\ntarget=fs:LABEL=crashfs:/var/crash\n",
                                                 {"lib/modules/x/kernel/fs/xfs/xfs.ko"}));
  std::string out;
  EXPECT_EQ(run_test(h, {}, &out), 0) << out;
  EXPECT_NE(out.find("ok    target fs:LABEL=crashfs:/var/crash: module xfs is in the initramfs"), std::string::npos) << out;
}

TEST(SelfTest, UnmountedFileSystemTargetIsAWarningNotAFailure) {
  FakeHost h;
  h.add_disk("vdd", "crashfs", 8ull << 30);
  std::string out;
  EXPECT_EQ(run_test(h, {"--target", "fs:LABEL=crashfs:/var/crash"}, &out), 0) << out;
  EXPECT_NE(out.find("warn  target fs:LABEL=crashfs:/var/crash: not mounted now"), std::string::npos) << out;
}

}  // namespace
}  // namespace salvage

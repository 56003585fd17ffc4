// SPDX-License-Identifier: GPL-2.0-or-later
// The file-system target's path rules and its write sequence, against a
// temporary directory (no mount here; the lab mounts a real ext4): host
// names are made safe, times are UTC names that sort, directories are new
// and 0700, files 0600, vmcore appears only whole, and a full file system
// (RLIMIT_FSIZE stands in for it) keeps vmcore-incomplete.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "agent/capture-fs.h"
#include "agent/file-source.h"
#include "tests/fuzz/synth-vmcore.h"
#include "tests/unit/temp-dir.h"

namespace salvage {
namespace {

namespace fs = std::filesystem;

using testing::mode_of;
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("salvage-capture-fs") {}
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string synthetic_vmcore(const std::string& dir) {
  synth::Spec s = synth::minimal_spec();
  for (auto& l : s.loads) l.filesz = l.memsz;
  synth::Bytes b = synth::build(s);
  const std::string p = dir + "/in.vmcore";
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return p;
}

ConvertSettings raw_settings() {
  ConvertSettings s;
  s.dump_level = 0;
  s.encoding = PageEncoding::kRaw;
  return s;
}

TEST(CaptureFs, HostComponentIsOneSafePathComponent) {
  EXPECT_EQ(fs_host_component("web-1.example.com"), "web-1.example.com");
  EXPECT_EQ(fs_host_component("a/b c\x01\xff"), "a_b_c__");
  for (const char* unusable : {"", ".", "..", "(none)"}) EXPECT_EQ(fs_host_component(unusable), "unknown-host") << unusable;
  EXPECT_EQ(fs_host_component(std::string(100, 'h')).size(), 64u);
  EXPECT_EQ(fs_host_component("../../etc").find('/'), std::string::npos);
}

TEST(CaptureFs, TimeComponentIsUtcAndSortable) {
  EXPECT_EQ(fs_time_component(0), "19700101-000000");
  EXPECT_EQ(fs_time_component(1700000000), "20231114-221320");
  EXPECT_LT(fs_time_component(1700000000), fs_time_component(1700000001));
}

TEST(CaptureFs, MountTypes) {
  EXPECT_EQ(*mount_type_for("ext4"), "ext4");
  EXPECT_EQ(*mount_type_for("ext2"), "ext4");
  EXPECT_EQ(*mount_type_for("xfs"), "xfs");
  auto bad = mount_type_for("vfat");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("vfat"), std::string::npos);
}

TEST(CaptureFs, CaptureDirIsCreatedPrivateAndNeverReused) {
  TempDir t;
  const mode_t old = ::umask(0);  // the modes must not depend on the umask
  auto a = make_capture_dir(t.path, "/crash/deep/", "(none)", 1700000000);
  auto b = make_capture_dir(t.path, "/crash/deep", "(none)", 1700000000);
  ::umask(old);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(*a, t.path + "/crash/deep/unknown-host/20231114-221320");
  EXPECT_EQ(*b, *a + ".1");
  for (const std::string& d : {t.path + "/crash", t.path + "/crash/deep", t.path + "/crash/deep/unknown-host", *a, *b})
    EXPECT_EQ(mode_of(d), 0700u) << d;
  EXPECT_FALSE(make_capture_dir(t.path, "/x/../y", "h", 0).ok());
  auto root = make_capture_dir(t.path, "/", "h", 0);
  ASSERT_TRUE(root.ok()) << root.error().message;
  EXPECT_EQ(*root, t.path + "/h/19700101-000000");
}

TEST(CaptureFs, WritesDmesgThenAWholeVmcoreThenTheSummary) {
  TempDir t;
  const Log log(0);
  auto src = open_capture_source(synthetic_vmcore(t.path), 0, log);
  ASSERT_TRUE(src.ok()) << src.error().message;
  (*src)->dmesg = "[    1.0] Kernel panic - not syncing: test\n";
  auto dir = make_capture_dir(t.path, "/crash", (*src)->info.hostname, 1700000000);
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  auto r = write_capture_files(*dir, "/dev/vdb", "fs:/dev/vdb:/crash", **src, raw_settings(), log);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->capture.complete);
  EXPECT_EQ(r->vmcore_path, *dir + "/vmcore");
  EXPECT_FALSE(fs::exists(*dir + "/vmcore-incomplete"));
  EXPECT_EQ(slurp(*dir + "/dmesg.txt"), (*src)->dmesg);
  EXPECT_EQ(r->capture.dmesg_bytes, (*src)->dmesg.size());
  for (const char* f : {"dmesg.txt", "vmcore", "summary.txt"}) EXPECT_EQ(mode_of(*dir + "/" + f), 0600u) << f;
  EXPECT_EQ(fs::file_size(*dir + "/vmcore"), r->capture.dump_bytes);

  auto file = FileSource::open(*dir + "/vmcore");
  ASSERT_TRUE(file.ok());
  auto dump = open_dump(**file);
  ASSERT_TRUE(dump.ok()) << dump.error().message;
  EXPECT_EQ((*dump)->metadata().format, "kdump");

  const std::string sum = slurp(*dir + "/summary.txt");
  EXPECT_EQ(sum, r->capture.summary);
  EXPECT_NE(sum.find("completeness: complete"), std::string::npos) << sum;
  EXPECT_NE(sum.find("open with:    crash /usr/lib/debug/boot/vmlinux-6.1.0-synthetic vmcore"), std::string::npos)
      << sum;
}

TEST(CaptureFs, AFullFileSystemKeepsVmcoreIncomplete) {
  TempDir t;
  const Log log(0);
  auto src = open_capture_source(synthetic_vmcore(t.path), 0, log);
  ASSERT_TRUE(src.ok()) << src.error().message;
  (*src)->dmesg = "kernel log\n";
  // The whole dump's size first, then a file size limit one page short of
  // it: the last page's write fails with EFBIG as it would with ENOSPC on a
  // full file system, after the header and the other pages.
  auto whole_dir = make_capture_dir(t.path, "/whole", "h", 0);
  ASSERT_TRUE(whole_dir.ok());
  auto whole = write_capture_files(*whole_dir, "/dev/x", "fs:/dev/x:/", **src, raw_settings(), log);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  const u64 limit = whole->capture.dump_bytes - 4096 - 1;
  ASSERT_GT(limit, 8192u);

  auto dir = make_capture_dir(t.path, "/full", "h", 0);
  ASSERT_TRUE(dir.ok());
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = limit;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  auto r = write_capture_files(*dir, "/dev/x", "fs:/dev/x:/", **src, raw_settings(), log);
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);

  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->capture.complete);
  EXPECT_FALSE(r->capture.incomplete_reason.empty());
  EXPECT_EQ(r->vmcore_path, *dir + "/vmcore-incomplete");
  EXPECT_FALSE(fs::exists(*dir + "/vmcore"));
  ASSERT_TRUE(fs::exists(*dir + "/vmcore-incomplete"));
  EXPECT_EQ(mode_of(*dir + "/vmcore-incomplete"), 0600u);
  EXPECT_LE(fs::file_size(*dir + "/vmcore-incomplete"), limit);
  EXPECT_EQ(slurp(*dir + "/dmesg.txt"), "kernel log\n");
  const std::string sum = slurp(*dir + "/summary.txt");
  EXPECT_NE(sum.find("INCOMPLETE"), std::string::npos) << sum;
  EXPECT_NE(sum.find("vmcore-incomplete"), std::string::npos) << sum;
  // What is there still opens: the writer marked it incomplete.
  auto file = FileSource::open(*dir + "/vmcore-incomplete");
  ASSERT_TRUE(file.ok());
  auto dump = open_dump(**file);
  EXPECT_TRUE(dump.ok()) << dump.error().message;
}

}  // namespace
}  // namespace salvage

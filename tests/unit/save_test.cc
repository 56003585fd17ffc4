// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage save` in-process on containers built on temp-file "devices"
// holding a synthetic vmcore: saves once, file and directory modes,
// retention, interrupted and damaged captures, and what it says when
// there is nothing to save. The lab vmcore version (crash, makedumpfile)
// is tests/readers/save-lab.sh.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/commands.h"
#include "agent/file-source.h"
#include "agent/save-device.h"
#include "formats/container.h"
#include "tests/fuzz/synth-vmcore.h"

namespace salvage {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    char t[] = "/tmp/salvage-save-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

synth::Bytes vmcore_bytes() {
  synth::Spec s = synth::minimal_spec();
  for (auto& l : s.loads) l.filesz = l.memsz;
  return synth::build(s);
}

enum class Close { kComplete, kIncomplete, kLeaveWriting };

// A container on `dev` (a file of 16 MiB) holding the synthetic vmcore as
// its dump section and, optionally, a dmesg section.
void make_device(const std::string& dev, i64 crash_time, bool with_dmesg, Close close = Close::kComplete) {
  int fd = ::open(dev.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 16 << 20), 0);
  ::close(fd);
  auto sink = DeviceSink::open(dev);
  ASSERT_TRUE(sink.ok());
  auto rb = FileSource::open(dev);
  ASSERT_TRUE(rb.ok());
  ContainerWriter w(**sink, rb->get(), (*sink)->size());
  ContainerInfo ci;
  ci.crash_time = crash_time;
  ci.release = "6.1.0-synthetic";
  ci.hostname = "unit-host";
  ci.build_id = "feedface";
  ci.panic_string = "Kernel panic - not syncing: unit test";
  ASSERT_TRUE(w.begin(ci).ok());
  if (with_dmesg) {
    auto s = w.open_section("dmesg", SectionType::kDmesg);
    ASSERT_TRUE(s.ok());
    std::string log = "[    1.000000] unit test log\n";
    ASSERT_TRUE((*s)->write_at(FileOffset(0), std::as_bytes(std::span(log.data(), log.size()))).ok());
    ASSERT_TRUE(w.close_section(SectionState::kComplete).ok());
  }
  auto s = w.open_section("vmcore", SectionType::kDump);
  ASSERT_TRUE(s.ok());
  auto b = vmcore_bytes();
  ASSERT_TRUE((*s)->write_at(FileOffset(0), std::as_bytes(std::span(b))).ok());
  if (close == Close::kLeaveWriting) {
    ASSERT_TRUE((*s)->checkpoint().ok());
    return;
  }
  ASSERT_TRUE(w.close_section(close == Close::kComplete ? SectionState::kComplete : SectionState::kIncomplete).ok());
}

// Runs `salvage save ARGS...` in-process; exit status and stderr.
std::pair<int, std::string> save(std::vector<std::string> args) {
  args.insert(args.begin(), "save");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  char tmpl[] = "/tmp/salvage-save-err-XXXXXX";
  int fd = mkstemp(tmpl);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  close(fd);
  int rc = cmd_save(static_cast<int>(argv.size()), argv.data());
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::string err = slurp(tmpl);
  unlink(tmpl);
  return {rc, err};
}

std::vector<std::string> dump_dirs(const std::string& crash) {
  std::vector<std::string> v;
  if (!fs::exists(crash + "/unit-host")) return v;
  for (const auto& e : fs::directory_iterator(crash + "/unit-host")) v.push_back(e.path().string());
  std::sort(v.begin(), v.end());
  return v;
}

unsigned mode(const std::string& p) {
  struct stat st {};
  stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

TEST(Save, SavesOnceWithPrivateModes) {
  TempDir t;
  const std::string dev = t.path + "/dev", crash = t.path + "/crash";
  make_device(dev, 1700000000, true);
  auto [rc, err] = save({"--device", dev, "--crash-dir", crash, "--min-free", "0", "--vmlinux", "/vml"});
  ASSERT_EQ(rc, 0) << err;
  auto dirs = dump_dirs(crash);
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(dirs[0], crash + "/unit-host/20231114-221320");
  EXPECT_EQ(mode(dirs[0]), 0700u);
  EXPECT_EQ(mode(crash + "/unit-host"), 0700u);
  for (const char* f : {"vmcore", "dmesg.txt", "summary.txt"}) EXPECT_EQ(mode(dirs[0] + "/" + f), 0600u) << f;
  EXPECT_FALSE(fs::exists(dirs[0] + "/vmcore-incomplete"));
  auto b = vmcore_bytes();
  EXPECT_EQ(slurp(dirs[0] + "/vmcore"), std::string(reinterpret_cast<const char*>(b.data()), b.size()));
  EXPECT_EQ(slurp(dirs[0] + "/dmesg.txt"), "[    1.000000] unit test log\n");
  std::string sum = slurp(dirs[0] + "/summary.txt");
  for (const char* want : {"release:      6.1.0-synthetic", "build-id:     feedface",
                           "panic:        Kernel panic - not syncing: unit test", "time:         2023-11-14 22:13:20 UTC",
                           "completeness: complete", "dump level:   0", "format:       elf"})
    EXPECT_NE(sum.find(want), std::string::npos) << want << "\n" << sum;
  EXPECT_NE(sum.find("crash:        crash /vml " + dirs[0] + "/vmcore"), std::string::npos) << sum;

  // The sections are marked saved: a second run saves nothing.
  auto src = FileSource::open(dev);
  auto r = ContainerReader::open(**src);
  ASSERT_TRUE(r.ok());
  for (const auto& s : r->sections()) EXPECT_EQ(s.state, SectionState::kSaved) << s.name;
  auto [rc2, err2] = save({"--device", dev, "--crash-dir", crash, "--min-free", "0"});
  EXPECT_EQ(rc2, 0) << err2;
  EXPECT_NE(err2.find("no pending dump"), std::string::npos) << err2;
  EXPECT_EQ(dump_dirs(crash).size(), 1u);
}

TEST(Save, KeepDeletesTheOldestBeyondN) {
  TempDir t;
  const std::string dev = t.path + "/dev", crash = t.path + "/crash";
  for (i64 when : {1700000000, 1700003600, 1700007200}) {
    make_device(dev, when, true);
    auto [rc, err] = save({"--device", dev, "--crash-dir", crash, "--min-free", "0", "--keep", "2"});
    ASSERT_EQ(rc, 0) << err;
  }
  auto dirs = dump_dirs(crash);
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(fs::path(dirs[0]).filename(), "20231114-231320");
  EXPECT_EQ(fs::path(dirs[1]).filename(), "20231115-001320");
}

TEST(Save, IncompleteAndInterruptedCapturesAreSavedAndSaySo) {
  TempDir t;
  const std::string dev = t.path + "/dev", crash = t.path + "/crash";
  make_device(dev, 1700000000, false, Close::kIncomplete);
  auto [rc, err] = save({"--device", dev, "--crash-dir", crash, "--min-free", "0"});
  ASSERT_EQ(rc, 0) << err;
  EXPECT_NE(err.find("incomplete"), std::string::npos) << err;
  auto dirs = dump_dirs(crash);
  ASSERT_EQ(dirs.size(), 1u);
  std::string sum = slurp(dirs[0] + "/summary.txt");
  EXPECT_NE(sum.find("completeness: INCOMPLETE"), std::string::npos) << sum;
  // No dmesg section and a synthetic dump without a printk buffer: said.
  EXPECT_NE(sum.find("dmesg.txt:    not saved"), std::string::npos) << sum;

  make_device(dev, 1700000100, true, Close::kLeaveWriting);
  auto [rc2, err2] = save({"--device", dev, "--crash-dir", crash, "--min-free", "0"});
  ASSERT_EQ(rc2, 0) << err2;
  EXPECT_NE(err2.find("interrupted while writing"), std::string::npos) << err2;
  dirs = dump_dirs(crash);
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(fs::file_size(dirs[1] + "/vmcore"), vmcore_bytes().size()) << "saved up to the checkpoint";
}

TEST(Save, NothingToSaveAndBadDevices) {
  TempDir t;
  const std::string dev = t.path + "/dev", crash = t.path + "/crash";
  {
    std::ofstream f(dev);
    f << std::string(65536, 'x');
  }
  auto [rc, err] = save({"--device", dev, "--crash-dir", crash});
  EXPECT_EQ(rc, 0);
  EXPECT_NE(err.find("holds no salvage dump container"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(crash + "/unit-host"));

  make_device(dev, 1700000000, true);
  {
    std::fstream f(dev, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offsetof(ContainerHeaderDisk, release));
    f.put('X');
  }
  auto [rc2, err2] = save({"--device", dev, "--crash-dir", crash, "--min-free", "0"});
  EXPECT_EQ(rc2, 1);
  EXPECT_NE(err2.find("header_crc at offset 0x3fc"), std::string::npos) << err2;

  auto [rc3, err3] = save({"--device", t.path + "/missing", "--crash-dir", crash});
  EXPECT_EQ(rc3, 1);
  EXPECT_NE(err3.find(t.path + "/missing"), std::string::npos) << err3;
  auto [rc4, err4] = save({"--device", dev, "--config", t.path + "/none.conf"});
  EXPECT_EQ(rc4, 1);  // --device given: the config is not needed, but the header is bad
  auto [rc5, err5] = save({"--config", t.path + "/none.conf"});
  EXPECT_EQ(rc5, 1);
  EXPECT_NE(err5.find("no --device and no configuration"), std::string::npos) << err5;
  auto [rc6, err6] = save({"--format", "tar"});
  EXPECT_EQ(rc6, 2);
  EXPECT_NE(err6.find("--format"), std::string::npos) << err6;
}

TEST(Save, MinFreeRefusesAndLeavesTheDumpPending) {
  TempDir t;
  const std::string dev = t.path + "/dev", crash = t.path + "/crash";
  make_device(dev, 1700000000, true);
  auto [rc, err] = save({"--device", dev, "--crash-dir", crash, "--min-free", "100%"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("refusing to save"), std::string::npos) << err;
  EXPECT_TRUE(dump_dirs(crash).empty());
  auto src = FileSource::open(dev);
  auto r = ContainerReader::open(**src);
  ASSERT_TRUE(r.ok());
  for (const auto& s : r->sections()) EXPECT_NE(s.state, SectionState::kSaved);
}

}  // namespace
}  // namespace salvage

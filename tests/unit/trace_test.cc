// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage trace` end to end on a region image file and on the directory
// `trace extract` writes: the decoded text, the files, the exit codes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "agent/commands.h"
#include "formats/types.h"
#include "tests/tools/relayres-writer.h"

namespace salvage {
namespace {

// Runs `salvage trace ARGS...` with stdout captured.
struct Run {
  int rc;
  std::string out;
};
Run run_trace(std::vector<std::string> args) {
  args.insert(args.begin(), "trace");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char tmpl[] = "/tmp/trace-out-XXXXXX";
  int fd = ::mkstemp(tmpl);
  std::fflush(stdout);
  int saved = ::dup(1);
  ::dup2(fd, 1);
  int rc = cmd_trace(static_cast<int>(args.size()), argv.data());
  std::fflush(stdout);
  ::dup2(saved, 1);
  ::close(saved);
  std::string out;
  char buf[4096];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  ::unlink(tmpl);
  return {rc, out};
}

size_t count_lines(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = 0; (p = s.find(needle, p)) != std::string::npos; p += needle.size()) ++n;
  return n;
}

class TraceCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/trace-cmd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    testing::RelayresWriter w(testing::RelayresGeometry{});
    for (u64 i = 0; i < 500; ++i)
      for (u32 c = 0; c < 2; ++c) w.write(c, RELAYRES_EV_TEST, 2'000'000'000 + i * 100 + c, testing::relayres_test_payload(i, c));
    const char marker[] = "last-marker 499";
    w.write(1, RELAYRES_EV_MARKER, 2'000'000'000 + 500 * 100, std::as_bytes(std::span(marker, sizeof marker - 1)));
    image_ = dir_ + "/region.img";
    FILE* f = std::fopen(image_.c_str(), "wb");
    std::fwrite(w.region.data(), 1, w.region.size(), f);
    std::fclose(f);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_, image_;
};

TEST_F(TraceCommand, ShowDecodesMergedAndPerCpu) {
  auto all = run_trace({"show", image_});
  ASSERT_EQ(all.rc, 0);
  EXPECT_NE(all.out.find("cpu1 seq=500 marker \"last-marker 499\""), std::string::npos);
  EXPECT_GT(count_lines(all.out, " test counter="), 100u);
  const size_t last = all.out.rfind('\n', all.out.size() - 2);
  EXPECT_NE(all.out.substr(last).find("marker"), std::string::npos) << "merged: the marker is the newest event";
  auto one = run_trace({"show", "--cpu", "0", image_});
  ASSERT_EQ(one.rc, 0);
  EXPECT_EQ(count_lines(one.out, "cpu1 "), 0u);
  EXPECT_NE(one.out.find("cpu0 seq=499 test counter=499 cpu=0"), std::string::npos);
  EXPECT_EQ(run_trace({"show", "--cpu", "7", image_}).rc, 1);
}

TEST_F(TraceCommand, ExtractThenShowFromTheDirectoryGivesTheSameText) {
  auto ex = run_trace({"extract", image_, "--out", dir_ + "/out"});
  ASSERT_EQ(ex.rc, 0) << ex.out;
  for (const char* f : {"cpu0.bin", "cpu1.bin", "merged.bin", "private.bin", "header.bin", "summary.txt"}) {
    struct stat st {};
    EXPECT_EQ(::stat((dir_ + "/out/trace/" + f).c_str(), &st), 0) << f;
  }
  EXPECT_EQ(run_trace({"show", dir_ + "/out"}).out, run_trace({"show", image_}).out);
  EXPECT_EQ(run_trace({"show", "--cpu", "1", dir_ + "/out/trace"}).out, run_trace({"show", "--cpu", "1", image_}).out);
  auto chk = run_trace({"check", dir_ + "/out"});
  ASSERT_EQ(chk.rc, 0);
  EXPECT_NE(chk.out.find("cpu 0: "), std::string::npos) << chk.out;
}

TEST_F(TraceCommand, CheckPrintsRangesAndBadInputFails) {
  auto chk = run_trace({"check", image_});
  ASSERT_EQ(chk.rc, 0);
  EXPECT_NE(chk.out.find("cpu 1: "), std::string::npos) << chk.out;
  EXPECT_NE(chk.out.find("gaps 0"), std::string::npos) << chk.out;
  EXPECT_NE(run_trace({"show", "--stats", image_}).out.find("overwrite (flight recorder)"), std::string::npos);
  EXPECT_EQ(run_trace({"check", image_, "--phys", "0x6000000"}).rc, 1) << "read at another address";
  const std::string zero = dir_ + "/zero.img";
  ASSERT_EQ(::truncate(zero.c_str(), 0), -1);
  int fd = ::open(zero.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
  ::close(fd);
  EXPECT_EQ(run_trace({"show", zero}).rc, 1);
  EXPECT_EQ(run_trace({"show"}).rc, 2);
  EXPECT_EQ(run_trace({"bogus", image_}).rc, 2);
  EXPECT_EQ(run_trace({"extract", image_}).rc, 2) << "extract needs --out";
}

}  // namespace
}  // namespace salvage

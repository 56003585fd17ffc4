// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/file-sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

namespace salvage {
namespace {

std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

TEST(FileSink, PositionedWritesLeaveHoles) {
  char path[] = "/tmp/salvage-sink.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  auto s = FileSink::create(path);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE((*s)->write_at(FileOffset(8), bytes("world")).ok());
  ASSERT_TRUE((*s)->write_at(FileOffset(0), bytes("hello")).ok());
  ASSERT_TRUE((*s)->finish().ok());
  std::ifstream f(path, std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, std::string("hello\0\0\0world", 13));
  unlink(path);
}

TEST(FileSink, ErrorsNameFileOffsetAndErrno) {
  auto s = FileSink::create("/dev/full");
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto r = (*s)->write_at(FileOffset(0x3000), bytes("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "pwrite /dev/full at 0x3000: No space left on device");
  EXPECT_EQ(r.error().sys_errno, ENOSPC);
  auto bad = FileSink::create("/nonexistent-dir/x");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("open /nonexistent-dir/x"), std::string::npos);
}

TEST(FileSink, StreamNeedsSequentialOffsets) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  auto s = FileSink::stream(p[1], "pipe");
  ASSERT_TRUE(s->write_at(FileOffset(0), bytes("abc")).ok());
  ASSERT_TRUE(s->write_at(FileOffset(3), bytes("de")).ok());
  EXPECT_FALSE(s->write_at(FileOffset(9), bytes("x")).ok());
  ASSERT_TRUE(s->finish().ok());
  close(p[1]);
  char buf[16] = {};
  EXPECT_EQ(read(p[0], buf, sizeof buf), 5);
  EXPECT_STREQ(buf, "abcde");
  close(p[0]);
}

}  // namespace
}  // namespace salvage

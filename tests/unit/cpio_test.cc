// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/cpio.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

namespace salvage {
namespace {

struct Entry {
  size_t offset;
  std::string name;
  CpioHeader h;
  std::string data;
};

// An independent walk of the archive, asserting the layout rules the
// kernel's unpacker relies on (init/initramfs.c: header and data 4-aligned).
std::vector<Entry> walk(const std::string& a, bool* saw_trailer) {
  std::vector<Entry> out;
  size_t off = 0;
  *saw_trailer = false;
  while (off + kCpioHeaderSize <= a.size()) {
    EXPECT_EQ(off % 4, 0u);
    auto h = parse_cpio_header(std::string_view(a).substr(off));
    EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message);
    if (!h.ok()) break;
    std::string name = a.substr(off + kCpioHeaderSize, h->namesize - 1);
    EXPECT_EQ(a[off + kCpioHeaderSize + h->namesize - 1], '\0');
    size_t data = round_up(off + kCpioHeaderSize + h->namesize, 4);
    if (name == kCpioTrailer) {
      *saw_trailer = true;
      break;
    }
    out.push_back({off, name, *h, a.substr(data, h->filesize)});
    off = round_up(data + h->filesize, 4);
  }
  return out;
}

TEST(Cpio, HeaderIsNewcAsciiHex) {
  CpioWriter w(0x5f5e1000);
  ASSERT_TRUE(w.add_file("init", 0755, "abc").ok());
  std::string a = w.finish();
  ASSERT_GE(a.size(), kCpioHeaderSize);
  EXPECT_EQ(a.substr(0, 6), "070701");
  // ino 1, regular 0755, uid/gid 0, nlink 1, mtime, size 3, ..., namesize 5.
  EXPECT_EQ(a.substr(6, 8 * 7), "00000001000081ED000000000000000000000001" "5F5E1000" "00000003");
  EXPECT_EQ(a.substr(6 + 8 * 11, 8), "00000005");
  EXPECT_EQ(a.substr(6 + 8 * 12, 8), "00000000");  // check field unused in newc
  // 110 + 5 = 115 -> name padded to 116, then the data.
  EXPECT_EQ(a.substr(110, 5), std::string("init\0", 5));
  EXPECT_EQ(a[115], '\0');
  EXPECT_EQ(a.substr(116, 3), "abc");
}

TEST(Cpio, ParentsComeFirstAndOnce) {
  CpioWriter w;
  ASSERT_TRUE(w.add_file("/lib/modules/6.1/kernel/a.ko", 0644, "A").ok());
  ASSERT_TRUE(w.add_file("lib/modules/6.1/kernel/b.ko", 0644, "BB").ok());
  ASSERT_TRUE(w.add_dir("etc", 0700).ok());
  std::string a = w.finish();
  bool trailer = false;
  auto e = walk(a, &trailer);
  EXPECT_TRUE(trailer);
  std::vector<std::string> names;
  for (auto& x : e) names.push_back(x.name);
  EXPECT_EQ(names, (std::vector<std::string>{"lib", "lib/modules", "lib/modules/6.1", "lib/modules/6.1/kernel",
                                             "lib/modules/6.1/kernel/a.ko", "lib/modules/6.1/kernel/b.ko", "etc"}));
  EXPECT_EQ(e[0].h.mode, u32{S_IFDIR | 0755});
  EXPECT_EQ(e[0].h.nlink, 2u);
  EXPECT_EQ(e[5].data, "BB");
  EXPECT_EQ(e[6].h.mode, u32{S_IFDIR | 0700});
  // Unique inode numbers: the unpacker treats equal ino with nlink >= 2 as hard links.
  for (size_t i = 1; i < e.size(); ++i) EXPECT_NE(e[i].h.ino, e[i - 1].h.ino);
  EXPECT_EQ(w.entries(), 7u);
}

TEST(Cpio, DataPaddingForEveryLength) {
  CpioWriter w;
  std::string data;
  for (int len = 0; len < 9; ++len) {
    ASSERT_TRUE(w.add_file("f" + std::string(len, 'n'), 0600, data).ok());
    data.push_back(static_cast<char>('a' + len));
  }
  std::string a = w.finish();
  EXPECT_EQ(a.size() % 512, 0u);
  bool trailer = false;
  auto e = walk(a, &trailer);
  ASSERT_TRUE(trailer);
  ASSERT_EQ(e.size(), 9u);
  for (size_t i = 0; i < e.size(); ++i) {
    EXPECT_EQ(e[i].data.size(), i);
    EXPECT_EQ(e[i].data, data.substr(0, i));
    EXPECT_EQ(e[i].h.mode, u32{S_IFREG | 0600});
  }
}

TEST(Cpio, DeviceAndSymlink) {
  CpioWriter w;
  ASSERT_TRUE(w.add_char_device("dev/console", 0600, 5, 1).ok());
  ASSERT_TRUE(w.add_symlink("bin/salvage", "/init").ok());
  std::string a = w.finish();
  bool trailer = false;
  auto e = walk(a, &trailer);
  ASSERT_EQ(e.size(), 4u);  // dev, dev/console, bin, bin/salvage
  EXPECT_EQ(e[1].h.mode, u32{S_IFCHR | 0600});
  EXPECT_EQ(e[1].h.rdevmajor, 5u);
  EXPECT_EQ(e[1].h.rdevminor, 1u);
  EXPECT_EQ(e[1].h.filesize, 0u);
  EXPECT_EQ(e[3].h.mode, u32{S_IFLNK | 0777});
  EXPECT_EQ(e[3].data, "/init");
}

TEST(Cpio, RejectsBadPathsAndDuplicates) {
  CpioWriter w;
  EXPECT_FALSE(w.add_file("", 0644, "").ok());
  EXPECT_FALSE(w.add_file("/", 0644, "").ok());
  EXPECT_FALSE(w.add_file("a/../etc/shadow", 0644, "").ok());
  EXPECT_FALSE(w.add_file("./x", 0644, "").ok());
  EXPECT_FALSE(w.add_file("a//b", 0644, "").ok());
  EXPECT_FALSE(w.add_file(std::string(5000, 'x'), 0644, "").ok());
  ASSERT_TRUE(w.add_file("etc/salvage.conf", 0644, "x").ok());
  auto dup = w.add_file("/etc/salvage.conf", 0644, "y");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("etc/salvage.conf"), std::string::npos);
  EXPECT_FALSE(w.add_dir("etc", 0755).ok());  // already added as a parent
  EXPECT_FALSE(w.add_symlink("l", "").ok());
}

TEST(Cpio, TrailerAndNoAddAfterFinish) {
  CpioWriter w;
  ASSERT_TRUE(w.add_file("a", 0644, "1").ok());
  std::string a = w.finish();
  EXPECT_NE(a.find("TRAILER!!!"), std::string::npos);
  EXPECT_FALSE(w.add_file("b", 0644, "2").ok());
}

TEST(Cpio, HeaderParserNamesTheProblem) {
  std::string h = "070701" + std::string(13 * 8, '0');
  EXPECT_TRUE(parse_cpio_header(h).ok());
  EXPECT_FALSE(parse_cpio_header(h.substr(0, 100)).ok());
  std::string bad = h;
  bad[6 + 8 * 6 + 3] = 'g';
  auto r = parse_cpio_header(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("field 6"), std::string::npos);
  std::string odc = "070707" + h.substr(6);
  EXPECT_FALSE(parse_cpio_header(odc).ok());
}

}  // namespace
}  // namespace salvage

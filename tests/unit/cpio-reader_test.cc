// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/cpio-reader.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include "formats/cpio.h"
#include "tests/unit/fake-host.h"

namespace salvage {
namespace {

std::string archive(const std::string& name, const std::string& data) {
  CpioWriter w;
  EXPECT_TRUE(w.add_file(name, 0755, data).ok());
  return w.finish();
}

std::string zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

TEST(CpioReader, GzipArchive) {
  auto l = read_initramfs(testing::capture_initramfs("version=1\n", {"lib/modules/6.1/virtio-blk.ko"}));
  ASSERT_TRUE(l.ok()) << l.error().message;
  ASSERT_NE(l->find("/init"), nullptr);
  EXPECT_EQ(l->find("init")->size, 5000u);
  EXPECT_EQ(l->find("init")->mode & 0777, 0755u);
  EXPECT_EQ(l->find("etc/salvage.conf")->data, "version=1\n");
  EXPECT_NE(l->find("lib/modules/6.1/virtio-blk.ko"), nullptr);
  EXPECT_EQ(l->segments, std::vector<std::string>{"gzip"});
}

TEST(CpioReader, PlainThenCompressedLikeEarlyMicrocode) {
  std::string file = archive("kernel/x86/microcode/GenuineIntel.bin", "ucode") + std::string(512, '\0') +
                     zstd(archive("init", "main"));
  auto l = read_initramfs(file);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->segments, (std::vector<std::string>{"plain", "zstd"}));
  EXPECT_NE(l->find("kernel/x86/microcode/GenuineIntel.bin"), nullptr);
  EXPECT_EQ(l->find("init")->data, "main");
  EXPECT_EQ(l->unpacked_bytes, 9u);
}

TEST(CpioReader, LaterArchiveOverridesName) {
  std::string file = testing::gzip(archive("init", "old")) + testing::gzip(archive("init", "newer"));
  auto l = read_initramfs(file);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->files.size(), 1u);
  EXPECT_EQ(l->find("init")->data, "newer");
  EXPECT_EQ(l->unpacked_bytes, 5u);  // the replaced file no longer counts
}

TEST(CpioReader, ErrorsNameOffsets) {
  std::string gz = testing::gzip(archive("init", std::string(100000, 'a')));
  auto cut = read_initramfs(gz.substr(0, gz.size() / 2));
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message.find("segment 0 at offset 0x0"), std::string::npos) << cut.error().message;
  auto junk = read_initramfs("\xfd" "7zXZ");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().message.find("not a cpio archive, gzip or zstd"), std::string::npos);
  std::string bad = archive("init", "x");
  bad[20] = 'g';  // a non-hex digit in a header field
  EXPECT_FALSE(read_initramfs(bad).ok());
}

}  // namespace
}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/codec.h"

#include <gtest/gtest.h>
#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <fstream>
#include <iterator>
#include <random>
#include <vector>

namespace salvage {
namespace {

constexpr PageEncoding kAll[] = {PageEncoding::kRaw, PageEncoding::kZlib, PageEncoding::kLzo, PageEncoding::kSnappy,
                                 PageEncoding::kZstd};

// Kernel-memory-like page: a struct array with pointers, small counters and
// zero padding (compressible), or random bytes (not).
std::vector<std::byte> page(u64 seed, bool random) {
  std::vector<std::byte> p(kPageSize);
  std::mt19937_64 rng(seed);
  if (random) {
    for (auto& b : p) b = std::byte(rng() & 0xff);
    return p;
  }
  for (size_t i = 0; i < kPageSize; i += 64) {
    u64 ptr = 0xffff888000000000ULL + (rng() & 0xffffff) * 64;
    std::memcpy(p.data() + i, &ptr, 8);
    u32 cnt = rng() & 0xff;
    std::memcpy(p.data() + i + 8, &cnt, 4);
  }
  return p;
}

TEST(Codec, NamesRoundTrip) {
  for (auto e : kAll) {
    auto back = encoding_from_name(encoding_name(e));
    ASSERT_TRUE(back.has_value()) << encoding_name(e);
    EXPECT_EQ(*back, e);
  }
  EXPECT_FALSE(encoding_from_name("gzip").has_value());
  EXPECT_FALSE(encoding_from_name("").has_value());
}

TEST(Codec, RoundTripEveryCodec) {
  for (auto e : kAll) {
    auto c = make_codec(e);
    ASSERT_TRUE(c) << encoding_name(e);
    EXPECT_EQ(c->encoding(), e);
    for (bool random : {false, true}) {
      auto in = page(42, random);
      std::vector<std::byte> out(c->bound(in.size())), back(kPageSize);
      auto n = c->compress(in, out);
      ASSERT_TRUE(n.ok()) << encoding_name(e) << ": " << n.error().message;
      if (e != PageEncoding::kRaw && !random) {
        EXPECT_LT(*n, kPageSize / 2) << encoding_name(e);
      }
      auto r = c->decompress(std::span(out).first(*n), back);
      ASSERT_TRUE(r.ok()) << encoding_name(e) << ": " << r.error().message;
      EXPECT_EQ(back, in) << encoding_name(e);
    }
  }
}

// What crash/makedumpfile call must accept what we produce.
TEST(Codec, ReferenceDecodersAcceptOurOutput) {
  auto in = page(7, false);
  std::vector<std::byte> back(kPageSize);
  {
    auto c = make_codec(PageEncoding::kZlib);
    std::vector<std::byte> out(c->bound(kPageSize));
    size_t n = *c->compress(in, out);
    uLongf len = kPageSize;  // crash diskdump.c: uncompress() must give block_size
    ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(back.data()), &len, reinterpret_cast<Bytef*>(out.data()), n), Z_OK);
    EXPECT_EQ(len, kPageSize);
    EXPECT_EQ(back, in);
  }
  {
    auto c = make_codec(PageEncoding::kLzo);
    std::vector<std::byte> out(c->bound(kPageSize));
    size_t n = *c->compress(in, out);
    lzo_uint len = kPageSize;
    ASSERT_EQ(lzo_init(), LZO_E_OK);
    ASSERT_EQ(lzo1x_decompress_safe(reinterpret_cast<unsigned char*>(out.data()), n,
                                    reinterpret_cast<unsigned char*>(back.data()), &len, nullptr),
              LZO_E_OK);
    EXPECT_EQ(len, kPageSize);
    EXPECT_EQ(back, in);
  }
  {
    auto c = make_codec(PageEncoding::kSnappy);
    std::vector<std::byte> out(c->bound(kPageSize));
    size_t n = *c->compress(in, out);
    size_t len = kPageSize;
    ASSERT_EQ(snappy_uncompress(reinterpret_cast<char*>(out.data()), n, reinterpret_cast<char*>(back.data()), &len),
              SNAPPY_OK);
    EXPECT_EQ(back, in);
  }
  {
    auto c = make_codec(PageEncoding::kZstd);
    std::vector<std::byte> out(c->bound(kPageSize));
    size_t n = *c->compress(in, out);
    EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), n), kPageSize);  // one frame with its size
    EXPECT_EQ(ZSTD_decompress(back.data(), kPageSize, out.data(), n), kPageSize);
    EXPECT_EQ(back, in);
  }
}

// makedumpfile -c uses compress2(..., Z_BEST_SPEED); our zlib output must
// not be meaningfully larger (<= 2% over in total). Real machine code and
// data stand in for kernel memory: the pages of this test binary.
TEST(Codec, ZlibSizeNoWorseThanZlibBestSpeed) {
  std::ifstream f("/proc/self/exe", std::ios::binary);
  std::vector<char> exe((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GE(exe.size(), 64 * kPageSize);
  auto c = make_codec(PageEncoding::kZlib);
  std::vector<std::byte> out(c->bound(kPageSize)), ref(compressBound(kPageSize));
  u64 ours = 0, theirs = 0;
  for (size_t off = 0; off + kPageSize <= exe.size(); off += kPageSize) {
    auto in = std::as_bytes(std::span(exe.data() + off, kPageSize));
    ours += std::min<u64>(*c->compress(in, out), kPageSize);
    uLongf n = ref.size();
    ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(ref.data()), &n, reinterpret_cast<const Bytef*>(in.data()), kPageSize,
                        Z_BEST_SPEED),
              Z_OK);
    theirs += std::min<u64>(n, kPageSize);
  }
  EXPECT_LE(ours * 100, theirs * 102) << "libdeflate " << ours << " vs zlib -1 " << theirs;
}

TEST(Codec, CorruptInputIsAnErrorNotACrash) {
  for (auto e : kAll) {
    if (e == PageEncoding::kRaw) continue;
    auto c = make_codec(e);
    auto in = page(3, false);
    std::vector<std::byte> out(c->bound(kPageSize)), back(kPageSize);
    size_t n = *c->compress(in, out);
    // Truncated stream.
    EXPECT_FALSE(c->decompress(std::span(out).first(n / 2), back).ok()) << encoding_name(e);
    // Right stream, wrong expected size (crash insists on exactly block_size).
    std::vector<std::byte> small(kPageSize / 2);
    EXPECT_FALSE(c->decompress(std::span(out).first(n), small).ok()) << encoding_name(e);
  }
  auto raw = make_codec(PageEncoding::kRaw);
  std::vector<std::byte> a(100), b(kPageSize);
  EXPECT_FALSE(raw->decompress(a, b).ok());
}

TEST(Codec, CompressPageStoresRawUnlessSmaller) {
  auto c = make_codec(PageEncoding::kZlib);
  std::vector<std::byte> scratch(c->bound(kPageSize));
  auto text = page(1, false);
  auto r = compress_page(c.get(), text, scratch);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->encoding, PageEncoding::kZlib);
  EXPECT_LT(r->data.size(), kPageSize);
  auto noise = page(1, true);
  r = compress_page(c.get(), noise, scratch);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->encoding, PageEncoding::kRaw);
  EXPECT_EQ(r->data.data(), noise.data());
  r = compress_page(nullptr, text, scratch);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->encoding, PageEncoding::kRaw);
}

}  // namespace
}  // namespace salvage

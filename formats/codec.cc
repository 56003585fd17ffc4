// SPDX-License-Identifier: GPL-2.0-or-later
// The per-page codecs of the kdump-compressed format (makedumpfile 1.7.x
// diskdump_mod.h DUMP_DH_COMPRESSED_*), each producing exactly what crash,
// makedumpfile and libkdumpfile decode:
//   zlib   RFC 1950 stream (readers call uncompress()); written with
//          libdeflate, whose zlib wrapper is byte-compatible and faster than
//          zlib's deflate at Z_BEST_SPEED, which makedumpfile -c uses.
//   lzo    lzo1x_1 compressor, decoded with lzo1x_decompress_safe.
//   snappy raw snappy (snappy-c snappy_compress), not the framing format.
//   zstd   one frame per page, level 1, ZSTD_compressCCtx (makedumpfile -z).
// Every decoder must yield exactly the requested size (crash diskdump.c
// cache_page rejects anything else), so each checks it.
#include "formats/codec.h"

#include <libdeflate.h>
#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zstd.h>

#include <cstring>
#include <string>
#include <vector>

namespace salvage {

namespace {

struct NameEntry {
  PageEncoding e;
  const char* name;
};
constexpr NameEntry kNames[] = {
    {PageEncoding::kRaw, "raw"},       {PageEncoding::kZlib, "zlib"},
    {PageEncoding::kLzo, "lzo"},       {PageEncoding::kSnappy, "snappy"},
    {PageEncoding::kZstd, "zstd"},
};

Error too_small(const char* codec, size_t have, size_t need) {
  return make_error(std::string(codec) + ": output buffer of " + std::to_string(have) +
                    " bytes is below the bound of " + std::to_string(need));
}

class RawCodec final : public Codec {
 public:
  PageEncoding encoding() const override { return PageEncoding::kRaw; }
  size_t bound(size_t n) const override { return n; }
  Result<size_t> compress(std::span<const std::byte> in, std::span<std::byte> out) override {
    if (out.size() < in.size()) return too_small("raw", out.size(), in.size());
    std::memcpy(out.data(), in.data(), in.size());
    return in.size();
  }
  Result<void> decompress(std::span<const std::byte> in, std::span<std::byte> out) override {
    if (in.size() != out.size())
      return make_error("raw: stored size " + std::to_string(in.size()) + " is not the page size " +
                        std::to_string(out.size()));
    std::memcpy(out.data(), in.data(), in.size());
    return Ok();
  }
};

// makedumpfile -c compresses with zlib at Z_BEST_SPEED. Measured on the lab
// vmcore (Debian 6.1, 37916 non-zero pages, sizes with the raw fallback):
//   zlib -1 77.3 MB 7.5 s | libdeflate 1 80.4 MB 2.5 s | libdeflate 2 76.8 MB 3.8 s
// Level 1 is 4% larger than makedumpfile's output; level 2 is smaller and
// still twice as fast as zlib, so 2 it is.
constexpr int kZlibLevel = 2;

class ZlibCodec final : public Codec {
 public:
  ZlibCodec() : c_(libdeflate_alloc_compressor(kZlibLevel)), d_(libdeflate_alloc_decompressor()) {}
  ~ZlibCodec() override {
    libdeflate_free_compressor(c_);
    libdeflate_free_decompressor(d_);
  }
  PageEncoding encoding() const override { return PageEncoding::kZlib; }
  size_t bound(size_t n) const override { return libdeflate_zlib_compress_bound(c_, n); }
  Result<size_t> compress(std::span<const std::byte> in, std::span<std::byte> out) override {
    if (!c_) return make_error("zlib: libdeflate_alloc_compressor failed");
    size_t n = libdeflate_zlib_compress(c_, in.data(), in.size(), out.data(), out.size());
    if (n == 0) return too_small("zlib", out.size(), bound(in.size()));
    return n;
  }
  Result<void> decompress(std::span<const std::byte> in, std::span<std::byte> out) override {
    if (!d_) return make_error("zlib: libdeflate_alloc_decompressor failed");
    size_t got = 0;
    auto r = libdeflate_zlib_decompress(d_, in.data(), in.size(), out.data(), out.size(), &got);
    if (r == LIBDEFLATE_BAD_DATA) return make_error("zlib: corrupt stream");
    if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
      return make_error("zlib: stream inflates to more than " + std::to_string(out.size()) + " bytes");
    if (r != LIBDEFLATE_SUCCESS || got != out.size())
      return make_error("zlib: stream inflates to " + std::to_string(got) + " bytes, expected " +
                        std::to_string(out.size()));
    return Ok();
  }

 private:
  libdeflate_compressor* c_;
  libdeflate_decompressor* d_;
};

bool lzo_ready() {
  // lzo_init() only checks the library's build assumptions; it keeps no
  // state, so running it once per process is enough.
  static const bool ok = lzo_init() == LZO_E_OK;
  return ok;
}

class LzoCodec final : public Codec {
 public:
  LzoCodec() : wrk_(LZO1X_1_MEM_COMPRESS) {}
  PageEncoding encoding() const override { return PageEncoding::kLzo; }
  // lzo's documented worst case for incompressible input (lzo FAQ / minilzo).
  size_t bound(size_t n) const override { return n + n / 16 + 64 + 3; }
  Result<size_t> compress(std::span<const std::byte> in, std::span<std::byte> out) override {
    if (!lzo_ready()) return make_error("lzo: lzo_init failed");
    if (out.size() < bound(in.size())) return too_small("lzo", out.size(), bound(in.size()));
    lzo_uint n = out.size();
    int r = lzo1x_1_compress(reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                             reinterpret_cast<unsigned char*>(out.data()), &n, wrk_.data());
    if (r != LZO_E_OK) return make_error("lzo: lzo1x_1_compress failed with " + std::to_string(r));
    return static_cast<size_t>(n);
  }
  Result<void> decompress(std::span<const std::byte> in, std::span<std::byte> out) override {
    if (!lzo_ready()) return make_error("lzo: lzo_init failed");
    lzo_uint n = out.size();
    int r = lzo1x_decompress_safe(reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                                  reinterpret_cast<unsigned char*>(out.data()), &n, nullptr);
    if (r != LZO_E_OK) return make_error("lzo: lzo1x_decompress_safe failed with " + std::to_string(r));
    if (n != out.size())
      return make_error("lzo: block decompresses to " + std::to_string(n) + " bytes, expected " +
                        std::to_string(out.size()));
    return Ok();
  }

 private:
  std::vector<unsigned char> wrk_;  // LZO1X_1_MEM_COMPRESS work memory, reused for every page
};

class SnappyCodec final : public Codec {
 public:
  PageEncoding encoding() const override { return PageEncoding::kSnappy; }
  size_t bound(size_t n) const override { return snappy_max_compressed_length(n); }
  Result<size_t> compress(std::span<const std::byte> in, std::span<std::byte> out) override {
    size_t n = out.size();
    if (n < bound(in.size())) return too_small("snappy", n, bound(in.size()));
    if (snappy_compress(reinterpret_cast<const char*>(in.data()), in.size(),
                        reinterpret_cast<char*>(out.data()), &n) != SNAPPY_OK)
      return make_error("snappy: snappy_compress failed");
    return n;
  }
  Result<void> decompress(std::span<const std::byte> in, std::span<std::byte> out) override {
    const char* src = reinterpret_cast<const char*>(in.data());
    size_t len = 0;
    if (snappy_uncompressed_length(src, in.size(), &len) != SNAPPY_OK)
      return make_error("snappy: corrupt length preamble");
    if (len != out.size())
      return make_error("snappy: block decompresses to " + std::to_string(len) + " bytes, expected " +
                        std::to_string(out.size()));
    if (snappy_uncompress(src, in.size(), reinterpret_cast<char*>(out.data()), &len) != SNAPPY_OK)
      return make_error("snappy: corrupt block");
    return Ok();
  }
};

class ZstdCodec final : public Codec {
 public:
  ZstdCodec() : c_(ZSTD_createCCtx()), d_(ZSTD_createDCtx()) {
    // Parameters set once and kept ("sticky"): ZSTD_compress2 then skips
    // the per-call parameter setup of ZSTD_compressCCtx, about 30% of the
    // time on a 4 KiB page, with the same frames (level 1, content size, no
    // checksum), as makedumpfile 1.7.x compress_zstd writes them.
    if (c_) {
      ZSTD_CCtx_setParameter(c_, ZSTD_c_compressionLevel, 1);
      ZSTD_CCtx_setParameter(c_, ZSTD_c_contentSizeFlag, 1);
      ZSTD_CCtx_setParameter(c_, ZSTD_c_checksumFlag, 0);
    }
  }
  ~ZstdCodec() override {
    ZSTD_freeCCtx(c_);
    ZSTD_freeDCtx(d_);
  }
  PageEncoding encoding() const override { return PageEncoding::kZstd; }
  size_t bound(size_t n) const override { return ZSTD_compressBound(n); }
  Result<size_t> compress(std::span<const std::byte> in, std::span<std::byte> out) override {
    if (!c_) return make_error("zstd: ZSTD_createCCtx failed");
    size_t n = ZSTD_compress2(c_, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(n)) return make_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    return n;
  }
  Result<void> decompress(std::span<const std::byte> in, std::span<std::byte> out) override {
    if (!d_) return make_error("zstd: ZSTD_createDCtx failed");
    size_t n = ZSTD_decompressDCtx(d_, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(n)) return make_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    if (n != out.size())
      return make_error("zstd: frame decompresses to " + std::to_string(n) + " bytes, expected " +
                        std::to_string(out.size()));
    return Ok();
  }

 private:
  ZSTD_CCtx* c_;
  ZSTD_DCtx* d_;
};

}  // namespace

const char* encoding_name(PageEncoding e) {
  for (const auto& n : kNames)
    if (n.e == e) return n.name;
  return "unknown";
}

std::optional<PageEncoding> encoding_from_name(std::string_view name) {
  for (const auto& n : kNames)
    if (name == n.name) return n.e;
  return std::nullopt;
}

std::unique_ptr<Codec> make_codec(PageEncoding e) {
  switch (e) {
    case PageEncoding::kRaw: return std::make_unique<RawCodec>();
    case PageEncoding::kZlib: return std::make_unique<ZlibCodec>();
    case PageEncoding::kLzo: return std::make_unique<LzoCodec>();
    case PageEncoding::kSnappy: return std::make_unique<SnappyCodec>();
    case PageEncoding::kZstd: return std::make_unique<ZstdCodec>();
  }
  return nullptr;
}

Result<EncodedPage> compress_page(Codec* codec, std::span<const std::byte> page,
                                  std::span<std::byte> scratch) {
  if (!codec || codec->encoding() == PageEncoding::kRaw) return EncodedPage{PageEncoding::kRaw, page};
  ASSIGN_OR_RETURN(size_t n, codec->compress(page, scratch));
  if (n >= page.size()) return EncodedPage{PageEncoding::kRaw, page};
  return EncodedPage{codec->encoding(), scratch.first(n)};
}

}  // namespace salvage

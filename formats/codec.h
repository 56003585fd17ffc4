// SPDX-License-Identifier: GPL-2.0-or-later
// Per-page codecs of the kdump-compressed format (and LKCD's "gzip", which is
// zlib). Each codec is always built in; the rule "store the page raw unless
// compression makes it smaller" lives in compress_page() alone.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

enum class PageEncoding : u8 { kRaw, kZlib, kLzo, kSnappy, kZstd };
const char* encoding_name(PageEncoding e);
std::optional<PageEncoding> encoding_from_name(std::string_view name);

class Codec {
 public:
  virtual ~Codec() = default;
  virtual PageEncoding encoding() const = 0;
  // Worst-case output size for one input of n bytes.
  virtual size_t bound(size_t n) const = 0;
  // Compresses in into out (out.size() >= bound(in.size())); returns the size.
  virtual Result<size_t> compress(std::span<const std::byte> in, std::span<std::byte> out) = 0;
  // Decompresses into exactly out.size() bytes, or fails naming what went wrong.
  virtual Result<void> decompress(std::span<const std::byte> in, std::span<std::byte> out) = 0;
};

// A new codec instance (instances hold scratch state; one per thread).
std::unique_ptr<Codec> make_codec(PageEncoding e);

// One page as it will be stored: compressed in scratch, or the page itself.
struct EncodedPage {
  PageEncoding encoding = PageEncoding::kRaw;
  std::span<const std::byte> data;
};
// The one place that decides raw vs. compressed: a page is stored compressed
// only if that is strictly smaller than the page (makedumpfile
// write_kdump_pages_cyclic: "size_out < info->page_size"). codec may be null
// (store raw). scratch must hold codec->bound(page.size()) bytes.
Result<EncodedPage> compress_page(Codec* codec, std::span<const std::byte> page,
                                  std::span<std::byte> scratch);

}  // namespace salvage

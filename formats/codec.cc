// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder until the codecs land.
#include "formats/codec.h"

namespace salvage {
const char* encoding_name(PageEncoding) { return "raw"; }
std::optional<PageEncoding> encoding_from_name(std::string_view) { return std::nullopt; }
std::unique_ptr<Codec> make_codec(PageEncoding) { return nullptr; }
}  // namespace salvage

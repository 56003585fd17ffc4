// SPDX-License-Identifier: GPL-2.0-or-later
// A bitmap indexed by pfn, laid out as in kdump-compressed files: bit pfn is
// bit (pfn & 7) of byte (pfn >> 3), least significant bit first.
#pragma once

#include <span>
#include <vector>

#include "formats/types.h"

namespace salvage {

class PageBitmap {
 public:
  PageBitmap() = default;
  explicit PageBitmap(Pfn max_pfn) : max_(max_pfn), bytes_(div_round_up(max_pfn.value, 8), std::byte{0}) {}
  Pfn max_pfn() const { return max_; }
  bool test(Pfn p) const {
    return p < max_ && (static_cast<u8>(bytes_[p.value >> 3]) >> (p.value & 7)) & 1;
  }
  void set(Pfn p, bool on = true) {
    if (!(p < max_)) return;
    auto& b = bytes_[p.value >> 3];
    if (on) b |= std::byte(1u << (p.value & 7));
    else b &= std::byte(~(1u << (p.value & 7)));
  }
  void set_range(Pfn first, u64 count, bool on) {
    for (u64 i = 0; i < count; ++i) set(first + i, on);
  }
  u64 count() const {
    u64 n = 0;
    for (auto b : bytes_) n += __builtin_popcount(static_cast<unsigned>(b));
    return n;
  }
  std::span<const std::byte> bytes() const { return bytes_; }
  std::span<std::byte> bytes() { return bytes_; }

 private:
  Pfn max_;
  std::vector<std::byte> bytes_;
};

}  // namespace salvage

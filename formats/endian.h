// SPDX-License-Identifier: GPL-2.0-or-later
// Unaligned, endian-explicit loads and stores. Dump headers are read from
// byte buffers at arbitrary offsets; memcpy keeps that defined behaviour.
#pragma once

#include <bit>
#include <cstring>

#include "formats/types.h"

namespace salvage {

template <typename T>
inline T load_le(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
inline void store_le(void* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

inline u64 bswap64(u64 v) { return __builtin_bswap64(v); }

inline i64 load_be64(const void* p) {
  u64 v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<i64>(bswap64(v));
}
inline void store_be64(void* p, i64 v) {
  u64 b = bswap64(static_cast<u64>(v));
  std::memcpy(p, &b, sizeof b);
}

static_assert(std::endian::native == std::endian::little,
              "salvage writes x86_64 (little-endian) dumps from a little-endian host");

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/crc32c.h"

#include <array>
#include <cstring>

namespace salvage {

namespace {

constexpr u32 kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

// tables[k][b]: CRC of byte b followed by k zero bytes (slicing-by-8).
constexpr std::array<std::array<u32, 256>, 8> make_tables() {
  std::array<std::array<u32, 256>, 8> t{};
  for (u32 b = 0; b < 256; ++b) {
    u32 c = b;
    for (int i = 0; i < 8; ++i) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[0][b] = c;
  }
  for (u32 b = 0; b < 256; ++b)
    for (size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  return t;
}
constexpr auto kTables = make_tables();

u32 raw_portable(const unsigned char* p, size_t n, u32 c) {
  while (n >= 8) {
    u64 v;
    std::memcpy(&v, p, 8);  // little-endian x86_64
    v ^= c;
    c = kTables[7][v & 0xff] ^ kTables[6][(v >> 8) & 0xff] ^ kTables[5][(v >> 16) & 0xff] ^
        kTables[4][(v >> 24) & 0xff] ^ kTables[3][(v >> 32) & 0xff] ^ kTables[2][(v >> 40) & 0xff] ^
        kTables[1][(v >> 48) & 0xff] ^ kTables[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) u32 raw_sse42(const unsigned char* p, size_t n, u32 c) {
  u64 c64 = c;
  while (n >= 8) {
    u64 v;
    std::memcpy(&v, p, 8);
    c64 = __builtin_ia32_crc32di(c64, v);
    p += 8;
    n -= 8;
  }
  c = static_cast<u32>(c64);
  while (n--) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}

bool have_sse42() {
  // A function-local constant, computed once: not mutable global state.
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return has;
}
#endif

}  // namespace

u32 crc32c_portable(std::span<const std::byte> data, u32 crc) {
  return ~raw_portable(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
}

u32 crc32c(std::span<const std::byte> data, u32 crc) {
#if defined(__x86_64__)
  if (have_sse42()) return ~raw_sse42(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
#endif
  return crc32c_portable(data, crc);
}

}  // namespace salvage

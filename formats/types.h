// SPDX-License-Identifier: GPL-2.0-or-later
// Fixed-width integers and strong types for the quantities a dump tool mixes
// up most easily: page frame numbers, physical and virtual addresses, and
// file offsets. Converting between them is always spelled out.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace salvage {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i32 = std::int32_t;
using i64 = std::int64_t;

template <typename Tag>
struct Strong {
  u64 value = 0;
  constexpr Strong() = default;
  constexpr explicit Strong(u64 v) : value(v) {}
  constexpr auto operator<=>(const Strong&) const = default;
  constexpr Strong operator+(u64 d) const { return Strong(value + d); }
  constexpr Strong operator-(u64 d) const { return Strong(value - d); }
  constexpr Strong& operator+=(u64 d) { value += d; return *this; }
  constexpr Strong& operator++() { ++value; return *this; }
};

struct PfnTag {};
struct PhysAddrTag {};
struct VirtAddrTag {};
struct FileOffsetTag {};

using Pfn = Strong<PfnTag>;              // page frame number
using PhysAddr = Strong<PhysAddrTag>;    // physical byte address
using VirtAddr = Strong<VirtAddrTag>;    // kernel virtual address
using FileOffset = Strong<FileOffsetTag>;  // byte offset in a file or stream

// Page size of the dumped machine. salvage targets x86_64 (4 KiB pages); the
// value read from VMCOREINFO PAGESIZE is checked against this at open time.
inline constexpr u64 kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;

constexpr PhysAddr pfn_to_phys(Pfn p) { return PhysAddr(p.value << kPageShift); }
constexpr Pfn phys_to_pfn(PhysAddr a) { return Pfn(a.value >> kPageShift); }

constexpr u64 round_up(u64 v, u64 align) { return (v + align - 1) / align * align; }
constexpr u64 div_round_up(u64 v, u64 d) { return (v + d - 1) / d; }

}  // namespace salvage

template <typename Tag>
struct std::hash<salvage::Strong<Tag>> {
  std::size_t operator()(const salvage::Strong<Tag>& s) const noexcept {
    return std::hash<salvage::u64>()(s.value);
  }
};

// SPDX-License-Identifier: GPL-2.0-or-later
// On-disk structures of the kdump-compressed ("diskdump", signature
// "KDUMP   ") format, header_version 6, as makedumpfile 1.7.x writes them
// (diskdump_mod.h; identical copy in crash diskdump.h). x86_64 LP64 layout,
// little-endian, natural alignment; sizes and offsets are asserted so a
// change of compiler or flags cannot silently move a field.
#pragma once

#include <cstddef>

#include "formats/codec.h"
#include "formats/types.h"

namespace salvage::kdump {

inline constexpr char kSignature[8] = {'K', 'D', 'U', 'M', 'P', ' ', ' ', ' '};
inline constexpr i32 kHeaderVersion = 6;  // highest any reader knows (makedumpfile 1.7.x)
inline constexpr size_t kUtsLen = 65;     // __NEW_UTS_LEN + 1

// Flags shared by disk_dump_header.status and page_desc.flags (diskdump_mod.h).
inline constexpr u32 kCompressedZlib = 0x01;
inline constexpr u32 kCompressedLzo = 0x02;
inline constexpr u32 kCompressedSnappy = 0x04;
inline constexpr u32 kCompressedIncomplete = 0x08;  // status only: dump cut short (ENOSPC)
inline constexpr u32 kExcludedVmemmap = 0x10;       // status only: makedumpfile -e
inline constexpr u32 kCompressedZstd = 0x20;
inline constexpr u32 kCompressionMask = kCompressedZlib | kCompressedLzo | kCompressedSnappy | kCompressedZstd;
inline constexpr u32 kKnownStatus = kCompressionMask | kCompressedIncomplete | kExcludedVmemmap;

struct NewUtsname {
  char sysname[kUtsLen];
  char nodename[kUtsLen];
  char release[kUtsLen];
  char version[kUtsLen];
  char machine[kUtsLen];
  char domainname[kUtsLen];
};
static_assert(sizeof(NewUtsname) == 390);

struct Timeval {
  i64 tv_sec;
  i64 tv_usec;  // always 0: libkdumpfile's 32-bit layout probe misfires otherwise
};

struct DiskDumpHeader {
  char signature[8];
  i32 header_version;
  NewUtsname utsname;
  // 6 bytes of implicit padding to align timestamp
  Timeval timestamp;
  u32 status;
  i32 block_size;
  i32 sub_hdr_size;      // blocks
  u32 bitmap_blocks;     // blocks, both bitmaps
  u32 max_mapnr;         // obsolete 32-bit copy of max_mapnr_64
  u32 total_ram_blocks;
  u32 device_blocks;
  u32 written_blocks;
  u32 current_cpu;
  i32 nr_cpus;
};
static_assert(sizeof(DiskDumpHeader) == 464);
static_assert(offsetof(DiskDumpHeader, utsname) == 12);
static_assert(offsetof(DiskDumpHeader, timestamp) == 408);
static_assert(offsetof(DiskDumpHeader, status) == 424);
static_assert(offsetof(DiskDumpHeader, block_size) == 428);
static_assert(offsetof(DiskDumpHeader, sub_hdr_size) == 432);
static_assert(offsetof(DiskDumpHeader, bitmap_blocks) == 436);
static_assert(offsetof(DiskDumpHeader, max_mapnr) == 440);
static_assert(offsetof(DiskDumpHeader, nr_cpus) == 460);

struct KdumpSubHeader {
  u64 phys_base;
  i32 dump_level;         // v1
  i32 split;              // v2
  u64 start_pfn;          // v2, 32-bit truncated
  u64 end_pfn;            // v2
  i64 offset_vmcoreinfo;  // v3: file offset of the VMCOREINFO note's desc
  u64 size_vmcoreinfo;    // v3
  i64 offset_note;        // v4
  u64 size_note;          // v4
  i64 offset_eraseinfo;   // v5
  u64 size_eraseinfo;     // v5
  u64 start_pfn_64;       // v6
  u64 end_pfn_64;         // v6
  u64 max_mapnr_64;       // v6
};
static_assert(sizeof(KdumpSubHeader) == 104);
static_assert(offsetof(KdumpSubHeader, offset_vmcoreinfo) == 32);
static_assert(offsetof(KdumpSubHeader, offset_note) == 48);
static_assert(offsetof(KdumpSubHeader, start_pfn_64) == 80);
static_assert(offsetof(KdumpSubHeader, max_mapnr_64) == 96);

struct PageDesc {
  i64 offset;      // absolute file offset of the data; 0 = never written
  u32 size;        // stored bytes; block_size for raw pages
  u32 flags;       // 0 = raw, else one kCompressed* bit
  u64 page_flags;  // makedumpfile writes 0
};
static_assert(sizeof(PageDesc) == 24);
static_assert(offsetof(PageDesc, flags) == 12);

// The descriptor index cache groups pfns like crash/makedumpfile
// (BITMAP_SECT_LEN = 4096 pfns).
inline constexpr u64 kBitmapSectPfns = 4096;

// page_desc.flags value for a stored encoding, and back.
constexpr u32 encoding_flag(PageEncoding e) {
  switch (e) {
    case PageEncoding::kRaw: return 0;
    case PageEncoding::kZlib: return kCompressedZlib;
    case PageEncoding::kLzo: return kCompressedLzo;
    case PageEncoding::kSnappy: return kCompressedSnappy;
    case PageEncoding::kZstd: return kCompressedZstd;
  }
  return 0;
}

// Blocks of one bitmap for max_mapnr pfns: ceil(ceil(max_mapnr/8)/block).
constexpr u64 bitmap_blocks_one(u64 max_mapnr, u64 block_size) {
  return div_round_up(div_round_up(max_mapnr, 8), block_size);
}

}  // namespace salvage::kdump

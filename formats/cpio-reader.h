// SPDX-License-Identifier: GPL-2.0-or-later
// Read-only listing of an initramfs file as the kernel unpacks it
// (init/initramfs.c unpack_to_rootfs(), Linux 6.1): a sequence of newc
// archives, each either plain or compressed (gzip or zstd here; the kernel
// also knows bzip2/lzma/xz/lzo/lz4), separated by zero padding. Debian's
// early-microcode initrds are a plain archive followed by a compressed one;
// `salvage mkinitramfs` writes a single compressed one. Used by `salvage
// test` and `salvage status`; the writer is formats/cpio.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

struct InitramfsFile {
  std::string name;  // as stored, leading "./" and "/" removed
  u32 mode = 0;      // st_mode bits (type | permissions)
  u64 size = 0;
  std::string data;  // contents of regular files up to kInitramfsKeepBytes, else empty
};

struct InitramfsListing {
  std::vector<InitramfsFile> files;     // later archives override earlier names, as in the kernel
  std::vector<std::string> segments;    // "plain", "gzip", "zstd" per archive, in order
  u64 unpacked_bytes = 0;               // sum of regular file sizes: what the rootfs tmpfs holds

  const InitramfsFile* find(std::string_view name) const;
};

inline constexpr u64 kInitramfsKeepBytes = 64 * 1024;     // enough for /etc/salvage.conf
inline constexpr u64 kInitramfsMaxUnpacked = 1ull << 30;  // refuse decompression bombs

Result<InitramfsListing> read_initramfs(std::string_view file);

}  // namespace salvage

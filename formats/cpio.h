// SPDX-License-Identifier: GPL-2.0-or-later
// A writer for the "newc" cpio layout (magic 070701), the only layout the
// kernel's initramfs unpacker accepts (init/initramfs.c, Linux 6.1; the
// layout is Documentation/driver-api/early-userspace/buffer-format.rst).
// The whole archive is built in memory: a capture initramfs is a few MB.
//
// Each entry is a 110-byte ASCII header (the magic and 13 eight-digit hex
// fields), the NUL-terminated name padded so header+name is a multiple of 4,
// then the data padded to a multiple of 4. The archive ends with an entry
// named "TRAILER!!!" and is padded to 512 bytes, as GNU cpio does. The
// reader (for `salvage test`/`status`) is formats/cpio-reader.h.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

inline constexpr size_t kCpioHeaderSize = 110;
inline constexpr std::string_view kCpioNewcMagic = "070701";
inline constexpr std::string_view kCpioTrailer = "TRAILER!!!";

// The header as the kernel reads it (all fields are 8 hex digits on disk).
struct CpioHeader {
  u32 ino = 0, mode = 0, uid = 0, gid = 0, nlink = 0, mtime = 0, filesize = 0;
  u32 devmajor = 0, devminor = 0, rdevmajor = 0, rdevminor = 0, namesize = 0, check = 0;
};

// Decodes the 110-byte header at the start of bytes; errors name the field.
Result<CpioHeader> parse_cpio_header(std::string_view bytes);

class CpioWriter {
 public:
  // mtime is stamped on every entry (0 keeps the archive reproducible).
  explicit CpioWriter(u32 mtime = 0) : mtime_(mtime) {}

  // Paths are relative ("init", "lib/modules/x.ko"); a leading '/' is
  // dropped. Missing parent directories are added first (mode 0755), because
  // the kernel creates each entry with a plain mkdir/open and does not make
  // parents. Adding the same path twice is an error.
  Result<void> add_dir(std::string_view path, u32 perm);
  Result<void> add_file(std::string_view path, u32 perm, std::string_view data);
  Result<void> add_symlink(std::string_view path, std::string_view target);
  Result<void> add_char_device(std::string_view path, u32 perm, u32 major, u32 minor);

  // Appends the trailer and returns the archive; the writer is then spent.
  std::string finish();
  size_t entries() const { return next_ino_ - 1; }

 private:
  Result<std::string> normalize(std::string_view path) const;
  Result<void> add_parents(const std::string& path);
  Result<void> add_entry(const std::string& name, u32 mode, u32 nlink, std::string_view data,
                         u32 rdevmajor = 0, u32 rdevminor = 0);

  std::string out_;
  std::set<std::string> names_;
  u32 mtime_;
  u32 next_ino_ = 1;
  bool finished_ = false;
};

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// newc cpio writer (layout in formats/cpio.h).
#include "formats/cpio.h"

#include <sys/stat.h>

#include <cstdio>

namespace salvage {

namespace {

constexpr u32 kMaxName = 4096;  // PATH_MAX; the kernel rejects longer names

void put_hex8(std::string& out, u32 v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08X", v);
  out.append(buf, 8);
}

void pad4(std::string& out) {
  while (out.size() % 4) out.push_back('\0');
}

}  // namespace

Result<std::string> CpioWriter::normalize(std::string_view path) const {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return make_error("cpio: empty path");
  if (path.size() + 1 > kMaxName) return make_error("cpio: path longer than 4095 bytes: " + std::string(path.substr(0, 64)) + "...");
  // Reject "." and ".." components: the kernel would happily follow them.
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(start, end - start);
    if (comp.empty() || comp == "." || comp == "..")
      return make_error("cpio: bad path component in '" + std::string(path) + "'");
    start = end + 1;
  }
  if (path.find('\0') != std::string_view::npos) return make_error("cpio: NUL in path");
  return std::string(path);
}

Result<void> CpioWriter::add_parents(const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string parent = path.substr(0, slash);
    if (!names_.count(parent)) TRY(add_entry(parent, S_IFDIR | 0755, 2, {}));
  }
  return Ok();
}

Result<void> CpioWriter::add_entry(const std::string& name, u32 mode, u32 nlink, std::string_view data,
                                   u32 rdevmajor, u32 rdevminor) {
  if (finished_) return make_error("cpio: archive already finished");
  if (!names_.insert(name).second) return make_error("cpio: duplicate entry '" + name + "'");
  if (data.size() > 0xffffffffu) return make_error("cpio: '" + name + "' is larger than 4 GiB");
  put_hex8(out_.append(kCpioNewcMagic), next_ino_++);  // ino: unique, so nothing looks hard-linked
  put_hex8(out_, mode);
  put_hex8(out_, 0);  // uid root
  put_hex8(out_, 0);  // gid root
  put_hex8(out_, nlink);
  put_hex8(out_, mtime_);
  put_hex8(out_, static_cast<u32>(data.size()));
  put_hex8(out_, 0);  // devmajor
  put_hex8(out_, 0);  // devminor
  put_hex8(out_, rdevmajor);
  put_hex8(out_, rdevminor);
  put_hex8(out_, static_cast<u32>(name.size() + 1));
  put_hex8(out_, 0);  // check: only the 070702 variant uses it
  out_.append(name);
  out_.push_back('\0');
  pad4(out_);
  out_.append(data);
  pad4(out_);
  return Ok();
}

Result<void> CpioWriter::add_dir(std::string_view path, u32 perm) {
  ASSIGN_OR_RETURN(std::string name, normalize(path));
  TRY(add_parents(name));
  return add_entry(name, S_IFDIR | (perm & 07777), 2, {});
}

Result<void> CpioWriter::add_file(std::string_view path, u32 perm, std::string_view data) {
  ASSIGN_OR_RETURN(std::string name, normalize(path));
  TRY(add_parents(name));
  return add_entry(name, S_IFREG | (perm & 07777), 1, data);
}

Result<void> CpioWriter::add_symlink(std::string_view path, std::string_view target) {
  ASSIGN_OR_RETURN(std::string name, normalize(path));
  if (target.empty()) return make_error("cpio: empty symlink target for '" + name + "'");
  TRY(add_parents(name));
  return add_entry(name, S_IFLNK | 0777, 1, target);  // the data is the link target
}

Result<void> CpioWriter::add_char_device(std::string_view path, u32 perm, u32 major, u32 minor) {
  ASSIGN_OR_RETURN(std::string name, normalize(path));
  TRY(add_parents(name));
  return add_entry(name, S_IFCHR | (perm & 07777), 1, {}, major, minor);
}

std::string CpioWriter::finish() {
  if (!finished_) {
    // The trailer is an ordinary header: ino 0, mode 0, nlink 1 (GNU cpio).
    u32 ino = next_ino_;
    next_ino_ = 0;
    (void)add_entry(std::string(kCpioTrailer), 0, 1, {});
    next_ino_ = ino;
    while (out_.size() % 512) out_.push_back('\0');
    finished_ = true;
  }
  return std::move(out_);
}

Result<CpioHeader> parse_cpio_header(std::string_view b) {
  if (b.size() < kCpioHeaderSize) return make_error("cpio header: truncated (" + std::to_string(b.size()) + " bytes)");
  if (b.substr(0, 6) != kCpioNewcMagic)
    return make_error("cpio header: magic is '" + std::string(b.substr(0, 6)) + "', expected 070701 (newc)");
  u32 f[13];
  for (int i = 0; i < 13; ++i) {
    u32 v = 0;
    for (int j = 0; j < 8; ++j) {
      char c = b[6 + i * 8 + j];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return make_error("cpio header: non-hex digit in field " + std::to_string(i) + " at offset " + std::to_string(6 + i * 8 + j));
      v = v << 4 | static_cast<u32>(d);
    }
    f[i] = v;
  }
  return CpioHeader{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12]};
}

}  // namespace salvage

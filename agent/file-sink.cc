// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/file-sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>

namespace salvage {

namespace {
std::string at(const std::string& what, const std::string& path, u64 off) {
  char b[32];
  std::snprintf(b, sizeof b, " at 0x%" PRIx64, off);
  return what + " " + path + b;
}
}  // namespace

Result<std::unique_ptr<FileSink>> FileSink::create(const std::string& path) {
  struct stat st{};
  int flags = O_WRONLY | O_CLOEXEC;
  // Truncate regular files only; a block device keeps its size.
  if (stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) flags |= O_CREAT | O_TRUNC;
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) return Error::from_errno("open " + path);
  return std::unique_ptr<FileSink>(new FileSink(path, fd, true, true));
}

std::unique_ptr<FileSink> FileSink::stream(int fd, std::string name) {
  return std::unique_ptr<FileSink>(new FileSink(std::move(name), fd, false, false));
}

FileSink::~FileSink() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

Result<void> FileSink::write_at(FileOffset off, std::span<const std::byte> data) {
  if (!seekable_ && off.value != stream_pos_) {
    char b[96];
    std::snprintf(b, sizeof b, ": write at 0x%" PRIx64 " but the stream is at 0x%" PRIx64, off.value, stream_pos_);
    return make_error(path_ + b);
  }
  const std::byte* p = data.data();
  size_t left = data.size();
  u64 pos = off.value;
  while (left) {
    ssize_t n = seekable_ ? ::pwrite(fd_, p, left, static_cast<off_t>(pos)) : ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(at(seekable_ ? "pwrite" : "write", path_, pos));
    }
    if (n == 0) return Error::from_errno(at(seekable_ ? "pwrite" : "write", path_, pos), ENOSPC);
    p += n;
    left -= static_cast<size_t>(n);
    pos += static_cast<u64>(n);
  }
  if (!seekable_) stream_pos_ = pos;
  return Ok();
}

Result<void> FileSink::finish() {
  if (!seekable_) return Ok();
  if (::fdatasync(fd_) != 0) return Error::from_errno("fdatasync " + path_);
  return Ok();
}

}  // namespace salvage

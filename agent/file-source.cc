// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/file-source.h"

#include "agent/file-util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

namespace salvage {

namespace {
constexpr u64 kWindow = 4ULL << 20;
}

Result<std::unique_ptr<FileSource>> FileSource::open(const std::string& path, bool use_mmap) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + path);
  auto info = stat_fd(fd, path);
  if (!info.ok()) {
    ::close(fd);
    return std::move(info).error();
  }
  // Dumps are read front to back: ask for aggressive readahead.
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  // mmap only /proc/vmcore (procfs): its read() copies through a bounce
  // page per call, while mmap maps old memory directly. A regular file is
  // read with pread, which is as fast there and cannot SIGBUS when the file
  // shrinks under us (a dump still being copied, a truncated disk).
  struct statfs fs {};
  bool procfs = fstatfs(fd, &fs) == 0 && fs.f_type == 0x9fa0;  // PROC_SUPER_MAGIC
  return std::unique_ptr<FileSource>(new FileSource(path, fd, info->size, use_mmap && procfs && info->regular));
}

FileSource::~FileSource() {
  if (win_) munmap(win_, win_len_);
  if (fd_ >= 0) ::close(fd_);
}

Result<void> FileSource::pread_all(u64 off, std::span<std::byte> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      char buf[64];
      std::snprintf(buf, sizeof buf, "pread %zu bytes at 0x%" PRIx64, out.size() - done, off + done);
      return Error::from_errno(path_ + ": " + buf);
    }
    if (n == 0) {
      char buf[96];
      std::snprintf(buf, sizeof buf, ": unexpected end of file at 0x%" PRIx64 " (wanted 0x%zx more bytes)",
                    off + done, out.size() - done);
      return make_error(path_ + buf);
    }
    done += static_cast<size_t>(n);
  }
  return Ok();
}

Result<void> FileSource::read_at(FileOffset off, std::span<std::byte> out) {
  const u64 o = off.value;
  if (o > size_ || out.size() > size_ - o) {
    char buf[128];
    std::snprintf(buf, sizeof buf, ": read of 0x%zx bytes at 0x%" PRIx64 " is past the end (size 0x%" PRIx64 ")",
                  out.size(), o, size_);
    return make_error(path_ + buf);
  }
  if (out.empty()) return Ok();
  if (!use_mmap_ || out.size() > kWindow / 2) return pread_all(o, out);
  if (!(win_ && o >= win_off_ && o + out.size() <= win_off_ + win_len_)) {
    if (win_) munmap(win_, win_len_);
    win_ = nullptr;
    u64 start = o & ~(kWindow - 1);
    u64 len = std::min(kWindow * 2, size_ - start);  // two windows so a read never straddles the edge
    void* p = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd_, static_cast<off_t>(start));
    if (p == MAP_FAILED) {
      use_mmap_ = false;  // e.g. a file system without mmap: pread from now on
      return pread_all(o, out);
    }
    madvise(p, len, MADV_SEQUENTIAL);
    win_ = p;
    win_off_ = start;
    win_len_ = len;
  }
  std::memcpy(out.data(), static_cast<const std::byte*>(win_) + (o - win_off_), out.size());
  return Ok();
}

}  // namespace salvage

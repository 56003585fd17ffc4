// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/save-device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/hex.h"

namespace salvage {

Result<std::unique_ptr<DeviceSink>> DeviceSink::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + path + " for writing");
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Error::from_errno("fstat " + path, e);
  }
  u64 size = static_cast<u64>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    off_t end = lseek(fd, 0, SEEK_END);  // a block device's st_size is 0
    if (end > 0) size = static_cast<u64>(end);
  }
  return std::unique_ptr<DeviceSink>(new DeviceSink(path, fd, size));
}

DeviceSink::~DeviceSink() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> DeviceSink::write_at(FileOffset off, std::span<const std::byte> data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(off.value + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::from_errno("pwrite " + path_ + " at " + hex(off.value + done), n < 0 ? errno : ENOSPC);
    done += static_cast<size_t>(n);
  }
  return Ok();
}

Result<void> DeviceSink::finish() {
  if (::fdatasync(fd_) != 0) return Error::from_errno("fdatasync " + path_);
  return Ok();
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/save-device.h"

#include "agent/file-util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/hex.h"

namespace salvage {

Result<std::unique_ptr<DeviceSink>> DeviceSink::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + path + " for writing");
  auto info = stat_fd(fd, path);
  if (!info.ok()) {
    ::close(fd);
    return std::move(info).error();
  }
  return std::unique_ptr<DeviceSink>(new DeviceSink(path, fd, info->size));
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

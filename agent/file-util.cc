// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/file-util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace salvage {

Result<std::string> read_file(const std::string& path, size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("opening " + path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error::from_errno("reading " + path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_size) {
      ::close(fd);
      return make_error(path + ": larger than " + std::to_string(max_size >> 20) + " MiB");
    }
  }
  ::close(fd);
  return out;
}

Result<void> fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + path);
  int r = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (r != 0) return Error::from_errno("fsync " + path, e);
  return Ok();
}

Result<FdInfo> stat_fd(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return Error::from_errno("fstat " + path);
  FdInfo info{static_cast<u64>(st.st_size), S_ISREG(st.st_mode)};
  if (S_ISBLK(st.st_mode)) {
    off_t end = lseek(fd, 0, SEEK_END);  // a block device's st_size is 0
    if (end > 0) info.size = static_cast<u64>(end);
  }
  return info;
}

Result<void> make_dir_0700(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Error::from_errno("mkdir " + path);
  return Ok();
}

}  // namespace salvage

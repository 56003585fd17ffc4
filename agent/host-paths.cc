// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/host-paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "agent/crashkernel.h"

namespace salvage {

bool HostPaths::parse_option(int argc, char** argv, int& i) {
  struct Opt {
    const char* name;
    std::string HostPaths::*field;
  };
  static const Opt kOpts[] = {
      {"--proc-root", &HostPaths::proc},         {"--sys-root", &HostPaths::sys},
      {"--dev-root", &HostPaths::dev},           {"--boot-dir", &HostPaths::boot},
      {"--modules-dir", &HostPaths::modules},    {"--state-file", &HostPaths::state_file},
      {"--initramfs-dir", &HostPaths::initramfs_dir},
  };
  for (const auto& o : kOpts) {
    size_t n = std::strlen(o.name);
    if (!std::strcmp(argv[i], o.name) && i + 1 < argc) {
      this->*o.field = argv[++i];
      return true;
    }
    if (!std::strncmp(argv[i], o.name, n) && argv[i][n] == '=') {
      this->*o.field = argv[i] + n + 1;
      return true;
    }
  }
  return false;
}

std::string trim_space(std::string_view s) {
  while (!s.empty() && std::strchr(" \t\r\n", s.front())) s.remove_prefix(1);
  while (!s.empty() && std::strchr(" \t\r\n", s.back())) s.remove_suffix(1);
  return std::string(s);
}

Result<std::string> HostPaths::running_release() const {
  ASSIGN_OR_RETURN(std::string r, read_text_file(proc + "/sys/kernel/osrelease"));
  return trim_space(r);
}

Result<u64> HostPaths::crash_size() const {
  std::string path = sys + "/kernel/kexec_crash_size";
  auto text = read_text_file(path);
  if (!text.ok()) {
    if (text.error().sys_errno == ENOENT)
      return make_error(path + " does not exist: this kernel was built without CONFIG_CRASH_DUMP/KEXEC");
    return std::move(text).error();
  }
  char* end = nullptr;
  std::string t = trim_space(*text);
  u64 v = std::strtoull(t.c_str(), &end, 10);
  if (t.empty() || *end) return make_error(path + ": '" + t + "' is not a number");
  return v;
}

Result<bool> HostPaths::crash_loaded() const {
  ASSIGN_OR_RETURN(std::string t, read_text_file(sys + "/kernel/kexec_crash_loaded"));
  return trim_space(t) == "1";
}

Result<u64> HostPaths::mem_total() const {
  ASSIGN_OR_RETURN(std::string t, read_text_file(proc + "/meminfo"));
  ASSIGN_OR_RETURN(MemInfo m, parse_meminfo(t).context(proc + "/meminfo"));
  return m.total;
}

std::string HostPaths::lockdown() const {
  // "none [integrity] confidentiality" (security/lockdown/lockdown.c)
  auto t = read_text_file(sys + "/kernel/security/lockdown");
  if (!t.ok()) return "";
  auto open = t->find('['), close = t->find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return trim_space(*t);
  return t->substr(open + 1, close - open - 1);
}

int HostPaths::secure_boot() const {
  // efivarfs files are a 4-byte attribute word followed by the value; the
  // GUID is EFI_GLOBAL_VARIABLE (UEFI spec 2.9, 3.3).
  auto t = read_text_file(sys + "/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", 64);
  if (!t.ok() || t->size() < 5) return -1;
  return (*t)[4] == 1 ? 1 : 0;
}

long HostPaths::boot_cpu_apicid() const {
  auto t = read_text_file(proc + "/cpuinfo", 16 << 20);
  if (!t.ok()) return -1;
  // The first "initial apicid" line belongs to processor 0, the boot CPU.
  auto pos = t->find("\ninitial apicid");
  if (pos == std::string::npos) return -1;
  auto colon = t->find(':', pos);
  if (colon == std::string::npos) return -1;
  char* end = nullptr;
  long v = std::strtol(t->c_str() + colon + 1, &end, 10);
  return end == t->c_str() + colon + 1 ? -1 : v;
}

namespace {

Result<std::string> read_fd_all(int fd, const std::string& path, size_t max_bytes) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return make_error(path + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return out;
}

}  // namespace

Result<std::string> read_text_file(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + path);
  auto r = read_fd_all(fd, path, max_bytes);
  ::close(fd);
  return r;
}

Result<std::string> read_binary_file(const std::string& path, size_t max_bytes) {
  return read_text_file(path, max_bytes);
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    // mkdir -p, one level at a time.
    for (size_t p = 1; p <= dir.size(); ++p) {
      if (p == dir.size() || dir[p] == '/') {
        std::string part = dir.substr(0, p);
        if (::mkdir(part.c_str(), 0755) < 0 && errno != EEXIST) return Error::from_errno("mkdir " + part);
      }
    }
  }
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error::from_errno("open " + tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Error::from_errno("write " + tmp, e);
    }
    done += static_cast<size_t>(n);
  }
  int sync_rc = ::fsync(fd);
  int sync_errno = errno;
  if (::close(fd) < 0 && sync_rc == 0) sync_rc = -1, sync_errno = errno;
  if (sync_rc < 0) {
    ::unlink(tmp.c_str());
    return Error::from_errno("sync " + tmp, sync_errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Error::from_errno("rename " + tmp + " to " + path, e);
  }
  return Ok();
}

}  // namespace salvage

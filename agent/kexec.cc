// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/kexec.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>


extern char** environ;

namespace salvage {
namespace {

// include/uapi/linux/kexec.h
constexpr unsigned long kKexecFileUnload = 0x1;
constexpr unsigned long kKexecFileOnCrash = 0x2;
constexpr unsigned long kKexecFileNoInitramfs = 0x4;

#ifndef SYS_kexec_file_load
#define SYS_kexec_file_load 320  // x86_64
#endif

u16 le16(std::string_view s, size_t off) {
  return static_cast<u16>(static_cast<u8>(s[off]) | static_cast<u8>(s[off + 1]) << 8);
}
u32 le32(std::string_view s, size_t off) { return le16(s, off) | static_cast<u32>(le16(s, off + 2)) << 16; }

Result<void> run_tool(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) return Error::from_errno("running " + argv[0], rc);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Error::from_errno("waiting for " + argv[0]);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Ok();
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
  if (WIFEXITED(status)) return make_error("'" + line + "' exited with status " + std::to_string(WEXITSTATUS(status)));
  return make_error("'" + line + "' was killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace

std::string BzImageInfo::release() const { return version.substr(0, version.find(' ')); }

Result<BzImageInfo> parse_bzimage(std::string_view img) {
  // Offsets from Documentation/x86/boot.rst: "HdrS" at 0x202, version at
  // 0x206, kernel_version pointer at 0x20e (string at pointer + 0x200),
  // init_size at 0x260 (protocol 2.10+).
  if (img.size() < 0x264 || img.substr(0x202, 4) != "HdrS")
    return make_error("not an x86 bzImage: no \"HdrS\" boot header at 0x202");
  BzImageInfo b;
  b.protocol = le16(img, 0x206);
  if (b.protocol < 0x020a)
    return make_error("bzImage boot protocol " + std::to_string(b.protocol >> 8) + "." + std::to_string(b.protocol & 0xff) +
                      " at 0x206 is older than 2.10 (no init_size); kexec_file_load needs a newer kernel");
  b.init_size = le32(img, 0x260);
  u16 vptr = le16(img, 0x20e);
  size_t voff = size_t{vptr} + 0x200;
  if (vptr != 0 && voff < img.size()) {
    size_t end = img.find('\0', voff);
    if (end != std::string_view::npos && end - voff < 512) b.version = std::string(img.substr(voff, end - voff));
  }
  return b;
}

const char* kexec_method_name(KexecMethod m) {
  switch (m) {
    case KexecMethod::kAuto: return "auto";
    case KexecMethod::kSyscall: return "kexec_file_load";
    case KexecMethod::kKexecTools: return "kexec-tools";
  }
  return "?";
}

std::vector<std::string> kexec_tools_load_argv(const KexecRequest& req, const std::string& tool) {
  std::vector<std::string> a = {tool, "-p", req.kernel};
  if (!req.initrd.empty()) a.push_back("--initrd=" + req.initrd);
  a.push_back("--command-line=" + req.cmdline);
  return a;
}

std::vector<std::string> kexec_tools_unload_argv(const std::string& tool) { return {tool, "-p", "-u"}; }

std::string explain_kexec_errno(int err) {
  switch (err) {
    case EPERM:
      return "not permitted: salvage load needs root (CAP_SYS_BOOT), kexec may be disabled "
             "(sysctl kernel.kexec_load_disabled=1), or lockdown requires a signed kernel";
    case EKEYREJECTED:
    case ENOKEY:
    case EBADMSG:
      return "the kernel image's signature was rejected: under lockdown or Secure Boot only a kernel "
             "signed with a key this kernel trusts can be loaded";
    case EBUSY:
      return "kexec is busy (another load is in progress); try again";
    case ENOMEM:
    case EADDRNOTAVAIL:
      return "the kernel and initramfs do not fit in the reserved crashkernel memory; reserve more";
    case ENOEXEC:
      return "the kernel file is not an image this kernel can load (kexec_file_load wants a bzImage, not vmlinux)";
    case EINVAL:
      return "the kernel rejected the request (command line too long, or no crashkernel memory reserved)";
    default:
      return std::strerror(err);
  }
}

Result<KexecMethod> kexec_load_crash(const KexecRequest& req, const KexecOptions& opt) {
  if (opt.method != KexecMethod::kKexecTools) {
    int kfd = ::open(req.kernel.c_str(), O_RDONLY | O_CLOEXEC);
    if (kfd < 0) return Error::from_errno("open " + req.kernel);
    int ifd = -1;
    unsigned long flags = kKexecFileOnCrash;
    if (req.initrd.empty()) {
      flags |= kKexecFileNoInitramfs;
    } else {
      ifd = ::open(req.initrd.c_str(), O_RDONLY | O_CLOEXEC);
      if (ifd < 0) {
        int e = errno;
        ::close(kfd);
        return Error::from_errno("open " + req.initrd, e);
      }
    }
    // cmdline_len counts the terminating NUL (kernel/kexec_file.c checks
    // that the last byte is '\0').
    long rc = ::syscall(SYS_kexec_file_load, kfd, ifd, req.cmdline.size() + 1, req.cmdline.c_str(), flags);
    int e = errno;
    ::close(kfd);
    if (ifd >= 0) ::close(ifd);
    if (rc == 0) return KexecMethod::kSyscall;
    if (e != ENOSYS || opt.method == KexecMethod::kSyscall)
      return Error{"kexec_file_load(" + req.kernel + "): " + explain_kexec_errno(e), e};
  }
  TRY_CTX(run_tool(kexec_tools_load_argv(req, opt.kexec_tool)), "kexec_file_load is missing, fallback to kexec -p");
  return KexecMethod::kKexecTools;
}

Result<KexecMethod> kexec_unload_crash(const KexecOptions& opt) {
  if (opt.method != KexecMethod::kKexecTools) {
    long rc = ::syscall(SYS_kexec_file_load, -1, -1, 0UL, nullptr, kKexecFileUnload | kKexecFileOnCrash);
    int e = errno;
    if (rc == 0) return KexecMethod::kSyscall;
    if (e != ENOSYS || opt.method == KexecMethod::kSyscall)
      return Error{"kexec_file_load(unload): " + explain_kexec_errno(e), e};
  }
  TRY(run_tool(kexec_tools_unload_argv(opt.kexec_tool)));
  return KexecMethod::kKexecTools;
}

}  // namespace salvage

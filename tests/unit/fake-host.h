// SPDX-License-Identifier: GPL-2.0-or-later
// A temporary /proc, /sys, /dev, /boot tree for the arming commands (load,
// status, test), so their tests never look at, or arm, the host.
#pragma once

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "formats/cpio.h"

namespace salvage::testing {

inline void write_file(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

// A bzImage boot header with just the fields salvage reads.
inline std::string fake_bzimage(const std::string& version, uint32_t init_size) {
  std::string img(0x1000, '\0');
  img.replace(0x202, 4, "HdrS");
  img[0x206] = 0x0f, img[0x207] = 0x02;  // protocol 2.15
  uint16_t vptr = 0x400;                  // string at 0x600
  img[0x20e] = static_cast<char>(vptr & 0xff), img[0x20f] = static_cast<char>(vptr >> 8);
  for (int i = 0; i < 4; ++i) img[0x260 + i] = static_cast<char>(init_size >> (8 * i));
  img.replace(0x600, version.size(), version);
  return img;
}

inline std::string gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

inline std::string capture_initramfs(const std::string& conf, const std::vector<std::string>& modules = {}) {
  CpioWriter w;
  (void)w.add_file("init", 0755, std::string(5000, 'x'));
  (void)w.add_file("etc/salvage.conf", 0644, conf);
  std::string list;
  for (const auto& m : modules) {
    (void)w.add_file(m, 0644, "ko");
    list += "/" + m + "\n";
  }
  if (!modules.empty()) (void)w.add_file("etc/salvage.modules", 0644, list);
  return gzip(w.finish());
}

struct FakeHost {
  std::string root;
  std::string release = "6.1.0-test-amd64";

  FakeHost() {
    char tmpl[] = "/tmp/salvage-host.XXXXXX";
    root = ::mkdtemp(tmpl);
    write_file(root + "/proc/sys/kernel/osrelease", release + "\n");
    write_file(root + "/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro console=ttyS0 crashkernel=256M quiet\n");
    write_file(root + "/proc/meminfo",
               "MemTotal:        2000000 kB\nMemFree:         1000000 kB\nBuffers:           10000 kB\n"
               "Cached:           300000 kB\nShmem:             10000 kB\nAnonPages:        200000 kB\n");
    write_file(root + "/proc/self/mounts", "");
    write_file(root + "/proc/cpuinfo", "processor\t: 0\ninitial apicid\t: 0\n");
    write_file(root + "/sys/kernel/kexec_crash_size", "268435456\n");
    write_file(root + "/sys/kernel/kexec_crash_loaded", "0\n");
    write_file(root + "/boot/vmlinuz-" + release, fake_bzimage(release + " (test) #1 SMP", 40u << 20));
    write_file(root + "/var/lib/salvage/initramfs-" + release + ".img",
               capture_initramfs("version=1\ntarget=LABEL=dumpdisk\ndump_level=31\ncompression=zstd\n"));
  }
  ~FakeHost() { std::filesystem::remove_all(root); }

  // A disk of `bytes` at dev/<name> with a by-label link and sysfs size.
  void add_disk(const std::string& name, const std::string& label, unsigned long long bytes) {
    write_file(root + "/dev/" + name, "");
    write_file(root + "/sys/class/block/" + name + "/size", std::to_string(bytes / 512) + "\n");
    std::filesystem::create_directories(root + "/dev/disk/by-label");
    std::filesystem::create_symlink("../../" + name, root + "/dev/disk/by-label/" + label);
  }

  std::vector<std::string> args(std::vector<std::string> cmd) const {
    for (const char* o : {"--proc-root=/proc", "--sys-root=/sys", "--dev-root=/dev", "--boot-dir=/boot",
                          "--modules-dir=/lib/modules", "--state-file=/var/lib/salvage/loaded",
                          "--initramfs-dir=/var/lib/salvage"}) {
      std::string s = o;
      auto eq = s.find('=');
      cmd.push_back(s.substr(0, eq + 1) + root + s.substr(eq + 1));
    }
    return cmd;
  }
};

// Runs a cmd_* entry point with argv from strings.
template <typename F>
int run_command(F f, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return f(static_cast<int>(args.size()), argv.data());
}

}  // namespace salvage::testing

// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage test`: a dry run of the capture, with no crash. It reads the
// capture initramfs read-only and checks, one line each:
//   - the reservation: crashkernel memory exists and holds kernel +
//     initramfs + runtime (agent/crashkernel.h);
//   - the initramfs: /init, /etc/salvage.conf, and every module listed in
//     /etc/salvage.modules;
//   - each target: it exists now (udev's /dev/disk links for LABEL=, UUID=,
//     PARTUUID=), its driver modules are in the initramfs, and it has room
//     for the estimated dump; a `net` target: the collector is reachable
//     and accepts this host, probed with the bundle the initramfs carries
//     (agent/collector-probe.cc: TLS and PROBE, nothing stored there).
// Exit status 1 when any check fails, 0 otherwise; 2 on usage errors.
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <cctype>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/arm-state.h"
#include "agent/capture-config.h"
#include "agent/capture-fs.h"
#include "agent/collector.h"
#include "agent/commands.h"
#include "agent/crashkernel.h"
#include "agent/host-paths.h"
#include "agent/net-sink.h"
#include "agent/kexec.h"
#include "agent/log.h"
#include "formats/cpio-reader.h"

namespace salvage {
namespace {

struct Report {
  int failures = 0;
  void ok(const std::string& m) { std::printf("ok    %s\n", m.c_str()); }
  void warn(const std::string& m) { std::printf("warn  %s\n", m.c_str()); }
  void fail(const std::string& m) {
    std::printf("FAIL  %s\n", m.c_str());
    ++failures;
  }
};

std::string realpath_of(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

std::string basename_of(const std::string& p) { return p.substr(p.rfind('/') + 1); }

// udev's /dev/disk/by-label names escape bytes outside [0-9A-Za-z#+-.:=@_]
// as \xNN (udev encode_devnode_name()).
std::string udev_escape(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (std::isalnum(c) || std::strchr("#+-.:=@_", c)) o.push_back(static_cast<char>(c));
    else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      o += b;
    }
  }
  return o;
}

// The device node a target names, under the (possibly fake) /dev root.
std::string device_path(const HostPaths& host, const TargetSpec& t) {
  switch (t.kind) {
    case TargetSpec::Kind::kLabel: return host.dev + "/disk/by-label/" + udev_escape(t.value);
    case TargetSpec::Kind::kUuid: return host.dev + "/disk/by-uuid/" + udev_escape(t.value);
    case TargetSpec::Kind::kPartUuid: return host.dev + "/disk/by-partuuid/" + udev_escape(t.value);
    case TargetSpec::Kind::kPath: return host.dev + t.value.substr(4);  // "/dev/x" -> <dev>/x
    case TargetSpec::Kind::kNet: return {};  // a collector, not a device
  }
  return t.value;
}

// Kernel modules on the sysfs path of a block device: the driver of each
// device from the disk up to the root (virtio_blk, virtio_pci; nvme; ahci,
// libahci, ...). Only loadable ones (sys/module/M/initstate exists) matter.
std::vector<std::string> driver_modules(const HostPaths& host, const std::string& blockname) {
  std::vector<std::string> mods;
  std::string dir = host.sys + "/class/block/" + blockname;
  struct stat st{};
  if (::stat((dir + "/partition").c_str(), &st) == 0) dir += "/..";  // partition -> its disk
  std::string dev = realpath_of(dir + "/device");
  std::string root = realpath_of(host.sys);
  while (!dev.empty() && dev.size() > root.size() && dev.starts_with(root)) {
    std::string mod = realpath_of(dev + "/driver/module");
    if (!mod.empty()) {
      std::string m = basename_of(mod);
      if (::stat((host.sys + "/module/" + m + "/initstate").c_str(), &st) == 0) mods.push_back(m);
    }
    dev = dev.substr(0, dev.rfind('/'));
  }
  return mods;
}

// Module name of an initramfs file name: ".../virtio-blk.ko.zst" -> "virtio_blk".
std::string module_name(const std::string& path) {
  std::string b = basename_of(path);
  auto ko = b.find(".ko");
  if (ko == std::string::npos) return "";
  b.resize(ko);
  for (char& c : b)
    if (c == '-') c = '_';
  return b;
}

struct MountEntry {
  std::string dir, type;
};
// The mount of a device node (by realpath), from proc/self/mounts.
MountEntry find_mount(const HostPaths& host, const std::string& node) {
  auto t = read_text_file(host.proc + "/self/mounts", 16 << 20);
  if (!t.ok()) return {};
  size_t pos = 0;
  while (pos < t->size()) {
    size_t nl = t->find('\n', pos);
    std::string line = t->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? t->size() : nl + 1;
    char src[4096], dir[4096], type[256];
    if (std::sscanf(line.c_str(), "%4095s %4095s %255s", src, dir, type) != 3) continue;
    std::string s = src;
    if (s.starts_with("/dev/")) s = host.dev + s.substr(4);
    if (realpath_of(s) == node) return {dir, type};
  }
  return {};
}

struct TestArgs {
  HostPaths host;
  std::string kernel, initrd;
  std::vector<std::string> targets;
  double probe_timeout_s = 10;
};

// This host's name as the capture agent would send it in plaintext mode
// (the crashed kernel's node name, made path-safe: capture-net.cc).
std::string node_name(const HostPaths& host) {
  std::string n;
  if (auto t = read_text_file(host.proc + "/sys/kernel/hostname", 256); t.ok()) n = *t;
  while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
  return fs_host_component(n);
}

// A net target: the configuration is complete, and the collector, probed
// the way the capture agent connects (its address, the bundle from the
// initramfs), is reachable and accepts this host. The probe runs from the
// running system, whose addresses the capture kernel copies (docs/network.md).
void check_net_target(const TestArgs& a, const TargetSpec& t, const NetConfig& net, const InitramfsListing* rd,
                      Report& r) {
  const std::string name = "target " + t.to_string();
  if (auto c = check_net_config(net, t.value); !c.ok()) {
    r.fail(name + ": " + c.error().message);
    return;
  }
  ProbeRequest pr;
  if (auto p = parse_net_address(net_target_collector(t, net), pr.address, pr.port); !p.ok()) {
    r.fail(name + ": " + p.error().message);
    return;
  }
  pr.insecure = net.insecure;
  pr.timeout_s = a.probe_timeout_s;
  if (net.insecure) {
    pr.host_name = node_name(a.host);
    r.warn(name + ": collector_insecure=1: the dump would cross the network in plaintext (labs only)");
  } else {
    std::string in_rd = net.bundle;
    while (in_rd.starts_with("/")) in_rd.erase(0, 1);
    const InitramfsFile* b = rd ? rd->find(in_rd) : nullptr;
    if (!b) {
      r.fail(name + ": the initramfs has no " + net.bundle + " (salvage mkinitramfs --collector BUNDLE)");
      return;
    }
    pr.bundle_text = b->data;
  }
  const Log quiet(0);
  const ProbeReport p = probe_collector(pr, quiet);
  if (p.outcome == ProbeOutcome::kAccepted) r.ok(name + ": collector " + p.message + "; nothing stored by the probe");
  else if (p.outcome == ProbeOutcome::kOldCollector) r.warn(name + ": collector " + p.message);
  else r.fail(name + ": collector " + probe_outcome_name(p.outcome) + ": " + p.message);
}

void check_target(const TestArgs& a, const TargetSpec& t, const NetConfig& net, const InitramfsListing* rd,
                  const DumpEstimate& est, Report& r) {
  std::string name = t.to_string();
  if (t.kind == TargetSpec::Kind::kNet) {
    check_net_target(a, t, net, rd, r);
    return;
  }
  std::string link = device_path(a.host, t);
  std::string node = realpath_of(link);
  if (node.empty()) {
    r.fail("target " + name + ": no such device (" + link +
           " does not exist; is the disk attached, and is its label/UUID right? `lsblk -f` lists them)");
    return;
  }
  std::string block = basename_of(node);
  struct stat st{};
  ::stat(node.c_str(), &st);
  u64 size = 0;
  if (auto s = read_text_file(a.host.sys + "/class/block/" + block + "/size"); s.ok())
    size = std::strtoull(s->c_str(), nullptr, 10) * 512;  // 512-byte sectors, whatever the block size
  else if (S_ISREG(st.st_mode)) size = static_cast<u64>(st.st_size);
  r.ok("target " + name + ": " + node + (size ? " (" + human_bytes(size) + ")" : ""));

  std::vector<std::string> need = driver_modules(a.host, block);
  MountEntry m;
  if (t.file_system) {
    m = find_mount(a.host, node);
    if (m.type.empty()) r.warn("target " + name + ": not mounted now, so its file system type and free space are unknown");
    else if (::stat((a.host.sys + "/module/" + m.type + "/initstate").c_str(), &st) == 0) need.push_back(m.type);
  }
  if (rd) {
    for (const auto& mod : need) {
      bool found = false;
      for (const auto& f : rd->files) found = found || module_name(f.name) == mod;
      if (found) r.ok("target " + name + ": module " + mod + " is in the initramfs");
      else r.fail("target " + name + ": needs module " + mod + ", which the initramfs lacks (salvage mkinitramfs --add-module " + mod + ")");
    }
  }
  if (t.file_system) {
    if (m.dir.empty()) return;
    struct statvfs vfs{};
    if (::statvfs(m.dir.c_str(), &vfs) < 0) {
      r.warn("target " + name + ": statvfs " + m.dir + " failed");
      return;
    }
    u64 avail = static_cast<u64>(vfs.f_bavail) * vfs.f_frsize;
    if (avail < est.bytes) r.fail("target " + name + ": " + human_bytes(avail) + " free, an estimated " + human_bytes(est.bytes) + " dump needs more");
    else r.ok("target " + name + ": " + human_bytes(avail) + " free for an estimated " + human_bytes(est.bytes) + " dump");
    return;
  }
  // Raw target: the dump plus room for the container header, the kernel
  // log and the section table (1 MiB is generous for all three).
  u64 want = est.bytes + (1ull << 20);
  if (size == 0) r.warn("target " + name + ": size unknown");
  else if (size < want)
    r.fail("target " + name + ": " + human_bytes(size) + " is smaller than the estimated dump (" + human_bytes(want) +
           "); the dump would be incomplete");
  else r.ok("target " + name + ": room for the estimated " + human_bytes(want) + " dump");
}

}  // namespace

int cmd_test(int argc, char** argv) {
  TestArgs a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (a.host.parse_option(argc, argv, i)) continue;
    if (s == "--kernel" && i + 1 < argc) a.kernel = argv[++i];
    else if (s == "--initrd" && i + 1 < argc) a.initrd = argv[++i];
    else if (s == "--target" && i + 1 < argc) a.targets.push_back(argv[++i]);
    else if (s == "--probe-timeout" && i + 1 < argc) a.probe_timeout_s = std::max(0.1, std::strtod(argv[++i], nullptr));
    else {
      std::fprintf(stderr, "usage: salvage test [--kernel PATH] [--initrd PATH] [--target SPEC]... [--probe-timeout S] %s\n",
                   HostPaths::usage());
      return 2;
    }
  }
  Report r;
  std::string release = a.host.running_release().ok() ? *a.host.running_release() : "";
  std::string armed_cmdline;
  if (auto t = read_text_file(a.host.state_file); t.ok()) {
    if (auto s = parse_arm_state(*t); s.ok()) {
      if (a.kernel.empty()) a.kernel = s->kernel.path;
      if (a.initrd.empty()) a.initrd = s->initrd.path;
      armed_cmdline = s->cmdline;
    }
  }
  if (a.kernel.empty()) a.kernel = a.host.default_kernel(release);
  if (a.initrd.empty()) a.initrd = a.host.default_initramfs(release);

  // The initramfs and the configuration it carries.
  CaptureConfig cfg;
  std::unique_ptr<InitramfsListing> rd;
  u64 rd_size = 0;
  if (auto f = read_binary_file(a.initrd, 1u << 30); !f.ok()) {
    r.fail("initramfs: " + f.error().message + " (build it with salvage mkinitramfs)");
  } else if (auto l = read_initramfs(*f); !l.ok()) {
    r.fail("initramfs " + a.initrd + ": " + l.error().message);
  } else {
    rd_size = f->size();
    rd = std::make_unique<InitramfsListing>(std::move(*l));
    r.ok("initramfs " + a.initrd + ": " + human_bytes(rd_size) + ", " + std::to_string(rd->files.size()) + " entries, unpacks to " +
         human_bytes(rd->unpacked_bytes));
    const InitramfsFile* init = rd->find("init");
    if (!init || (init->mode & 0170000) != 0100000 || !(init->mode & 0111)) r.fail("initramfs: no executable /init");
    else r.ok("initramfs: /init is there (" + human_bytes(init->size) + ")");
    const InitramfsFile* conf = rd->find(kCaptureConfigPath);
    if (!conf) r.fail(std::string("initramfs: no ") + kCaptureConfigPath);
    else if (auto c = parse_capture_config(conf->data); !c.ok()) r.fail("initramfs: " + c.error().message);
    else cfg = *c;
    if (const InitramfsFile* mods = rd->find(kCaptureModulesPath)) {
      auto list = parse_module_list(mods->data);
      if (!list.ok()) r.fail("initramfs: " + list.error().message);
      else
        for (const auto& p : *list)
          if (!rd->find(p)) r.fail(std::string("initramfs: ") + kCaptureModulesPath + " lists " + p + ", which is not in the archive");
    }
  }
  for (const auto& problem : apply_capture_cmdline(cfg, armed_cmdline)) r.fail("armed command line: " + problem);
  if (!a.targets.empty()) {
    cfg.targets.clear();
    for (const auto& t : a.targets) {
      auto spec = parse_target_spec(t);
      if (!spec.ok()) r.fail(spec.error().message);
      else cfg.targets.push_back(*spec);
    }
  }

  // Memory: the reservation, and the dump size the targets must hold.
  DumpEstimate est;
  auto meminfo_text = read_text_file(a.host.proc + "/meminfo");
  auto mi = meminfo_text.ok() ? parse_meminfo(*meminfo_text) : Result<MemInfo>(meminfo_text.error());
  if (!mi.ok()) r.fail(mi.error().message);
  else {
    est = estimate_dump(*mi, cfg.dump_level, cfg.compression);
    r.ok("estimated dump: " + human_bytes(est.bytes) + " (" + human_bytes(est.raw_bytes) + " of pages kept at dump level " +
         std::to_string(cfg.dump_level) + ", " + cfg.compression + " assumed to shrink them to " +
         std::to_string(static_cast<int>(est.ratio * 100)) + "%)");
  }
  auto reserved = a.host.crash_size();
  if (!reserved.ok()) r.fail(reserved.error().message);
  else if (*reserved == 0)
    r.fail("no crashkernel memory reserved: " + crashkernel_advice(mi.ok() ? mi->total : 0));
  else {
    u64 init_size = 0;
    if (auto k = read_binary_file(a.kernel, 256u << 20); !k.ok()) r.fail("capture kernel: " + k.error().message);
    else if (auto bz = parse_bzimage(*k); !bz.ok()) r.fail("capture kernel " + a.kernel + ": " + bz.error().message);
    else init_size = bz->init_size;
    u64 need = reservation_needed(init_size, rd_size, rd ? rd->unpacked_bytes : 0, mi.ok() ? mi->total : 0);
    std::string how = human_bytes(*reserved) + " reserved, about " + human_bytes(need) + " needed (kernel " +
                      human_bytes(init_size) + " + initramfs " + human_bytes(rd_size) + " + unpacked " +
                      human_bytes(rd ? rd->unpacked_bytes : 0) + " + runtime " + human_bytes(kCaptureRuntimeFloor) + ")";
    if (init_size == 0) r.warn("reservation: " + human_bytes(*reserved) + " reserved; the need is unknown without the kernel");
    else if (*reserved < need) r.fail("reservation too small: " + how);
    else r.ok("reservation: " + how);
  }

  if (cfg.targets.empty()) r.fail("no target configured (salvage.conf target=, or --target)");
  for (const auto& t : cfg.targets) check_target(a, t, cfg.net, rd.get(), est, r);

  if (r.failures) {
    std::printf("salvage test: %d check%s failed; a crash now would not be captured as configured\n", r.failures,
                r.failures == 1 ? "" : "s");
    return 1;
  }
  std::printf("salvage test: all checks passed\n");
  return 0;
}

}  // namespace salvage

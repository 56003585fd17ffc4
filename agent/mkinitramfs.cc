// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage mkinitramfs`: the capture kernel's initramfs. A compressed newc
// cpio holding the static salvage binary as /init, /etc/salvage.conf,
// /etc/salvage.modules and only the kernel modules the targets need, with
// their dependencies. Layout and config format: docs/formats/initramfs.md.
//
//   salvage mkinitramfs [--target SPEC]... [--add-module NAME]... [--output FILE]
//       [--kernel-version KVER] [--modules-dir DIR] [--kernel-config FILE]
//       [--salvage PATH] [--no-strip] [--compress auto|gzip|zstd|none]
//       [--dump-level N] [--codec NAME] [--format kdump|elf|lkcd]
//       [--final-action reboot|poweroff|halt] [--timeout S] [--device-wait S] [-v]
#include <elf.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/capture-config.h"
#include "agent/disk-agent.h"
#include "agent/commands.h"
#include "agent/file-util.h"
#include "agent/log.h"
#include "agent/modules.h"
#include "agent/net-arm.h"
#include "formats/cpio.h"

namespace salvage {

namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: salvage mkinitramfs [OPTIONS]\n"
    "  --target SPEC          dump target, repeatable, tried in order: LABEL=x, UUID=x,\n"
    "                         PARTUUID=x, /dev/NAME, or fs:<one of those>:/dir\n"
    "  --add-module NAME      also include this module and its dependencies (repeatable)\n"
    "  --output FILE          default /var/lib/salvage/initramfs-KVER.img\n"
    "  --kernel-version KVER  default: the running kernel (uname -r)\n"
    "  --modules-dir DIR      default /lib/modules/KVER\n"
    "  --kernel-config FILE   default DIR/../../../boot/config-KVER, then /boot/config-KVER\n"
    "  --salvage PATH         the binary to use as /init (default: the embedded disk-only\n"
    "                         agent when no target is net, else this one)\n"
    "  --no-strip             keep the binary's symbols and debug info\n"
    "  --compress C           auto (zstd if the kernel has CONFIG_RD_ZSTD, else gzip), gzip, zstd, none\n"
    "  --dump-level N --codec raw|zlib|lzo|snappy|zstd --format kdump|elf|lkcd\n"
    "  --final-action reboot|poweroff|halt --timeout SECONDS --device-wait SECONDS\n"
    "  --collector BUNDLE     stream to `salvage collector` (credentials from `collector enroll`);\n"
    "                         adds a net target first if none is given (see docs/network.md)\n"
    "  --collector-address ADDR:PORT   the collector (else from a net:ADDR:PORT target)\n"
    "  --insecure             plaintext to a collector started with --insecure (labs only)\n"
    "  --net-interface IF|MAC --ip dhcp|static --net-address A/P --net-gateway G\n"
    "                         the capture kernel's network, instead of copying this host's\n"
    "                         (the interface routing to the collector, found by RTM_GETROUTE)\n"
    "  -v                     time each step\n";

struct Options {
  std::string output, kver, modules_dir, kernel_config, salvage = "/proc/self/exe", compress = "auto";
  std::vector<std::string> add_modules;
  bool strip = true;
  bool salvage_given = false;  // --salvage: use exactly that binary
  int verbosity = 0;
  CaptureConfig config;
  std::string collector_bundle;          // --collector: the file to embed
  std::string bundle_data;               // its contents (arm_network)
  std::vector<ModuleRequest> net_modules;  // the NIC's drivers (arm_network)
};

Result<Options> parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return make_error(a + " needs a value");
      return std::string(argv[++i]);
    };
    // Options that become config keys share their validation with the parser.
    auto key = [&](const char* k) -> Result<void> {
      ASSIGN_OR_RETURN(std::string v, need());
      return set_capture_key(o.config, k, v).context(a);
    };
    if (a == "--target") TRY(key("target"));
    else if (a == "--dump-level") TRY(key("dump_level"));
    else if (a == "--codec") TRY(key("compression"));
    else if (a == "--format") TRY(key("format"));
    else if (a == "--final-action") TRY(key("final_action"));
    else if (a == "--timeout") TRY(key("timeout"));
    else if (a == "--device-wait") TRY(key("device_wait"));
    else if (a == "--collector-address") TRY(key("collector"));
    else if (a == "--net-interface") TRY(key("net"));
    else if (a == "--ip") TRY(key("ip"));
    else if (a == "--net-address") TRY(key("net_address"));
    else if (a == "--net-gateway") TRY(key("net_gateway"));
    else if (a == "--net-lab-reference") TRY(key("net_lab_reference"));
    else if (a == "--insecure") TRY(set_capture_key(o.config, "collector_insecure", "1"));
    else if (a == "--collector") { ASSIGN_OR_RETURN(o.collector_bundle, need()); }
    else if (a == "--add-module") { ASSIGN_OR_RETURN(std::string v, need()); o.add_modules.push_back(v); }
    else if (a == "--output" || a == "-o") { ASSIGN_OR_RETURN(o.output, need()); }
    else if (a == "--kernel-version") { ASSIGN_OR_RETURN(o.kver, need()); }
    else if (a == "--modules-dir") { ASSIGN_OR_RETURN(o.modules_dir, need()); }
    else if (a == "--kernel-config") { ASSIGN_OR_RETURN(o.kernel_config, need()); }
    else if (a == "--salvage") { ASSIGN_OR_RETURN(o.salvage, need()); o.salvage_given = true; }
    else if (a == "--compress") {
      ASSIGN_OR_RETURN(o.compress, need());
      if (o.compress != "auto" && o.compress != "gzip" && o.compress != "zstd" && o.compress != "none")
        return make_error("--compress: '" + o.compress + "' is not one of auto gzip zstd none");
    } else if (a == "--no-strip") o.strip = false;
    else if (a == "-v") ++o.verbosity;
    else if (a == "-h" || a == "--help") return make_error("help");
    else return make_error("unexpected argument '" + a + "'");
  }
  if (o.kver.empty()) {
    struct utsname u;
    if (uname(&u) != 0) return Error::from_errno("uname");
    o.kver = u.release;
  }
  if (o.kver.find('/') != std::string::npos || o.kver.empty()) return make_error("--kernel-version: bad release '" + o.kver + "'");
  if (o.modules_dir.empty()) o.modules_dir = "/lib/modules/" + o.kver;
  if (o.output.empty()) o.output = "/var/lib/salvage/initramfs-" + o.kver + ".img";
  o.config.kernel_release = o.kver;
  return o;
}


// /init must be a static x86_64 executable: a dynamic one fails in the
// initramfs with a bare ENOENT from the missing interpreter. Unless keep is
// set, everything past the last byte a program header maps (.symtab,
// .debug_*, the section headers) is dropped: the kernel's ELF loader reads
// only program headers (fs/binfmt_elf.c), and the debug info is 7x the code.
Result<std::string> prepare_init(std::string bin, const std::string& path, bool keep) {
  Elf64_Ehdr eh;
  if (bin.size() < sizeof eh || std::memcmp(bin.data(), ELFMAG, SELFMAG) != 0) return make_error(path + ": not an ELF file");
  std::memcpy(&eh, bin.data(), sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
    return make_error(path + ": not an x86_64 executable");
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > bin.size() ||
      u64{eh.e_phnum} * sizeof(Elf64_Phdr) > bin.size() - eh.e_phoff)
    return make_error(path + ": program headers at " + std::to_string(eh.e_phoff) + " lie outside the file");
  u64 end = eh.e_phoff + u64{eh.e_phnum} * sizeof(Elf64_Phdr);
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, bin.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
    if (ph.p_type == PT_INTERP)
      return make_error(path + " is dynamically linked; /init must be a static binary (build with `make`)");
    if (ph.p_offset > bin.size() || ph.p_filesz > bin.size() - ph.p_offset)
      return make_error(path + ": program header " + std::to_string(i) + " runs past the end of the file");
    end = std::max<u64>(end, ph.p_offset + ph.p_filesz);
  }
  if (eh.e_type == ET_DYN && eh.e_entry == 0) return make_error(path + ": a shared library, not an executable");
  if (keep || end >= bin.size()) return bin;
  bin.resize(end);
  eh.e_shoff = 0;
  eh.e_shnum = 0;
  eh.e_shstrndx = SHN_UNDEF;
  std::memcpy(bin.data(), &eh, sizeof eh);
  return bin;
}

// The kernel config for this release: CONFIG_RD_* decides the compression.
std::string find_kernel_config(const Options& o) {
  if (!o.kernel_config.empty()) return o.kernel_config;
  std::error_code ec;
  std::string beside = o.modules_dir + "/../../../boot/config-" + o.kver;
  if (fs::exists(beside, ec)) return beside;
  std::string boot = "/boot/config-" + o.kver;
  if (fs::exists(boot, ec)) return boot;
  return {};
}

Result<std::string> choose_compression(const Options& o, const Log& log) {
  std::string cfg_path = find_kernel_config(o);
  std::string cfg;
  if (!cfg_path.empty()) {
    ASSIGN_OR_RETURN(cfg, read_file(cfg_path));
  }
  auto has = [&](const char* opt) { return cfg.find(std::string("\n") + opt + "=y\n") != std::string::npos; };
  if (cfg.empty()) {
    log.warn("no kernel config for %s found; assuming it unpacks gzip initramfs", o.kver.c_str());
    return o.compress == "auto" ? std::string("gzip") : o.compress;
  }
  if (o.compress == "auto") return std::string(has("CONFIG_RD_ZSTD") ? "zstd" : "gzip");
  if (o.compress == "zstd" && !has("CONFIG_RD_ZSTD")) return make_error(cfg_path + ": CONFIG_RD_ZSTD is not set; use --compress gzip");
  if (o.compress == "gzip" && !has("CONFIG_RD_GZIP")) return make_error(cfg_path + ": CONFIG_RD_GZIP is not set");
  return o.compress;
}

// udev's /dev/disk/by-label names escape bytes outside a safe set as \xHH
// (udev's encode_devnode_name()).
std::string udev_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || std::strchr("#+-.:=@_", c)) out.push_back(static_cast<char>(c));
    else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return out;
}

// The kernel name (vdb, nvme0n1p2) of a target's device on this host, or "".
std::string host_device(const TargetSpec& t) {
  std::string link;
  switch (t.kind) {
    case TargetSpec::Kind::kLabel: link = "/dev/disk/by-label/" + udev_escape(t.value); break;
    case TargetSpec::Kind::kUuid: link = "/dev/disk/by-uuid/" + udev_escape(t.value); break;
    case TargetSpec::Kind::kPartUuid: link = "/dev/disk/by-partuuid/" + udev_escape(t.value); break;
    case TargetSpec::Kind::kPath: link = t.value; break;
    case TargetSpec::Kind::kNet: return {};  // its NIC comes from --collector (collector_requests)
  }
  std::error_code ec;
  fs::path real = fs::canonical(link, ec);
  if (ec || !real.string().starts_with("/dev/")) return {};
  struct stat st;
  if (::stat(real.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return {};
  return real.filename().string();
}

// ext2/3/4 (s_magic 0xEF53 at 1024+56) or xfs ("XFSB" at 0); "" if unknown.
std::string probe_fs_type(const std::string& devname) {
  int fd = ::open(("/dev/" + devname).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  unsigned char b[2048] = {};
  ssize_t n = ::pread(fd, b, sizeof b, 0);
  ::close(fd);
  if (n < static_cast<ssize_t>(sizeof b)) return {};
  if (std::memcmp(b, "XFSB", 4) == 0) return "xfs";
  if (b[1024 + 56] == 0x53 && b[1024 + 57] == 0xef) return "ext4";  // ext4 mounts ext2/3 too
  return {};
}

std::vector<ModuleRequest> target_requests(const CaptureConfig& cfg, const Log& log) {
  std::vector<ModuleRequest> reqs;
  for (const auto& t : cfg.targets) {
    std::string spec = t.to_string();
    std::string dev = host_device(t);
    if (dev.empty()) {
      log.warn("target %s is not present on this host: its block driver is not known here; "
               "name it with --add-module", spec.c_str());
    } else {
      auto mods = block_device_modules("/sys", dev);
      if (!mods.ok()) log.warn("target %s (%s): %s", spec.c_str(), dev.c_str(), mods.error().message.c_str());
      else
        for (const auto& m : *mods) reqs.push_back({m, "driver of " + dev + " for " + spec, false});
    }
    if (!t.file_system) continue;
    std::string type = dev.empty() ? std::string() : probe_fs_type(dev);
    if (!type.empty()) {
      reqs.push_back({type, "file system of " + spec, false});
    } else {
      // Unknown here: take both file systems the agent mounts, if the kernel has them.
      reqs.push_back({"ext4", "file system for " + spec + " (type unknown here)", true});
      reqs.push_back({"xfs", "file system for " + spec + " (type unknown here)", true});
    }
  }
  return reqs;
}

// The network target (issue 4, agent/net-arm.h): a net target (added first
// if --collector is given without one), the collector's address, the
// interface that routes to it with its static configuration (unless given
// with --net-interface/--ip/--net-address/--net-gateway), its drivers and
// the credentials to embed.
Result<void> arm_network(Options& o, const Log& log) {
  auto& targets = o.config.targets;
  const TargetSpec* nt = nullptr;
  for (const auto& t : targets)
    if (t.kind == TargetSpec::Kind::kNet) nt = &t;
  if (!nt && o.collector_bundle.empty()) return Ok();
  if (!nt) {
    ASSIGN_OR_RETURN(TargetSpec t, parse_target_spec("net"));
    targets.insert(targets.begin(), t);
    nt = &targets.front();
    log.info("--collector: the network is the first target");
  }
  NetConfig& n = o.config.net;
  const std::string collector = nt->value.empty() ? n.collector : nt->value;
  if (collector.empty()) return make_error("a net target needs the collector's address: --collector-address ADDR:PORT or --target net:ADDR:PORT");
  if (!o.collector_bundle.empty()) {
    ASSIGN_OR_RETURN(o.bundle_data, read_file(o.collector_bundle));
    n.bundle = kCollectorBundlePath;
  }
  std::string addr;
  if (collector.starts_with("[")) addr = collector.substr(1, collector.find(']') - 1);
  else addr = collector.substr(0, collector.rfind(':'));
  ASSIGN_OR_RETURN(net::IpAddr ip, net::parse_ip(addr));
  std::string ifname;
  ASSIGN_OR_RETURN(net::Netlink nl, net::Netlink::open());
  if (n.interface.empty()) {
    ASSIGN_OR_RETURN(NetArming a, detect_net_arming(nl, ip).context("finding the interface to " + collector));
    apply_net_arming(n, a);
    ifname = a.ifname;
    std::string how = n.ip == NetConfig::Ip::kDhcp ? std::string("dhcp") : "static";
    for (const auto& x : n.addresses) how += " " + x.to_string();
    for (const auto& g : n.gateways) how += " via " + g.to_string();
    std::printf("network: %s %s routes to %s; capture kernel: %s\n", a.ifname.c_str(), a.mac.to_string().c_str(),
                collector.c_str(), how.c_str());
  } else if (auto links = nl.links(); links.ok()) {
    if (auto l = net::find_link(*links, n.interface); l.ok()) ifname = l->name;
  }
  if (n.ip == NetConfig::Ip::kUnset) return make_error("--net-interface given: say --ip dhcp or --ip static with --net-address");
  if (ifname.empty()) {
    log.warn("interface %s is not on this host: its driver is not known here; name it with --add-module",
             n.interface.c_str());
  } else {
    auto mods = net_device_modules("/sys", ifname);
    if (!mods.ok()) log.warn("interface %s: %s", ifname.c_str(), mods.error().message.c_str());
    else
      for (const auto& m : *mods) o.net_modules.push_back({m, "driver of " + ifname + " for the net target", false});
  }
  return check_net_config(n, nt->value).context("net target");
}

Result<std::string> compress(const std::string& data, const std::string& how) {
  if (how == "none") return data;
  std::string out;
  if (how == "gzip") {
    // libdeflate level 12 is its best ratio; a few MB take well under a second.
    libdeflate_compressor* c = libdeflate_alloc_compressor(12);
    if (!c) return make_error("gzip: out of memory");
    out.resize(libdeflate_gzip_compress_bound(c, data.size()));
    size_t n = libdeflate_gzip_compress(c, data.data(), data.size(), out.data(), out.size());
    libdeflate_free_compressor(c);
    if (n == 0) return make_error("gzip: compression failed");
    out.resize(n);
    return out;
  }
  // zstd with a 128 KiB window: the capture kernel's unzstd sizes its
  // workspace from the frame's window (lib/decompress_unzstd.c,
  // zstd_dstream_workspace_bound) and allocates it while the compressed
  // image and the growing rootfs are both in memory. With a 1 MiB window the
  // lab's capture kernel at crashkernel=64M went to the OOM killer there;
  // 128 KiB costs ~4% of image size (measured: 1.63 MB vs 1.57 MB).
  ZSTD_CCtx* cc = ZSTD_createCCtx();
  if (!cc) return make_error("zstd: out of memory");
  ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 19);
  ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 17);
  ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
  out.resize(ZSTD_compressBound(data.size()));
  size_t n = ZSTD_compress2(cc, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(cc);
  if (ZSTD_isError(n)) return make_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

// Written 0600 and owned by root (it holds the whole capture setup), to a
// temporary file in the same directory, synced, then renamed over FILE: a
// crash mid-write never leaves a truncated initramfs where `load` finds it.
Result<void> write_atomically(const std::string& path, const std::string& data, const Log& log) {
  fs::path p(path);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (!fs::create_directories(dir, ec) && ec) return make_error("creating " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  std::string tmpl = (dir / ("." + p.filename().string() + ".XXXXXX")).string();
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return Error::from_errno("creating a temporary file in " + dir.string());
  auto fail = [&](const std::string& what) {
    Error e = Error::from_errno(what + " " + tmpl);
    ::close(fd);
    ::unlink(tmpl.c_str());
    return e;
  };
  if (::fchmod(fd, 0600) != 0) return fail("chmod");
  if (::geteuid() == 0) {
    if (::fchown(fd, 0, 0) != 0) return fail("chown");
  } else {
    log.warn("not running as root: %s will be owned by uid %u", path.c_str(), ::geteuid());
  }
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("writing");
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    Error e = Error::from_errno("closing " + tmpl);
    ::unlink(tmpl.c_str());
    return e;
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    Error e = Error::from_errno("renaming " + tmpl + " to " + path);
    ::unlink(tmpl.c_str());
    return e;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Ok();
}

// The in-initramfs path of a module: compression suffix dropped, since it
// is stored decompressed.
std::string stored_module_path(const std::string& kver, const std::string& rel) {
  std::string r = rel;
  for (std::string_view suf : {".xz", ".zst", ".gz"})
    if (r.ends_with(".ko" + std::string(suf))) r.resize(r.size() - suf.size());
  return "/lib/modules/" + kver + "/" + r;
}

Result<void> run(const Options& o, const Log& log) {
  // 1. Which modules: the targets' drivers and file systems, then --add-module.
  ModuleIndex index;
  {
    StepTimer t(log, "index modules");
    ASSIGN_OR_RETURN(index, ModuleIndex::open(o.modules_dir));
  }
  if (!index.has_modules_dep())
    log.info("%s/modules.dep is missing; dependencies come from each module's .modinfo", o.modules_dir.c_str());
  std::vector<ModuleRequest> reqs = target_requests(o.config, log);
  reqs.insert(reqs.end(), o.net_modules.begin(), o.net_modules.end());
  for (const auto& m : o.add_modules) reqs.push_back({m, "--add-module", false});
  ResolvedModules mods;
  {
    StepTimer t(log, "resolve dependencies");
    ASSIGN_OR_RETURN(mods, resolve_modules(index, reqs));
  }
  for (const auto& w : mods.warnings) log.warn("%s", w.c_str());

  // 2. The archive: directories the agent mounts on, the console, /init, config, modules.
  CpioWriter cpio;
  std::vector<std::string> module_paths;
  std::string init_note;
  {
    StepTimer t(log, "build archive");
    for (const char* d : {"dev", "proc", "sys", "mnt", "tmp", "etc"}) TRY(cpio.add_dir(d, 0755));
    // The kernel opens /dev/console for init's stdio before devtmpfs exists
    // (init/main.c console_on_rootfs); a node in the archive makes it work.
    TRY(cpio.add_char_device("dev/console", 0600, 5, 1));
    // Without a net target the image gets the embedded disk-only agent,
    // without TLS (agent/disk-agent.h): a smaller image and a smaller
    // crashkernel= reservation. --salvage PATH always wins.
    bool wants_net = false;
    for (const auto& t : o.config.targets) wants_net = wants_net || t.kind == TargetSpec::Kind::kNet;
    std::string source = o.salvage;
    std::string bin;
    if (!o.salvage_given && !wants_net && !embedded_disk_agent().empty()) {
      ASSIGN_OR_RETURN(bin, disk_agent_binary());
      source = "the embedded disk-only agent (no target is net)";
    } else {
      ASSIGN_OR_RETURN(bin, read_file(o.salvage));
    }
    size_t orig = bin.size();
    ASSIGN_OR_RETURN(bin, prepare_init(std::move(bin), source, !o.strip));
    init_note = std::to_string(bin.size()) + " bytes" +
                (bin.size() != orig ? " (stripped from " + std::to_string(orig) + ")" : std::string()) + " from " + source;
    TRY(cpio.add_file("init", 0755, bin));
    if (!o.bundle_data.empty()) {  // the host's credentials: 0600 like the image itself
      TRY(cpio.add_dir("etc/salvage", 0700));
      TRY(cpio.add_file(kCollectorBundlePath, 0600, o.bundle_data));
    }
    TRY(cpio.add_file(kCaptureConfigPath, 0644, render_capture_config(o.config)));
    for (const auto& m : mods.load_order) {
      std::string src = index.dir() + "/" + m.path;
      ASSIGN_OR_RETURN(std::string ko, read_module_file(src));
      // finit_module refuses a module built for another kernel; catch a
      // --modules-dir / --kernel-version mix-up here rather than at crash time.
      ASSIGN_OR_RETURN(ModInfo mi, read_modinfo(ko).context(src));
      auto vm = modinfo_values(mi, "vermagic");
      if (vm.empty() || vm[0].substr(0, vm[0].find(' ')) != o.kver)
        return make_error(src + ": built for kernel '" + (vm.empty() ? std::string("?") : vm[0].substr(0, vm[0].find(' '))) +
                          "', not " + o.kver);
      std::string dst = stored_module_path(o.kver, m.path);
      TRY(cpio.add_file(dst, 0644, ko));
      module_paths.push_back(dst);
    }
    TRY(cpio.add_file(kCaptureModulesPath, 0644, render_module_list(module_paths, o.kver)));
  }
  std::string archive = cpio.finish();

  // 3. Compress and write.
  ASSIGN_OR_RETURN(std::string how, choose_compression(o, log));
  std::string packed;
  {
    StepTimer t(log, "compress");
    ASSIGN_OR_RETURN(packed, compress(archive, how));
  }
  {
    StepTimer t(log, "write");
    TRY(write_atomically(o.output, packed, log));
  }

  // 4. Report.
  std::printf("output: %s\nkernel: %s\ninit: %s\n", o.output.c_str(), o.kver.c_str(), init_note.c_str());
  for (const auto& t : o.config.targets) std::printf("target: %s\n", t.to_string().c_str());
  for (size_t i = 0; i < mods.load_order.size(); ++i)
    std::printf("module: %s %s\n", mods.load_order[i].name.c_str(), module_paths[i].c_str());
  for (const auto& b : mods.builtin) std::printf("builtin: %s\n", b.c_str());
  std::printf("size: %zu bytes %s (%zu bytes unpacked, %zu entries)\n", packed.size(), how.c_str(), archive.size(),
              cpio.entries());
  return Ok();
}

}  // namespace

int cmd_mkinitramfs(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (!parsed.ok()) {
    bool help = parsed.error().message == "help";
    if (!help) std::fprintf(stderr, "salvage mkinitramfs: %s\n", parsed.error().message.c_str());
    std::fputs(kUsage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  Log log(parsed->verbosity);
  if (auto a = arm_network(*parsed, log); !a.ok()) {
    std::fprintf(stderr, "salvage mkinitramfs: %s\n", a.error().message.c_str());
    return 1;
  }
  if (parsed->config.targets.empty()) log.warn("no --target given: the agent needs salvage.target= on the command line");
  auto r = run(*parsed, log);
  if (!r.ok()) {
    std::fprintf(stderr, "salvage mkinitramfs: %s\n", r.error().message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace salvage

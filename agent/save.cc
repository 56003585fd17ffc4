// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage save`: after the reboot, copy a pending dump from the raw dump
// device's container (formats/container.h) to DIR/<host>/<time>/ as
// vmcore, dmesg.txt and summary.txt, then mark its sections saved so the
// same dump is never saved twice. The `lkcd save` of this system.
//   salvage save [--device DEV] [--config FILE] [--crash-dir DIR] [--format elf|kdump|lkcd]
//                [-d LEVEL] [-c|-l|-p|-z] [--min-free SIZE|N%] [--keep N] [--vmlinux PATH] [-v]
// cmd_save() reads as the pipeline; each step is timed at -v.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "agent/capture-config.h"
#include "agent/capture-trace.h"
#include "agent/commands.h"
#include "agent/file-util.h"
#include "agent/convert.h"
#include "agent/file-sink.h"
#include "agent/file-source.h"
#include "agent/capture-fs.h"
#include "agent/host-paths.h"
#include "agent/info.h"
#include "agent/save-device.h"
#include "formats/container.h"
#include "formats/hex.h"
#include "formats/printk.h"

namespace salvage {

namespace {

const char kUsage[] =
    "usage: salvage save [--device DEV] [--config FILE] [--crash-dir DIR] [--format elf|kdump|lkcd]\n"
    "                    [-d LEVEL] [-c|-l|-p|-z] [--min-free SIZE|N%] [--keep N] [--vmlinux PATH] [-v]\n"
    "  --device DEV     raw dump device (default: the first block target in --config)\n"
    "  --config FILE    salvage configuration (default /etc/salvage.conf)\n"
    "  --crash-dir DIR  where dumps are saved, as DIR/<host>/<time>/ (default /var/crash)\n"
    "  --format F, -d LEVEL, -c -l -p -z   convert the dump on the way, as salvage convert\n"
    "  --min-free SIZE  keep this much free in DIR (512M, 2G, 10%; default the smaller of 1G and 10%)\n"
    "  --keep N         keep only the newest N dumps of this host in DIR\n"
    "  --vmlinux PATH   debug vmlinux named in summary.txt (default /usr/lib/debug/boot/vmlinux-RELEASE)\n";

struct SaveOptions {
  std::string device, config = kCaptureConfigPath, crash_dir = "/var/crash", vmlinux, min_free;
  bool convert = false;
  ConvertSettings settings;
  unsigned keep = 0;
  int verbosity = 0;
};

Result<SaveOptions> parse_options(int argc, char** argv) {
  SaveOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return make_error(a + " needs a value");
      return std::string(argv[++i]);
    };
    if (a == "--device") { ASSIGN_OR_RETURN(o.device, need()); }
    else if (a == "--config") { ASSIGN_OR_RETURN(o.config, need()); }
    else if (a == "--crash-dir") { ASSIGN_OR_RETURN(o.crash_dir, need()); }
    else if (a == "--vmlinux") { ASSIGN_OR_RETURN(o.vmlinux, need()); }
    else if (a == "--min-free") { ASSIGN_OR_RETURN(o.min_free, need()); }
    else if (a == "--keep") {
      ASSIGN_OR_RETURN(std::string v, need());
      char* end = nullptr;
      unsigned long n = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end || n == 0 || n > 100000) return make_error("--keep: expected a count >= 1, got \"" + v + "\"");
      o.keep = static_cast<unsigned>(n);
    } else if (a == "--format") {
      ASSIGN_OR_RETURN(std::string v, need());
      if (v == "elf") o.settings.format = DumpFormat::kElf;
      else if (v == "kdump") o.settings.format = DumpFormat::kKdump;
      else if (v == "lkcd") o.settings.format = DumpFormat::kLkcd;
      else return make_error("--format: expected elf, kdump or lkcd, got \"" + v + "\"");
      o.convert = true;
    } else if (a.rfind("-d", 0) == 0 && a.rfind("--", 0) != 0) {
      std::string v = a.substr(2);
      if (a == "-d") { ASSIGN_OR_RETURN(v, need()); }
      char* end = nullptr;
      long l = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || l < 0 || l > 31) return make_error("-d: dump level must be 0..31, got \"" + v + "\"");
      o.settings.dump_level = static_cast<int>(l);
      o.convert = true;
    } else if (a == "-c") { o.settings.encoding = PageEncoding::kZlib; o.convert = true; }
    else if (a == "-l") { o.settings.encoding = PageEncoding::kLzo; o.convert = true; }
    else if (a == "-p") { o.settings.encoding = PageEncoding::kSnappy; o.convert = true; }
    else if (a == "-z") { o.settings.encoding = PageEncoding::kZstd; o.convert = true; }
    else if (a == "-v") ++o.verbosity;
    else if (a == "-h" || a == "--help") return make_error("help");
    else return make_error("unexpected argument " + a);
  }
  const auto& s = o.settings;
  if (s.format == DumpFormat::kElf && s.encoding != PageEncoding::kRaw)
    return make_error("--format elf writes an uncompressed ELF core; drop -c/-l/-p/-z");
  if (s.format == DumpFormat::kLkcd && s.encoding != PageEncoding::kRaw && s.encoding != PageEncoding::kZlib)
    return make_error("LKCD pages can only be gzip (zlib, -c) or raw");
  o.settings.threads = std::max(1u, std::thread::hardware_concurrency());
  return o;
}

// "512M", "2G", "1073741824" -> bytes; "10%" -> that share of `total`.
Result<u64> parse_size(const std::string& v, u64 total) {
  char* end = nullptr;
  double n = std::strtod(v.c_str(), &end);
  if (v.empty() || end == v.c_str() || n < 0) return make_error("--min-free: bad size \"" + v + "\"");
  std::string suf = end;
  if (suf == "%") {
    if (n > 100) return make_error("--min-free: " + v + " is more than 100%");
    return static_cast<u64>(static_cast<double>(total) * n / 100);
  }
  u64 mult = 1;
  if (suf == "" || suf == "B") mult = 1;
  else if (suf == "K" || suf == "KiB") mult = 1ull << 10;
  else if (suf == "M" || suf == "MiB") mult = 1ull << 20;
  else if (suf == "G" || suf == "GiB") mult = 1ull << 30;
  else if (suf == "T" || suf == "TiB") mult = 1ull << 40;
  else return make_error("--min-free: unknown unit in \"" + v + "\" (K, M, G, T or %)");
  return static_cast<u64>(n * static_cast<double>(mult));
}

// The dump device: --device, else the first raw (not file-system) target
// of the configuration, LABEL=/UUID=/PARTUUID= through udev's links.
Result<std::string> find_device(const SaveOptions& o) {
  if (!o.device.empty()) return o.device;
  auto text = read_text_file(o.config);
  if (!text.ok()) return make_error("no --device and no configuration: " + text.error().message);
  ASSIGN_OR_RETURN(CaptureConfig cfg, parse_capture_config(*text).context(o.config));
  for (const auto& t : cfg.targets) {
    if (t.file_system) continue;
    switch (t.kind) {
      case TargetSpec::Kind::kPath: return t.value;
      case TargetSpec::Kind::kLabel: return "/dev/disk/by-label/" + t.value;
      case TargetSpec::Kind::kUuid: return "/dev/disk/by-uuid/" + t.value;
      case TargetSpec::Kind::kPartUuid: return "/dev/disk/by-partuuid/" + t.value;
      case TargetSpec::Kind::kNet: continue;  // streamed to a collector: nothing on a device
    }
  }
  return make_error(o.config + " names no raw dump device (only file-system targets); nothing to save");
}

std::string utc(i64 t, const char* fmt) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char b[64];
  std::strftime(b, sizeof b, fmt, &tm);
  return b;
}

std::string safe_component(std::string s, const char* fallback) {
  for (char& c : s)
    if (c == '/' || c <= ' ' || c > '~') c = '_';
  if (s.empty() || s == "." || s == "..") return fallback;
  return s;
}

// Writes DIR/NAME through DIR/NAME-incomplete, synced, then renamed: a
// file with the final name is always whole. Mode 0600.
class StagedFile {
 public:
  StagedFile(std::string dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {}
  std::string temp() const { return dir_ + "/" + name_ + "-incomplete"; }
  std::string final_path() const { return dir_ + "/" + name_; }
  Result<void> commit() {
    TRY(fsync_path(temp()));
    if (::rename(temp().c_str(), final_path().c_str()) != 0) return Error::from_errno("rename " + temp());
    return Ok();
  }

 private:
  std::string dir_, name_;
};

Result<void> write_text(const std::string& dir, const std::string& name, const std::string& text) {
  StagedFile f(dir, name);
  ASSIGN_OR_RETURN(auto sink, FileSink::create(f.temp()));
  TRY(sink->write_at(FileOffset(0), std::as_bytes(std::span(text.data(), text.size()))));
  TRY(sink->finish());
  sink.reset();
  return f.commit();
}

// Copies a section's bytes as they are on the device.
Result<void> copy_source(ByteSource& src, const std::string& path) {
  ASSIGN_OR_RETURN(auto sink, FileSink::create(path));
  std::vector<std::byte> buf(4 << 20);
  for (u64 off = 0; off < src.size();) {
    size_t n = static_cast<size_t>(std::min<u64>(buf.size(), src.size() - off));
    auto part = std::span(buf).first(n);
    TRY(src.read_at(FileOffset(off), part));
    TRY(sink->write_at(FileOffset(off), part));
    off += n;
  }
  return sink->finish();
}

// The crashed kernel's log, read from the dump with the printk decoder.
Result<std::string> dmesg_from_dump(ByteSource& src) {
  ASSIGN_OR_RETURN(auto dump, open_dump(src));
  ASSIGN_OR_RETURN(DumpIdentity id, identify(dump->notes()));
  if (!id.vmcoreinfo) return make_error("no VMCOREINFO note, cannot locate the kernel log");
  ASSIGN_OR_RETURN(KernelMemory km, KernelMemory::create(*dump, *id.vmcoreinfo));
  VirtReader read = [&km](VirtAddr va, std::span<std::byte> out) { return km.read_virt(va, out); };
  DmesgOptions opt;
  opt.partial = true;  // an incomplete dump may have lost part of the log
  ASSIGN_OR_RETURN(DmesgLog log, extract_dmesg(*id.vmcoreinfo, read, opt));
  return std::move(log.text);
}

struct SectionResult {
  const SectionInfo* section = nullptr;
  std::string problem;  // empty: saved whole and verified
  std::string file;     // where it went
};

std::string bad_list(const std::vector<u64>& bad) {
  std::string s;
  for (size_t i = 0; i < bad.size() && i < 16; ++i) s += (i ? ", " : "") + std::to_string(bad[i]);
  if (bad.size() > 16) s += ", ... (" + std::to_string(bad.size()) + " in all)";
  return s;
}

// Checks one section; what is wrong with it, or "".
std::string check_section(const ContainerReader& c, const SectionInfo& s) {
  if (s.state == SectionState::kWriting)
    return "interrupted while writing: saved up to the last checkpoint (" + std::to_string(s.length) +
           " bytes), unverified";
  auto rep = c.verify(s);
  std::string p;
  if (!rep.ok()) p = rep.error().message;
  else if (!rep->bad_chunks.empty())
    p = "bad CRC32C in MiB " + bad_list(rep->bad_chunks) + " of " + std::to_string(rep->chunks_checked) +
        ": saved as read";
  if (s.incomplete) p = std::string("incomplete (the capture ran out of room or time)") + (p.empty() ? "" : "; " + p);
  return p;
}

// Files of the other artifacts keep the section name, out of the way of ours.
std::string artifact_file(const SectionInfo& s) {
  if (std::string t = trace_file_for_section(s.name); s.type == SectionType::kTrace && !t.empty())
    return "trace/" + safe_component(t, "section");  // agent/capture-trace.h
  std::string n = safe_component(s.name, "section");
  if (n == "vmcore" || n == "dmesg.txt" || n == "summary.txt" || n.find("-incomplete") != std::string::npos)
    n = "capture-" + n;
  return n;
}

}  // namespace

int cmd_save(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (!parsed.ok()) {
    bool help = parsed.error().message == "help";
    if (!help) std::fprintf(stderr, "salvage save: %s\n", parsed.error().message.c_str());
    std::fputs(kUsage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  const SaveOptions& opt = *parsed;
  const Log log(opt.verbosity);
  StepTimer total(log, "save");
  auto fail = [&](const Error& e) {
    log.error("%s", e.message.c_str());
    return 1;
  };

  // 0. A flight-recorder channel that survived a warm reset (issue 5).
  save_boot_trace(opt.crash_dir, BootTracePaths{}, log);

  // 1. Find and open the dump device; is there a container with a pending dump?
  auto device = find_device(opt);
  if (!device.ok()) return fail(device.error());
  auto dev = FileSource::open(*device);
  if (!dev.ok()) return fail(dev.error());
  auto is_container = ContainerReader::probe(**dev);
  if (!is_container.ok()) return fail(is_container.error());
  if (!*is_container) {
    std::fprintf(stderr, "salvage save: %s holds no salvage dump container: nothing to save\n", device->c_str());
    return 0;
  }
  Result<ContainerReader> opened = [&] {
    StepTimer t(log, "read container");
    return ContainerReader::open(**dev);
  }();
  if (!opened.ok()) return fail(opened.error());
  const ContainerReader& c = *opened;
  for (const auto& w : c.warnings()) log.warn("%s: %s", device->c_str(), w.c_str());
  std::vector<const SectionInfo*> pending;
  for (const auto& s : c.sections())
    if (s.state != SectionState::kSaved) pending.push_back(&s);
  if (pending.empty()) {
    std::fprintf(stderr, "salvage save: %s: no pending dump (%zu sections, all saved already)\n", device->c_str(),
                 c.sections().size());
    return 0;
  }
  const ContainerInfo& ci = c.info();
  const SectionInfo* dump_s = nullptr;
  const SectionInfo* dmesg_s = nullptr;
  for (auto* s : pending) {
    if (s->type == SectionType::kDump && !dump_s) dump_s = s;
    if (s->type == SectionType::kDmesg && !dmesg_s) dmesg_s = s;
  }

  // 2. Check CRCs of every pending section, MiB by MiB.
  std::vector<SectionResult> results;
  {
    StepTimer t(log, "verify CRCs");
    for (auto* s : pending) {
      results.push_back({s, check_section(c, *s), ""});
      if (!results.back().problem.empty())
        log.warn("section '%s': %s", s->name.c_str(), results.back().problem.c_str());
    }
  }

  // 3. Room: the free-space floor must hold after saving.
  std::error_code ec;
  std::filesystem::create_directories(opt.crash_dir, ec);
  if (ec) return fail(make_error("creating " + opt.crash_dir + ": " + ec.message()));
  struct statvfs vfs {};
  if (statvfs(opt.crash_dir.c_str(), &vfs) != 0) return fail(Error::from_errno("statvfs " + opt.crash_dir));
  const u64 fs_total = static_cast<u64>(vfs.f_blocks) * vfs.f_frsize;
  const u64 fs_free = static_cast<u64>(vfs.f_bavail) * vfs.f_frsize;
  u64 floor = std::min<u64>(1ull << 30, fs_total / 10);
  if (!opt.min_free.empty()) {
    auto f = parse_size(opt.min_free, fs_total);
    if (!f.ok()) return fail(f.error());
    floor = *f;
  }
  u64 need = 1 << 20;  // summary and slack
  for (auto* s : pending) need += s->length;
  if (fs_free < need || fs_free - need < floor)
    return fail(make_error("refusing to save: " + opt.crash_dir + " has " + std::to_string(fs_free >> 20) +
                           " MiB free; the dump needs about " + std::to_string(need >> 20) +
                           " MiB and the floor (--min-free) keeps " + std::to_string(floor >> 20) +
                           " MiB free. Free space or lower --min-free; the dump stays pending on " + *device));

  // 4. DIR/<host>/<time>/, 0700, never reused.
  // A kernel whose host name was never set says "(none)" (include/linux/uts.h's
  // default UTS_NODENAME): use the name of the machine saving it instead.
  std::string host = ci.hostname;
  if (host.empty() || host == "(none)") {
    char hn[256] = {};
    host = gethostname(hn, sizeof hn - 1) == 0 ? hn : "";
  }
  // The file-system target's rule, so both name a host's directory alike.
  const std::string host_dir = opt.crash_dir + "/" + fs_host_component(host);
  const i64 when = ci.crash_time ? ci.crash_time : ci.write_time ? ci.write_time : std::time(nullptr);
  std::string out_dir = host_dir + "/" + utc(when, "%Y%m%d-%H%M%S");
  if (auto r = make_dir_0700(host_dir); !r.ok()) return fail(r.error());
  for (int n = 1; ::mkdir(out_dir.c_str(), 0700) != 0; ++n) {
    if (errno != EEXIST || n > 999) return fail(Error::from_errno("mkdir " + out_dir));
    out_dir = host_dir + "/" + utc(when, "%Y%m%d-%H%M%S") + "." + std::to_string(n);
  }

  // 5. dmesg.txt first: small and the most precious.
  std::string dmesg_note;
  {
    StepTimer t(log, "dmesg.txt");
    Result<void> r = Ok();
    if (dmesg_s) {
      StagedFile f(out_dir, "dmesg.txt");
      r = copy_source(*c.section_data(*dmesg_s), f.temp());
      if (r.ok()) r = f.commit();
      dmesg_note = "from the capture's dmesg section";
    } else if (dump_s) {
      auto text = dmesg_from_dump(*c.section_data(*dump_s));
      if (text.ok()) r = write_text(out_dir, "dmesg.txt", *text);
      else r = std::move(text).error();
      dmesg_note = "regenerated from the dump (no dmesg section)";
    } else {
      r = make_error("no dmesg section and no dump");
    }
    if (!r.ok()) {
      dmesg_note = "not saved: " + r.error().message;
      log.warn("dmesg.txt %s", dmesg_note.c_str());
    }
  }

  // 6. vmcore: as written by the capture, or converted on the way.
  std::string vmcore_note = dump_s ? "" : "no dump section in the container";
  if (dump_s) {
    StepTimer t(log, "vmcore");
    StagedFile f(out_dir, "vmcore");
    Result<void> r = Ok();
    if (opt.convert) {
      auto src = c.section_data(*dump_s);
      Result<void> conv = [&]() -> Result<void> {
        ASSIGN_OR_RETURN(auto dump, open_dump(*src));
        ASSIGN_OR_RETURN(auto prepared, prepare_conversion(*dump, opt.settings.dump_level, log));
        ASSIGN_OR_RETURN(auto sink, FileSink::create(f.temp()));
        TRY(write_conversion(*dump, *prepared, *sink, opt.settings, log));
        return Ok();
      }();
      if (!conv.ok()) {
        // The capture's own file is better than nothing.
        vmcore_note = "conversion failed (" + conv.error().message + "); saved as captured";
        log.warn("vmcore: %s", vmcore_note.c_str());
        r = copy_source(*src, f.temp());
      }
    } else {
      r = copy_source(*c.section_data(*dump_s), f.temp());
    }
    if (r.ok()) r = f.commit();
    if (!r.ok()) return fail(std::move(r).error().with_context("saving the dump to " + f.temp() + " (" + out_dir +
                                                                " is left; the dump stays pending)"));
  }

  // 7. The other artifacts (trace files of later issues, ...), by name.
  for (auto& res : results) {
    const SectionInfo& s = *res.section;
    if (&s == dump_s) res.file = "vmcore";
    else if (&s == dmesg_s) res.file = "dmesg.txt";
    if (!res.file.empty()) continue;
    res.file = artifact_file(s);
    if (res.file.starts_with("trace/"))
      if (auto d = make_dir_0700(out_dir + "/trace"); !d.ok()) return fail(d.error());
    StagedFile f(out_dir, res.file);
    Result<void> r = copy_source(*c.section_data(s), f.temp());
    if (r.ok()) r = f.commit();
    if (!r.ok()) return fail(std::move(r).error().with_context("saving section '" + s.name + "'"));
  }

  // 8. summary.txt: who crashed, how complete, and how to open it.
  bool complete = dump_s != nullptr;
  for (const auto& res : results)
    if (!res.problem.empty()) complete = false;
  std::string sum;
  auto line = [&](const char* k, const std::string& v) { sum += std::string(k) + std::string(14 - std::strlen(k), ' ') + v + "\n"; };
  line("device:", *device);
  line("host:", ci.hostname);
  line("release:", ci.release);
  line("build-id:", ci.build_id);
  line("panic:", ci.panic_string.empty() ? "?" : ci.panic_string);
  line("time:", ci.crash_time ? utc(ci.crash_time, "%Y-%m-%d %H:%M:%S UTC") : "unknown");
  line("captured:", ci.write_time ? utc(ci.write_time, "%Y-%m-%d %H:%M:%S UTC") : "unknown");
  line("saved:", utc(std::time(nullptr), "%Y-%m-%d %H:%M:%S UTC"));
  line("completeness:", complete ? "complete (every section closed complete, every CRC32C matches)"
                                 : "INCOMPLETE or DAMAGED, saved as far as it goes (see sections)");
  line("dmesg.txt:", dmesg_note);
  if (!vmcore_note.empty()) line("vmcore note:", vmcore_note);
  for (const auto& res : results) {
    const SectionInfo& s = *res.section;
    char b[160];
    std::snprintf(b, sizeof b, "%s (%s, %s), %" PRIu64 " bytes -> %s: ", s.name.c_str(), section_type_name(s.type),
                  section_state_name(s.state), s.length, res.file.c_str());
    line("section:", b + (res.problem.empty() ? std::string("CRC32C ok") : res.problem));
  }
  if (dump_s) {
    std::string vmlinux = opt.vmlinux.empty() ? "/usr/lib/debug/boot/vmlinux-" + ci.release : opt.vmlinux;
    const std::string saved = out_dir + "/vmcore";
    auto src = FileSource::open(saved);
    auto d = src.ok() ? open_dump(**src) : Result<std::unique_ptr<DumpReader>>(src.error());
    if (d.ok()) {
      char* buf = nullptr;
      size_t len = 0;
      std::FILE* mem = open_memstream(&buf, &len);
      if (mem) {
        print_dump_info(mem, saved, **d, vmlinux);
        std::fclose(mem);
        sum += "\n# salvage info --vmlinux " + vmlinux + " " + saved + "\n" + std::string(buf, len);
        std::free(buf);
      }
    } else {
      line("vmcore:", "does not open: " + d.error().message);
      log.warn("the saved vmcore does not open: %s", d.error().message.c_str());
    }
  }
  if (auto r = write_text(out_dir, "summary.txt", sum); !r.ok()) return fail(r.error());
  if (auto r = fsync_path(out_dir); !r.ok()) return fail(r.error());
  if (auto r = fsync_path(host_dir); !r.ok()) return fail(r.error());

  // 9. Only now, with every file durable: mark the sections saved.
  {
    auto wdev = DeviceSink::open(*device);
    if (!wdev.ok()) return fail(std::move(wdev).error().with_context("saved to " + out_dir + " but cannot mark it saved"));
    for (auto* s : pending)
      if (auto r = c.set_state(**wdev, *s, SectionState::kSaved, std::time(nullptr)); !r.ok())
        return fail(std::move(r).error().with_context("saved to " + out_dir + " but"));
  }
  std::fprintf(stderr, "salvage save: saved %s dump of %s (%s) to %s\n", complete ? "a complete" : "an INCOMPLETE",
               ci.hostname.c_str(), ci.release.c_str(), out_dir.c_str());

  // 10. Retention: the newest --keep dumps of this host stay.
  if (opt.keep) {
    std::vector<std::string> dirs;
    for (const auto& e : std::filesystem::directory_iterator(host_dir, ec))
      if (e.is_directory() && std::filesystem::exists(e.path() / "summary.txt")) dirs.push_back(e.path().string());
    std::sort(dirs.begin(), dirs.end());  // names are UTC times: oldest first
    std::erase(dirs, out_dir);
    while (dirs.size() + 1 > opt.keep) {
      std::filesystem::remove_all(dirs.front(), ec);
      if (ec) log.warn("--keep: removing %s: %s", dirs.front().c_str(), ec.message().c_str());
      else std::fprintf(stderr, "salvage save: --keep %u: removed %s\n", opt.keep, dirs.front().c_str());
      dirs.erase(dirs.begin());
    }
  }
  return 0;
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/capture-fs.h"

#include "agent/file-util.h"

#include <blkid/blkid.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "agent/capture-progress.h"
#include "agent/capture-system.h"
#include "agent/capture-trace.h"
#include "agent/file-sink.h"

namespace salvage {

namespace {

constexpr const char* kMountParent = "/mnt";

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// Whole file, 0600, synced. A short write (a full file system) is an error.
Result<void> write_synced(const std::string& path, const std::string& text) {
  ASSIGN_OR_RETURN(auto sink, FileSink::create(path));
  TRY(sink->write_at(FileOffset(0), bytes_of(text)));
  TRY(sink->finish());
  return Ok();
}

// The file system type by libblkid, as the capture target finder probes.
Result<std::string> probe_fs_type(const std::string& dev) {
  blkid_probe pr = blkid_new_probe_from_filename(dev.c_str());
  if (!pr) return Error::from_errno("libblkid: cannot open " + dev);
  blkid_probe_enable_superblocks(pr, 1);
  blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
  int rc = blkid_do_safeprobe(pr);
  std::string type;
  const char* v = nullptr;
  size_t len = 0;
  if (rc == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, &len) == 0 && v) type.assign(v, len ? len - 1 : 0);
  blkid_free_probe(pr);
  if (rc == 1) return make_error(dev + ": libblkid finds no file system on it");
  if (rc == -2) return make_error(dev + ": libblkid finds more than one file system signature (ambiguous)");
  if (rc != 0) return make_error(dev + ": libblkid probing failed");
  while (!type.empty() && type.back() == '\0') type.pop_back();
  return type;
}

}  // namespace

std::string fs_host_component(std::string_view hostname) {
  std::string s(hostname.substr(0, 64));
  for (char& c : s)
    if (c == '/' || c <= ' ' || c > '~') c = '_';
  if (s.empty() || s == "." || s == ".." || s == "(none)") return "unknown-host";
  return s;
}

std::string fs_time_component(i64 unix_time) {
  std::time_t tt = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char b[64];
  std::strftime(b, sizeof b, "%Y%m%d-%H%M%S", &tm);
  return b;
}

Result<std::string> mount_type_for(std::string_view blkid_type) {
  if (blkid_type == "ext4" || blkid_type == "ext3" || blkid_type == "ext2") return std::string("ext4");
  if (blkid_type == "xfs") return std::string("xfs");
  return make_error("file system type '" + std::string(blkid_type) +
                    "' is not supported for a dump target (ext4 or xfs)");
}

Result<std::string> make_capture_dir(const std::string& root, const std::string& dir, std::string_view host,
                                     i64 unix_time) {
  // mkdir -p root+dir. parse_target_spec keeps '..' out of dir.
  std::string path = root;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  for (size_t a = 0; a < dir.size();) {
    size_t b = dir.find('/', a);
    if (b == std::string::npos) b = dir.size();
    const std::string comp = dir.substr(a, b - a);
    a = b + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return make_error("directory '" + dir + "' contains '..'");
    path += "/" + comp;
    TRY(make_dir_0700(path));
  }
  const std::string host_dir = path + "/" + fs_host_component(host);
  TRY(make_dir_0700(host_dir));
  const std::string base = host_dir + "/" + fs_time_component(unix_time);
  std::string out = base;
  for (int n = 1; ::mkdir(out.c_str(), 0700) != 0; ++n) {
    if (errno != EEXIST || n > 999) return Error::from_errno("mkdir " + out);
    out = base + "." + std::to_string(n);
  }
  // Whatever the umask: the dump holds the whole kernel's memory.
  if (::chmod(out.c_str(), 0700) != 0) return Error::from_errno("chmod " + out);
  // The new entries must survive the final action's reboot.
  TRY(fsync_path(host_dir));
  TRY(fsync_path(path));
  return out;
}

Result<FsCaptureResult> write_capture_files(const std::string& out_dir, const std::string& device,
                                            const std::string& target_name, CaptureSource& src,
                                            const ConvertSettings& settings, const Log& log,
                                            const std::string& mount_root) {
  const double t0 = agent_uptime();
  const std::string shown = out_dir.starts_with(mount_root) ? out_dir.substr(mount_root.size()) : out_dir;
  FsCaptureResult out;
  out.dir = out_dir;
  CaptureResult& r = out.capture;

  // 1. dmesg.txt first: small and the most precious. Its failure is said
  // and the dump still tried (it carries the log too).
  if (!src.dmesg.empty()) {
    auto w = write_synced(out_dir + "/dmesg.txt", src.dmesg);
    if (w.ok()) {
      r.dmesg_bytes = src.dmesg.size();
      agent_say("kernel log saved: %" PRIu64 " bytes (%s/dmesg.txt)", r.dmesg_bytes, shown.c_str());
    } else {
      agent_say("dmesg.txt: %s", w.error().message.c_str());
    }
  } else {
    agent_say("no kernel log to save (%s)", src.dmesg_error.c_str());
  }

  save_trace_to_dir(out_dir, src.trace.get(), shown);  // flight recorder: small, before the dump

  // 2. The dump as vmcore-incomplete through the convert pipeline. The
  // sink's finish() fdatasyncs; a full file system ends the page loop and
  // the writer marks the dump incomplete.
  const std::string partial = out_dir + "/vmcore-incomplete";
  const std::string whole = out_dir + "/vmcore";
  ASSIGN_OR_RETURN(auto sink, FileSink::create(partial));
  ProgressLine progress;
  PageProgress cb = [&progress](u64 done, u64 total) { progress.update(done, total); };
  ConvertSettings with_progress = settings;
  with_progress.progress = &cb;
  auto stats = write_conversion(*src.dump, *src.prepared, *sink, with_progress, log);
  sink.reset();
  struct stat st {};
  r.dump_bytes = ::stat(partial.c_str(), &st) == 0 ? static_cast<u64>(st.st_size) : 0;
  if (stats.ok()) {
    r.complete = true;
    r.stats = *stats;
    // 3. Synced, renamed, the directory synced: "vmcore" is only ever whole.
    TRY(fsync_path(partial));
    TRY(fsync_path(out_dir));
    if (::rename(partial.c_str(), whole.c_str()) != 0) return Error::from_errno("rename " + partial + " to vmcore");
    TRY(fsync_path(out_dir));
    out.vmcore_path = whole;
  } else {
    r.incomplete_reason = stats.error().message;
    out.vmcore_path = partial;
    agent_say("dump cut short after %" PRIu64 " bytes: %s; %s/vmcore-incomplete is kept", r.dump_bytes,
              r.incomplete_reason.c_str(), shown.c_str());
    (void)fsync_path(partial);  // what is there is worth keeping
    (void)fsync_path(out_dir);
  }

  // 4. summary.txt: the capture summary and how to open the dump.
  r.seconds = agent_uptime() - t0;
  r.summary = render_capture_summary(src, r, device, target_name, settings);
  const std::string name = r.complete ? "vmcore" : "vmcore-incomplete";
  r.summary += "directory:    " + shown + " (on " + target_name + ")\n";
  r.summary += "open with:    crash /usr/lib/debug/boot/vmlinux-" + src.info.release + " " + name + "\n";
  if (auto w = write_synced(out_dir + "/summary.txt", r.summary); !w.ok())
    agent_say("summary.txt: %s", w.error().message.c_str());
  (void)fsync_path(out_dir);
  return out;
}

Result<FsCaptureResult> capture_to_file_system(const std::string& device, const TargetSpec& t, CaptureSource& src,
                                               const ConvertSettings& settings, const Log& log) {
  const std::string name = t.to_string();
  ASSIGN_OR_RETURN(std::string blkid_type, probe_fs_type(device));
  ASSIGN_OR_RETURN(std::string type, mount_type_for(blkid_type).context(device));
  TRY(make_dir_0700(kMountParent));
  std::string mnt_tmpl = std::string(kMountParent) + "/salvage-XXXXXX";
  if (!::mkdtemp(mnt_tmpl.data())) return Error::from_errno("mkdtemp " + mnt_tmpl);
  const std::string mnt = mnt_tmpl;
  // No MS_ flags: a journal replay on mount is what makes the file system
  // consistent, and the capture kernel is the only user of the device.
  if (::mount(device.c_str(), mnt.c_str(), type.c_str(), 0, nullptr) != 0) {
    Error e = Error::from_errno("mount " + device + " (" + blkid_type + ") as " + type + " on " + mnt);
    ::rmdir(mnt.c_str());
    return e;
  }
  agent_say("target %s: mounted %s (%s) on %s", name.c_str(), device.c_str(), blkid_type.c_str(), mnt.c_str());

  const i64 when = src.info.crash_time ? src.info.crash_time : src.info.write_time ? src.info.write_time
                                                                                   : std::time(nullptr);
  auto result = [&]() -> Result<FsCaptureResult> {
    ASSIGN_OR_RETURN(std::string out_dir, make_capture_dir(mnt, t.dir, src.info.hostname, when));
    ASSIGN_OR_RETURN(FsCaptureResult r, write_capture_files(out_dir, device, name, src, settings, log, mnt));
    // Report paths as they are inside the file system, not under /mnt.
    r.dir = r.dir.substr(mnt.size());
    r.vmcore_path = r.vmcore_path.substr(mnt.size());
    return r;
  }();
  // umount syncs the file system; a failure leaves it to the final action's sync.
  if (::umount2(mnt.c_str(), 0) != 0) agent_say("umount %s: %s (the final sync covers it)", mnt.c_str(), strerror(errno));
  else ::rmdir(mnt.c_str());
  return result;
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// Where the collector puts dumps: <root>/<host>/<time>/NAME, written as
// NAME-incomplete and renamed when the sender closes it complete with a
// matching checksum (the layout of `salvage save`). Directories 0700,
// files 0600. Resume state per artifact in <dump>/.state/<id> (a fixed
// record, rewritten in place after each fdatasync of the data), and the
// dump id -> directory map in <root>/<host>/.dumps/<dump id>. Names from
// the wire were validated by formats/wire.cc before they get here, and
// none can start with '.', so the state never collides with an artifact.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/collector.h"
#include "agent/file-util.h"
#include "formats/crc32c.h"
#include "formats/endian.h"

namespace salvage {

namespace {

constexpr u32 kStateMagic = 0x54534c53;  // "SLST"
constexpr size_t kStateRecord = 160;     // magic id kind closed namelen crc durable name[128] reccrc
constexpr size_t kMaxArtifactsPerDump = 64;

std::string utc_name(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y%m%d-%H%M%S", &tm);
  return b;
}

Refusal refuse(ReasonCode r, std::string text) { return Refusal{r, std::move(text)}; }
Refusal ok() { return Refusal{}; }

// Creates the directories of "trace/cpu0" under dir (0700).
Result<void> make_parents(const std::string& dir, const std::string& name) {
  for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1))
    TRY(make_dir_0700(dir + "/" + name.substr(0, slash)));
  return Ok();
}

Result<int> open_0600(const std::string& path) {
  // O_NOFOLLOW: nobody gets the collector to write through a planted symlink.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Error::from_errno("open " + path);
  return fd;
}

Result<void> write_small_file(const std::string& path, const std::string& text) {
  ASSIGN_OR_RETURN(int fd, open_0600(path));
  bool good = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()) &&
              ::fdatasync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!good) return Error::from_errno("writing " + path, err);
  return Ok();
}

u64 tree_bytes(const std::string& dir) {
  std::error_code ec;
  u64 total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code e2;
    if (it->is_regular_file(e2)) total += it->file_size(e2);
  }
  return total;
}

}  // namespace

// ---- DumpStore ----

u64 DumpStore::usage(const std::string& host) {
  auto it = usage_.find(host);
  if (it == usage_.end()) it = usage_.emplace(host, tree_bytes(root_ + "/" + host)).first;
  return it->second;
}

Refusal DumpStore::check_room(const std::string& host, u64 growth) {
  if (growth == 0) return ok();
  const u64 used = usage(host);
  if (used + growth > limits_.quota_bytes)
    return refuse(ReasonCode::kQuota, "host " + host + " has " + std::to_string(used) + " bytes stored, " +
                                          std::to_string(growth) + " more would cross its quota of " +
                                          std::to_string(limits_.quota_bytes) + " bytes");
  if (limits_.min_free_bytes) {
    struct statvfs v {};
    if (::statvfs(root_.c_str(), &v) != 0) return refuse(ReasonCode::kStorage, "statvfs " + root_ + ": " + std::strerror(errno));
    const u64 free_b = static_cast<u64>(v.f_bavail) * v.f_frsize;
    if (free_b < growth || free_b - growth < limits_.min_free_bytes)
      return refuse(ReasonCode::kFreeSpace, root_ + " has " + std::to_string(free_b >> 20) + " MiB free, floor " +
                                                std::to_string(limits_.min_free_bytes >> 20) + " MiB");
  }
  return ok();
}

Result<std::unique_ptr<DumpDir>> DumpStore::open_dump(const std::string& host, const std::string& dump_id,
                                                      std::time_t now, Refusal& refused) {
  refused = ok();
  // Defence in depth: the wire decoder validated these already.
  TRY(validate_host_name(host));
  TRY(validate_dump_id(dump_id));
  TRY(make_dir_0700(root_));
  const std::string host_dir = root_ + "/" + host;
  TRY(make_dir_0700(host_dir));
  TRY(make_dir_0700(host_dir + "/.dumps"));
  const std::string index = host_dir + "/.dumps/" + dump_id;
  auto known = read_file(index, 256);
  std::string dir;
  if (known.ok()) {
    std::string name = *known;
    while (!name.empty() && name.back() == '\n') name.pop_back();
    struct stat st {};
    if (validate_dump_id(name).ok() && ::lstat((host_dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      dir = host_dir + "/" + name;
  }
  if (dir.empty()) {
    // A new dump takes room: refuse it up front when the host has none left.
    refused = check_room(host, 1);
    if (refused.reason != ReasonCode::kNone) return make_error(refused.text);
    std::string name = utc_name(now);
    for (int n = 1; ::mkdir((host_dir + "/" + name).c_str(), 0700) != 0; ++n) {
      if (errno != EEXIST || n > 999) return Error::from_errno("mkdir " + host_dir + "/" + name);
      name = utc_name(now) + "." + std::to_string(n);
    }
    dir = host_dir + "/" + name;
    TRY(make_dir_0700(dir + "/.state"));
    TRY(fsync_path(dir));
    TRY(write_small_file(index, name + "\n"));
    TRY(fsync_path(host_dir + "/.dumps"));
    TRY(fsync_path(host_dir));
    log_.info("%s: new dump %s in %s", host.c_str(), dump_id.c_str(), dir.c_str());
  } else {
    log_.info("%s: resuming dump %s in %s", host.c_str(), dump_id.c_str(), dir.c_str());
  }
  auto d = std::unique_ptr<DumpDir>(new DumpDir(*this, host, dir));
  TRY_CTX(d->load_states(), "reading the resume state of " + dir);
  return d;
}

// ---- DumpDir ----

DumpDir::~DumpDir() { abandon(); }

std::string DumpDir::file_path(const ArtifactState& a, bool final_name) const {
  return path_ + "/" + a.name + (final_name ? "" : "-incomplete");
}

Result<void> DumpDir::save_state(ArtifactState& a) {
  std::byte rec[kStateRecord] = {};
  store_le<u32>(rec, kStateMagic);
  store_le<u32>(rec + 4, a.id);
  rec[8] = std::byte{static_cast<u8>(a.kind)};
  rec[9] = std::byte{static_cast<u8>(a.closed ? 1 : 0)};
  store_le<u16>(rec + 10, static_cast<u16>(a.name.size()));
  store_le<u32>(rec + 12, a.durable_crc);
  store_le<u64>(rec + 16, a.durable);
  std::memcpy(rec + 24, a.name.data(), std::min<size_t>(a.name.size(), 128));
  store_le<u32>(rec + 152, crc32c(std::span(rec, 152)));
  const std::string p = path_ + "/.state/" + std::to_string(a.id);
  if (::pwrite(a.state_fd, rec, sizeof rec, 0) != static_cast<ssize_t>(sizeof rec)) return Error::from_errno("pwrite " + p);
  if (::fdatasync(a.state_fd) != 0) return Error::from_errno("fdatasync " + p);
  return Ok();
}

Result<void> DumpDir::load_states() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(path_ + "/.state", ec)) {
    const std::string p = e.path().string();
    auto text = read_file(p, 4096);
    if (!text.ok()) return std::move(text).error();
    const auto* rec = reinterpret_cast<const std::byte*>(text->data());
    if (text->size() != kStateRecord || load_le<u32>(rec) != kStateMagic ||
        load_le<u32>(rec + 152) != crc32c(std::span(rec, 152))) {
      store_.log().warn("%s: damaged state record, ignored (that artifact restarts from 0)", p.c_str());
      continue;
    }
    ArtifactState a;
    a.id = load_le<u32>(rec + 4);
    a.kind = static_cast<ArtifactKind>(static_cast<u8>(rec[8]));
    a.closed = rec[9] != std::byte{0};
    const u16 n = load_le<u16>(rec + 10);
    a.durable_crc = a.crc = load_le<u32>(rec + 12);
    a.durable = a.received = load_le<u64>(rec + 16);
    a.name.assign(reinterpret_cast<const char*>(rec + 24), std::min<u16>(n, 128));
    if (!validate_artifact_name(a.name).ok() || e.path().filename().string() != std::to_string(a.id)) {
      store_.log().warn("%s: invalid state record, ignored", p.c_str());
      continue;
    }
    arts_[a.id] = std::move(a);
  }
  if (ec) return make_error("listing " + path_ + "/.state: " + ec.message());
  return Ok();
}

Resume DumpDir::resume() const {
  Resume r;
  for (const auto& [id, a] : arts_) r.entries.push_back({id, a.kind, a.closed, a.durable, a.name});
  return r;
}

Refusal DumpDir::open_artifact(const OpenArtifact& m) {
  auto it = arts_.find(m.artifact_id);
  if (it == arts_.end()) {
    for (const auto& [id, a] : arts_)
      if (a.name == m.name) return refuse(ReasonCode::kProtocol, "artifact " + m.name + " is already open as id " + std::to_string(id));
    if (arts_.size() >= kMaxArtifactsPerDump)
      return refuse(ReasonCode::kProtocol, "more than " + std::to_string(kMaxArtifactsPerDump) + " artifacts");
    ArtifactState a;
    a.id = m.artifact_id;
    a.kind = m.kind;
    a.name = m.name;
    it = arts_.emplace(a.id, std::move(a)).first;
  } else if (it->second.name != m.name || it->second.kind != m.kind) {
    return refuse(ReasonCode::kProtocol, "artifact id " + std::to_string(m.artifact_id) + " is " + it->second.name);
  }
  ArtifactState& a = it->second;
  if (a.closed || a.fd >= 0) return ok();  // resumed: nothing to do
  auto fail = [&](const Error& e) {
    arts_.erase(m.artifact_id);
    return refuse(ReasonCode::kStorage, e.message);
  };
  if (auto r = make_parents(path_, a.name); !r.ok()) return fail(r.error());
  auto fd = open_0600(file_path(a, false));
  if (!fd.ok()) return fail(fd.error());
  a.fd = *fd;
  struct stat st {};
  if (::fstat(a.fd, &st) == 0) a.file_size = static_cast<u64>(st.st_size);
  const std::string sp = path_ + "/.state/" + std::to_string(a.id);
  const bool fresh = ::access(sp.c_str(), F_OK) != 0;
  auto sfd = open_0600(sp);
  if (!sfd.ok()) return fail(sfd.error());
  a.state_fd = *sfd;
  if (fresh) {
    if (auto r = save_state(a); !r.ok()) return fail(r.error());
    if (auto r = fsync_path(path_ + "/.state"); !r.ok()) return fail(r.error());
    if (auto r = fsync_path(path_); !r.ok()) return fail(r.error());
  }
  return ok();
}

Refusal DumpDir::write(const WriteFrame& m) {
  auto it = arts_.find(m.artifact_id);
  if (it == arts_.end() || it->second.fd < 0)
    return refuse(ReasonCode::kProtocol, "WRITE to artifact id " + std::to_string(m.artifact_id) + " which is not open");
  ArtifactState& a = it->second;
  if (a.closed) return refuse(ReasonCode::kProtocol, "WRITE to closed artifact " + a.name);
  if (m.stream_pos != a.received)
    return refuse(ReasonCode::kProtocol, a.name + ": WRITE stream_pos " + std::to_string(m.stream_pos) + ", expected " +
                                             std::to_string(a.received));
  if (a.kind == ArtifactKind::kSequential && m.file_offset != m.stream_pos)
    return refuse(ReasonCode::kProtocol, a.name + ": sequential artifact written at offset " + std::to_string(m.file_offset));
  const u64 end = m.file_offset + m.data.size();
  const u64 growth = end > a.file_size ? end - a.file_size : 0;
  if (Refusal r = store_.check_room(host_, growth); r.reason != ReasonCode::kNone) return r;
  size_t done = 0;
  while (done < m.data.size()) {
    ssize_t n = ::pwrite(a.fd, m.data.data() + done, m.data.size() - done, static_cast<off_t>(m.file_offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      // ENOSPC/EDQUOT on the collector's disk is a full disk, not a bug.
      return refuse(err == ENOSPC || err == EDQUOT ? ReasonCode::kFreeSpace : ReasonCode::kStorage,
                    "pwrite " + file_path(a, false) + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (growth) {
    a.file_size = end;
    store_.account(host_, static_cast<i64>(growth));
  }
  a.crc = stream_checksum(a.crc, m.file_offset, m.data);
  a.received += m.data.size();
  return ok();
}

Result<u64> DumpDir::sync(u32 artifact_id) {
  auto it = arts_.find(artifact_id);
  if (it == arts_.end()) return make_error("sync of unknown artifact id " + std::to_string(artifact_id));
  ArtifactState& a = it->second;
  if (a.fd < 0 || a.durable == a.received) return a.durable;
  if (::fdatasync(a.fd) != 0) return Error::from_errno("fdatasync " + file_path(a, false));
  const u64 old = a.durable;
  const u32 old_crc = a.durable_crc;
  a.durable = a.received;
  a.durable_crc = a.crc;
  if (auto r = save_state(a); !r.ok()) {
    a.durable = old;
    a.durable_crc = old_crc;
    return std::move(r).error();
  }
  return a.durable;
}

Result<std::vector<Ack>> DumpDir::sync_all(u32 first) {
  std::vector<Ack> acks;
  ASSIGN_OR_RETURN(u64 pos, sync(first));
  acks.push_back({first, pos});
  for (auto& [id, a] : arts_) {
    if (id == first || a.fd < 0 || a.durable == a.received) continue;
    ASSIGN_OR_RETURN(u64 p, sync(id));
    acks.push_back({id, p});
  }
  return acks;
}

Refusal DumpDir::close_artifact(const CloseArtifact& m, u64& final_pos) {
  auto it = arts_.find(m.artifact_id);
  if (it == arts_.end()) return refuse(ReasonCode::kProtocol, "CLOSE of unknown artifact id " + std::to_string(m.artifact_id));
  ArtifactState& a = it->second;
  final_pos = a.received;
  if (a.closed) return ok();  // a resend after a lost ACK
  if (auto r = sync(a.id); !r.ok()) return refuse(ReasonCode::kStorage, r.error().message);
  const bool verified = m.total_length == a.received && m.checksum == a.crc;
  a.closed = true;
  if (auto r = save_state(a); !r.ok()) return refuse(ReasonCode::kStorage, r.error().message);
  if (m.complete && verified) {
    const std::string from = file_path(a, false), to = file_path(a, true);
    if (::rename(from.c_str(), to.c_str()) != 0) return refuse(ReasonCode::kStorage, "rename " + from + ": " + std::strerror(errno));
    const std::string parent = to.substr(0, to.rfind('/'));
    if (auto r = fsync_path(parent); !r.ok()) return refuse(ReasonCode::kStorage, r.error().message);
  }
  ::close(a.fd);
  a.fd = -1;
  if (m.complete && !verified)
    return refuse(ReasonCode::kChecksum, a.name + ": sender says " + std::to_string(m.total_length) + " bytes crc " +
                                             std::to_string(m.checksum) + ", received " + std::to_string(a.received) +
                                             " bytes crc " + std::to_string(a.crc) + "; kept as " + a.name + "-incomplete");
  store_.log().info("%s: %s %s (%llu bytes)", host_.c_str(), a.name.c_str(), m.complete ? "complete" : "closed incomplete",
                    static_cast<unsigned long long>(a.received));
  return ok();
}

void DumpDir::abandon() {
  for (auto& [id, a] : arts_) {
    if (a.fd >= 0) {
      if (auto r = sync(id); !r.ok()) store_.log().warn("%s", r.error().message.c_str());
      ::close(a.fd);
      a.fd = -1;
    }
    if (a.state_fd >= 0) {
      ::close(a.state_fd);
      a.state_fd = -1;
    }
  }
}

}  // namespace salvage

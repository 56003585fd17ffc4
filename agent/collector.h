// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage collector`: receives dumps over the network (docs/collector.md,
// docs/formats/wire-protocol.md). Storage (collector-storage.cc) is plain
// synchronous file code; the server (collector-server.cc) is Boost.Asio.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/log.h"
#include "formats/result.h"
#include "formats/wire.h"

namespace salvage {

struct StoreLimits {
  uint64_t quota_bytes = UINT64_MAX;  // per host, everything under <root>/<host>
  uint64_t min_free_bytes = 0;        // never let the file system's free space drop below this
};

// One artifact being received: its file, stream position and checksum,
// and the small state file that survives a collector restart.
struct ArtifactState {
  u32 id = 0;
  ArtifactKind kind = ArtifactKind::kSeekable;
  std::string name;
  bool closed = false;
  u64 received = 0;   // stream bytes written to the file
  u32 crc = 0;        // stream_checksum over [0, received)
  u64 durable = 0;    // stream bytes fdatasync'ed and recorded in the state file
  u32 durable_crc = 0;
  u64 file_size = 0;  // current size of the file (quota accounting)
  int fd = -1;
  int state_fd = -1;
};

class DumpStore;

// <root>/<host>/<time>/ of one dump. Not thread-safe (the server is one thread).
class DumpDir {
 public:
  ~DumpDir();
  DumpDir(const DumpDir&) = delete;
  DumpDir& operator=(const DumpDir&) = delete;

  const std::string& path() const { return path_; }
  const std::string& host() const { return host_; }
  // What RESUME tells the sender: every artifact and its durable position.
  Resume resume() const;
  // Each returns a Refusal with reason kNone on success; anything else is
  // sent to the sender (END) and ends the transfer.
  Refusal open_artifact(const OpenArtifact& m);
  Refusal write(const WriteFrame& m);
  // fdatasync the artifact's file, then record the position: returns the
  // position every byte before which is durable.
  Result<u64> sync(u32 artifact_id);
  // An ACK_REQUEST syncs every open artifact with unsynced data (so a
  // sender interleaving artifacts never waits for bytes nobody will ACK);
  // one ACK per artifact synced, `first` always included.
  Result<std::vector<Ack>> sync_all(u32 first);
  // Verifies length and checksum, syncs, renames NAME-incomplete to NAME
  // when complete and verified. The ACK follows with kFlagClosed.
  Refusal close_artifact(const CloseArtifact& m, u64& final_pos);
  // Connection lost: make what was received durable and close the files
  // (the next session for this dump resumes from here).
  void abandon();
  bool has_artifact(u32 id) const { return arts_.count(id) != 0; }

 private:
  friend class DumpStore;
  DumpDir(DumpStore& store, std::string host, std::string path) : store_(store), host_(std::move(host)), path_(std::move(path)) {}
  Result<void> load_states();
  Result<void> save_state(ArtifactState& a);
  std::string file_path(const ArtifactState& a, bool final_name) const;
  DumpStore& store_;
  std::string host_, path_;
  std::map<u32, ArtifactState> arts_;
};

class DumpStore {
 public:
  DumpStore(std::string root, StoreLimits limits, const Log& log) : root_(std::move(root)), limits_(limits), log_(log) {}
  // Creates <root>/<host>/<time>/ for a new dump id, or finds the directory
  // of a known one (resume). `now` names a new directory (UTC, as save does).
  // Refuses (kQuota/kFreeSpace) a host already over its limits.
  Result<std::unique_ptr<DumpDir>> open_dump(const std::string& host, const std::string& dump_id, std::time_t now,
                                             Refusal& refused);
  // Whether `growth` more bytes for host fit the quota and the floor.
  Refusal check_room(const std::string& host, u64 growth);
  void account(const std::string& host, i64 delta) { usage_[host] += delta; }
  u64 usage(const std::string& host);
  const std::string& root() const { return root_; }
  const Log& log() const { return log_; }

 private:
  std::string root_;
  StoreLimits limits_;
  const Log& log_;
  std::map<std::string, u64> usage_;  // bytes under <root>/<host>, computed once then tracked
};

// ---- Credentials (collector-creds.cc) ----

// SHA-256 of a DER certificate as 64 lowercase hex digits.
using Fingerprint = std::string;

struct EnrolledHost {
  Fingerprint fingerprint;
  std::string host;
};
// <cred-dir>/allowed: "FINGERPRINT HOST" lines.
Result<std::vector<EnrolledHost>> read_allow_list(const std::string& cred_dir);

// `salvage collector enroll HOST`: creates the collector's key and
// self-signed certificate once, a key pair and certificate for HOST, adds
// HOST to the allow list and writes the bundle (0600).
Result<void> enroll_host(const std::string& cred_dir, const std::string& host, const std::string& address,
                         const std::string& bundle_out, const Log& log);

// The bundle a host carries (mkinitramfs --collector embeds it).
struct Bundle {
  std::string host;
  std::string address;  // ADDR:PORT of the collector, as given at enrollment
  Fingerprint collector_fingerprint;
  std::string key_pem, cert_pem;
};
Result<Bundle> read_bundle(const std::string& path);
Result<Bundle> parse_bundle(const std::string& text);

// ---- Probing a collector (collector-probe.cc): `salvage test` ----

// Connects as the capture agent would (TLS 1.3 with the bundle's key and
// pinned collector fingerprint, or plaintext when insecure) and sends PROBE
// (wire protocol version 2): the collector authenticates the host and says
// whether it would take a dump now, and stores nothing.
struct ProbeRequest {
  std::string address;      // numeric IPv4 or IPv6
  uint16_t port = 0;
  bool insecure = false;    // plaintext (labs; the collector must say --insecure too)
  std::string bundle_text;  // the bundle's contents (TLS); ignored when insecure
  std::string host_name;    // "" = the bundle's host (required when insecure)
  double timeout_s = 10;    // per step: connect, handshake, answer
};

enum class ProbeOutcome {
  kAccepted,      // reachable, authenticated, a dump would be accepted
  kRefused,       // the collector said no: not enrolled, wrong host, quota... (reason, message)
  kUnreachable,   // no TCP connection (error: the errno)
  kTlsFailed,     // TCP connected, the TLS handshake failed (pin mismatch, not a TLS collector...)
  kOldCollector,  // speaks only protocol version 1: reachable, TLS accepted, host name not checked
  kProtocol,      // an answer that is not the protocol
  kSetup,         // our side: unreadable bundle, bad address
};
const char* probe_outcome_name(ProbeOutcome o);

struct ProbeReport {
  ProbeOutcome outcome = ProbeOutcome::kSetup;
  std::string message;  // one line for the operator, with the collector's reason or the errno
  std::string host;     // the name the collector accepted (kAccepted)
  ReasonCode reason = ReasonCode::kNone;  // the collector's code (kRefused, kOldCollector)
  int error = 0;        // errno (kUnreachable)
};
ProbeReport probe_collector(const ProbeRequest& r, const Log& log);

// ---- The daemon (collector-server.cc) ----

struct CollectorOptions {
  std::string listen_address = "0.0.0.0";
  uint16_t port = 7341;
  std::string root = "/var/crash/collector";
  std::string cred_dir = "/etc/salvage/collector";
  StoreLimits limits;
  double idle_timeout_s = 60;
  bool insecure = false;
  size_t max_connections = 256;
  // Test hook: write the bound port here once listening (for --listen ...:0).
  std::string port_file;
};

// Runs until SIGTERM/SIGINT. Returns the exit status.
int run_collector(const CollectorOptions& opt, const Log& log);

}  // namespace salvage

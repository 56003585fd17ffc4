// SPDX-License-Identifier: GPL-2.0-or-later
// The sending side of the network dump (docs/formats/wire-protocol.md): one
// NetSession per dump talks to one `salvage collector`; each artifact
// (vmcore, dmesg.txt, summary.txt, trace/cpu0...) is a Sink whose write_at
// becomes WRITE frames.
//
// Durability and resume: a Sink keeps every byte the collector has not yet
// acknowledged (acknowledged = fdatasync'ed on the collector) in a bounded
// window; when the window is full, write_at waits for ACKs. When the
// connection drops, the session reconnects with backoff until timeout_s has
// passed since the last progress, learns from RESUME what the collector has
// durably, and resends the rest from the window: nothing acknowledged is
// sent twice, nothing is lost.
//
// Works in a static binary in a capture kernel: numeric addresses only (no
// DNS, no config files), no certificate date checks (the clock is wrong).
// Not thread-safe: one thread drives a session and its sinks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "agent/log.h"
#include "formats/result.h"
#include "formats/sink.h"
#include "formats/wire.h"

namespace salvage {

struct NetTarget {
  std::string address;      // numeric IPv4 or IPv6 ("192.0.2.1", "fd00::1")
  uint16_t port = 0;
  bool insecure = false;    // plaintext, only for labs (the collector must say --insecure too)
  std::string bundle_path;  // credentials from `salvage collector enroll` (ignored when insecure)
  std::string host_name;    // this host as enrolled; "" = the bundle's host name
  double timeout_s = 60;    // give up when no progress for this long (connects, ACKs, reconnects)
  size_t window_bytes = size_t{8} << 20;  // unacknowledged bytes kept per session for resending
};

// Why a session stopped, so the capture agent can decide to try its next
// target: kQuota/kRefused are the collector's decision (do not retry it).
enum class NetStop { kNone, kTimeout, kRefused, kQuota, kProtocol };

class NetSession {
 public:
  // Connects, (TLS handshake with the pinned collector fingerprint,) HELLO.
  // dump_id identifies the dump across reconnects (e.g. the crash time and
  // boot id); the same host + dump_id resumes into the same directory.
  static Result<std::unique_ptr<NetSession>> open(const NetTarget& target, const std::string& dump_id,
                                                  const Log& log);
  ~NetSession();
  NetSession(const NetSession&) = delete;
  NetSession& operator=(const NetSession&) = delete;

  // A new artifact on the collector. name: "vmcore", "dmesg.txt",
  // "trace/cpu0"... (validated as in wire.h). The Sink lives until
  // close_artifact; its finish() waits until everything sent is acknowledged.
  Result<std::unique_ptr<Sink>> open_artifact(const std::string& name, ArtifactKind kind);
  // CLOSE_ARTIFACT: complete or not, with the stream checksum; waits for
  // the collector's final ACK (so the data is durable when this returns).
  Result<void> close_artifact(Sink& sink, bool complete);
  // Ends the session cleanly (BYE).
  Result<void> close();

  // Why the last failing call failed (kNone while all is well).
  NetStop stopped() const;
  // Bytes acknowledged by the collector, over all artifacts.
  uint64_t acknowledged_bytes() const;

  struct Impl;

 private:
  explicit NetSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses "ADDR:PORT" or "[V6ADDR]:PORT" (numeric only).
Result<void> parse_net_address(const std::string& spec, std::string& address, uint16_t& port);
// The inverse: "10.0.2.2:7341", "[fec0::2]:7341".
std::string net_endpoint_text(const std::string& address, uint16_t port);

}  // namespace salvage

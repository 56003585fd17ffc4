// SPDX-License-Identifier: GPL-2.0-or-later
// The disk-only capture agent (agent/disk-agent.h) is salvage linked
// without the objects that need OpenSSL: the collector, TLS, the sender and
// the net target. These stand-ins keep the rest linking and say, should a
// `net` target reach them anyway, what happened.
#include "agent/capture-net.h"
#include "agent/collector.h"
#include "agent/capture-system.h"
#include "agent/commands.h"
#include "agent/net-sink.h"

#include <cstdio>

namespace salvage {

namespace {
constexpr const char* kNoNet =
    "this is salvage's disk-only capture agent, built without TLS; `salvage mkinitramfs` embeds the full "
    "salvage when a target is `net`";
}

struct NetSession::Impl {};
NetSession::NetSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetSession::~NetSession() = default;
Result<std::unique_ptr<NetSession>> NetSession::open(const NetTarget&, const std::string&, const Log&) {
  return make_error(kNoNet);
}
Result<std::unique_ptr<Sink>> NetSession::open_artifact(const std::string&, ArtifactKind) { return make_error(kNoNet); }
Result<void> NetSession::close_artifact(Sink&, bool) { return make_error(kNoNet); }
Result<void> NetSession::close() { return make_error(kNoNet); }
NetStop NetSession::stopped() const { return NetStop::kProtocol; }
uint64_t NetSession::acknowledged_bytes() const { return 0; }

Result<void> parse_net_address(const std::string&, std::string&, uint16_t&) { return make_error(kNoNet); }

NetOutcome capture_net_target(const CaptureConfig&, const TargetSpec&, CaptureSource&, const ConvertSettings&,
                              const Log&, double) {
  agent_say("target net: %s; next target", kNoNet);
  return NetOutcome::kFailed;
}

const char* probe_outcome_name(ProbeOutcome) { return "not built in"; }
ProbeReport probe_collector(const ProbeRequest&, const Log&) {
  ProbeReport r;
  r.outcome = ProbeOutcome::kSetup;
  r.message = kNoNet;
  return r;
}

int cmd_collector(int, char**) {
  std::fprintf(stderr, "salvage collector: %s\n", kNoNet);
  return 2;
}

}  // namespace salvage

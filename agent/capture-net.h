// SPDX-License-Identifier: GPL-2.0-or-later
// The capture agent's network target (issue 4): bring a NIC up through
// rtnetlink (agent/netlink.h), static or DHCP (agent/dhcp.h), retrying until
// the capture's time runs out (a DHCP lease is then kept renewed on a thread
// of its own, net::DhcpKeeper, for as long as the transfer runs); then one
// NetSession (agent/net-sink.h) to the collector carrying, in this order:
//   dmesg.txt   small and the most precious;
//   vmcore      the same conversion pipeline as the disk targets (priority
//               passes: kernel pages first), written through the session's
//               seekable Sink, which resumes across reconnects;
//   summary.txt the capture summary.
// Progress on the console as for the disk target. When the collector ends
// the transfer (quota, free-space floor) or cannot be reached, the agent
// tries its next target.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "agent/capture-config.h"
#include "agent/capture-write.h"
#include "agent/dhcp.h"
#include "agent/netlink.h"

namespace salvage {

// What the link looks like once it is usable.
struct NetUp {
  std::string ifname;
  int ifindex = 0;
  net::MacAddr mac;
  std::vector<NetAddress> addresses;
  std::vector<net::IpAddr> gateways;
  std::string how;  // "static 10.0.2.15/24 via 10.0.2.2" or "dhcp 10.0.2.15/24 via 10.0.2.2 from ..."
  std::optional<net::DhcpLease> lease;  // by DHCP: what capture_net_target keeps renewed
};

// Configures a DHCP lease on the interface through rtnetlink: its address
// and, if it names a router, the default route (both replace what is there).
// With `replaced` (the lease it follows), a changed address replaces the old.
Result<void> configure_dhcp_lease(int ifindex, const net::DhcpLease& lease, const net::DhcpLease* replaced = nullptr);

// Finds the interface (NetConfig::interface, or the only non-loopback one),
// sets it (and lo) up, waits for carrier, configures it, adds the default
// route(s). Retries every step until timeout_s. `say` prints progress.
Result<NetUp> bring_up_network(const NetConfig& cfg, double timeout_s, const std::function<void(const std::string&)>& say);

// A dump id that names this crash on the collector and stays the same if
// the agent starts over: release, host and crash time.
std::string net_dump_id(const CaptureSource& src);

enum class NetOutcome { kSaved, kIncomplete, kFailed };

// The whole target, with its console lines. kIncomplete: the collector
// kept a partial dump (quota, or the connection lost for good).
NetOutcome capture_net_target(const CaptureConfig& cfg, const TargetSpec& t, CaptureSource& src,
                              const ConvertSettings& settings, const Log& log, double deadline);

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// The network part of the capture configuration (issue 4): which interface,
// how it gets its address, and where the collector is. Keys of
// /etc/salvage.conf (docs/formats/initramfs.md, docs/network.md), handed
// over by agent/capture-config.cc's set_capture_key:
//   net=52:54:00:12:34:56      the interface, by MAC (stable across kernels) or name
//   ip=dhcp | ip=static        how it is configured (salvage.ip=dhcp overrides)
//   net_address=10.0.2.15/24   a static address with its prefix; repeatable (IPv4, IPv6)
//   net_gateway=10.0.2.2       a default gateway; repeatable, one per family
//   collector=10.0.2.2:9400    the collector, numeric ADDR:PORT or [V6]:PORT
//   collector_bundle=/etc/salvage/collector.bundle  the enrolled credentials
//   collector_insecure=1       plaintext (labs only; the collector must say --insecure)
//   net_lab_reference=/dev/vdb lab only: first copy /proc/vmcore raw onto this
//                              device, the reference the lab compares pages with
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/netlink.h"
#include "formats/result.h"

namespace salvage {

// Where mkinitramfs puts the bundle inside the initramfs.
inline constexpr const char* kCollectorBundlePath = "/etc/salvage/collector.bundle";

struct NetAddress {
  net::IpAddr addr;
  unsigned prefix = 0;
  std::string to_string() const;  // "10.0.2.15/24"
};
Result<NetAddress> parse_net_address_prefix(std::string_view s);

struct NetConfig {
  enum class Ip { kUnset, kDhcp, kStatic };
  std::string interface;  // MAC or name; "" = the only non-loopback interface
  Ip ip = Ip::kUnset;
  std::vector<NetAddress> addresses;
  std::vector<net::IpAddr> gateways;
  std::string collector;  // "ADDR:PORT"
  std::string bundle;     // path of the credentials in the initramfs
  bool insecure = false;
  std::string lab_reference;  // lab only (tests/vm/run-net-lab.sh)
};

bool is_net_key(std::string_view key);
Result<void> set_net_key(NetConfig& n, std::string_view key, std::string_view value);
// The keys in the order above; "" when nothing is set.
std::string render_net_config(const NetConfig& n);
// What is missing for a capture over the network with `collector` (the
// net:ADDR:PORT target's address, "" for the config's): an error naming it.
Result<void> check_net_config(const NetConfig& n, std::string_view target_collector);

}  // namespace salvage

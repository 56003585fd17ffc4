// SPDX-License-Identifier: GPL-2.0-or-later
// Arming for the network target (issue 4), used by `salvage mkinitramfs
// --collector`: which interface routes to the collector (RTM_GETROUTE),
// its MAC, its addresses and gateways (copied as static configuration, as
// kdump's own tooling does), and the kernel modules that drive it.
#pragma once

#include <string>
#include <vector>

#include "agent/net-config.h"
#include "agent/netlink.h"

namespace salvage {

struct NetArming {
  std::string ifname;
  net::MacAddr mac;
  std::vector<NetAddress> addresses;  // global-scope addresses of the interface, IPv4 and IPv6
  std::vector<net::IpAddr> gateways;  // the route's gateway, and the other family's default gateway
  bool on_link = false;               // the collector is on the interface's own subnet
};

// Asks the kernel (through `nl`) how it reaches `collector`. Errors if the
// route leaves through loopback (the collector is this host) or an
// interface without a MAC.
Result<NetArming> detect_net_arming(net::Netlink& nl, const net::IpAddr& collector);

// The modules driving network interface `ifname`, bus drivers first
// (virtio_pci before virtio_net), from /sys/class/net/IF/device and its
// parents' driver/module links. Built-in drivers have no link and are
// skipped; a virtual interface has no device and no modules.
Result<std::vector<std::string>> net_device_modules(const std::string& sysfs_root, const std::string& ifname);

// Writes what arming found into the config (net=MAC, ip=static, addresses, gateways).
void apply_net_arming(NetConfig& n, const NetArming& a);

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/net-arm.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <filesystem>

#include "agent/modules.h"

namespace salvage {

namespace fs = std::filesystem;

Result<NetArming> detect_net_arming(net::Netlink& nl, const net::IpAddr& collector) {
  ASSIGN_OR_RETURN(net::RouteInfo r, nl.route_to(collector));
  ASSIGN_OR_RETURN(net::LinkInfo l, nl.link(r.oif).context("the route to " + collector.to_string()));
  if (l.loopback() || r.type == RTN_LOCAL)
    return make_error("the collector " + collector.to_string() + " is this host (route via " + l.name +
                      "); a capture kernel cannot reach it there");
  if (!l.has_mac) return make_error("the route to " + collector.to_string() + " leaves through " + l.name +
                                    ", which has no MAC address (a tunnel?): not supported in the capture kernel");
  NetArming a;
  a.ifname = l.name;
  a.mac = l.mac;
  a.on_link = r.gateway.empty();
  ASSIGN_OR_RETURN(auto addrs, nl.addrs());
  for (const auto& ad : addrs)
    if (ad.index == l.index && ad.scope == RT_SCOPE_UNIVERSE) a.addresses.push_back({ad.addr, ad.prefix});
  if (a.addresses.empty()) return make_error(l.name + " has no global address to copy");
  if (!r.gateway.empty()) a.gateways.push_back(r.gateway);
  // The other family's default gateway on the same interface, so that both
  // families work in the capture kernel as they do here.
  for (int fam : {AF_INET, AF_INET6}) {
    if (fam == collector.family) continue;
    ASSIGN_OR_RETURN(auto routes, nl.routes(fam));
    for (const auto& rt : routes)
      if (rt.dst_len == 0 && rt.oif == l.index && rt.table == RT_TABLE_MAIN && !rt.gateway.empty()) {
        a.gateways.push_back(rt.gateway);
        break;
      }
  }
  return a;
}

Result<std::vector<std::string>> net_device_modules(const std::string& sysfs_root, const std::string& ifname) {
  std::error_code ec;
  if (ifname.empty() || ifname.find('/') != std::string::npos || ifname == "." || ifname == "..")
    return make_error("bad interface name '" + ifname + "'");
  fs::path dir = fs::path(sysfs_root) / "class" / "net" / ifname;
  if (!fs::exists(dir, ec)) return make_error(dir.string() + ": no such interface");
  return device_driver_modules(sysfs_root, dir.string());  // a virtual interface has none
}

void apply_net_arming(NetConfig& n, const NetArming& a) {
  n.interface = a.mac.to_string();
  if (n.ip == NetConfig::Ip::kUnset) n.ip = NetConfig::Ip::kStatic;
  if (n.addresses.empty()) n.addresses = a.addresses;
  if (n.gateways.empty()) n.gateways = a.gateways;
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/net-config.h"

#include <charconv>

namespace salvage {

namespace {

bool has_control(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

// "ADDR:PORT" / "[V6]:PORT", numeric: the capture kernel has no resolver.
Result<void> check_collector(std::string_view v) {
  std::string s(v);
  std::string addr;
  std::string_view port;
  if (s.starts_with("[")) {
    size_t close = s.find("]:");
    if (close == std::string::npos) return make_error("collector '" + s + "': expected [IPV6]:PORT");
    addr = s.substr(1, close - 1);
    port = std::string_view(s).substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string::npos || s.find(':') != colon)
      return make_error("collector '" + s + "': expected ADDR:PORT (IPv6 as [ADDR]:PORT)");
    addr = s.substr(0, colon);
    port = std::string_view(s).substr(colon + 1);
  }
  if (auto a = net::parse_ip(addr); !a.ok()) return make_error("collector '" + s + "': " + a.error().message);
  unsigned p = 0;
  auto [e, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || e != port.data() + port.size() || p == 0 || p > 65535)
    return make_error("collector '" + s + "': port '" + std::string(port) + "' is not 1..65535");
  return Ok();
}

}  // namespace

std::string NetAddress::to_string() const { return addr.to_string() + "/" + std::to_string(prefix); }

Result<NetAddress> parse_net_address_prefix(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return make_error("'" + std::string(s) + "': expected ADDRESS/PREFIX");
  NetAddress a;
  ASSIGN_OR_RETURN(a.addr, net::parse_ip(s.substr(0, slash)));
  std::string_view p = s.substr(slash + 1);
  auto [e, ec] = std::from_chars(p.data(), p.data() + p.size(), a.prefix);
  if (ec != std::errc() || e != p.data() + p.size() || p.empty() || a.prefix > a.addr.max_prefix() || a.prefix == 0)
    return make_error("'" + std::string(s) + "': prefix '" + std::string(p) + "' is not 1.." +
                      std::to_string(a.addr.max_prefix()));
  return a;
}

bool is_net_key(std::string_view k) {
  return k == "net" || k == "ip" || k == "net_address" || k == "net_gateway" || k == "collector" ||
         k == "collector_bundle" || k == "collector_insecure" || k == "net_lab_reference";
}

Result<void> set_net_key(NetConfig& n, std::string_view key, std::string_view v) {
  const std::string k(key), val(v);
  if (has_control(v)) return make_error(k + ": control character");
  if (key == "net") {
    if (v.empty() || v.size() > 17 || v.find('/') != std::string_view::npos)
      return make_error("net: '" + val + "' is not an interface name or MAC address");
    n.interface = val;
  } else if (key == "ip") {
    if (v == "dhcp") n.ip = NetConfig::Ip::kDhcp;
    else if (v == "static") n.ip = NetConfig::Ip::kStatic;
    else return make_error("ip: '" + val + "' is not dhcp or static");
  } else if (key == "net_address") {
    ASSIGN_OR_RETURN(NetAddress a, parse_net_address_prefix(v).context("net_address"));
    n.addresses.push_back(a);
  } else if (key == "net_gateway") {
    ASSIGN_OR_RETURN(net::IpAddr g, net::parse_ip(v).context("net_gateway"));
    n.gateways.push_back(g);
  } else if (key == "collector") {
    TRY(check_collector(v));
    n.collector = val;
  } else if (key == "collector_bundle") {
    if (!v.starts_with("/")) return make_error("collector_bundle: '" + val + "' is not an absolute path");
    n.bundle = val;
  } else if (key == "collector_insecure") {
    if (v != "0" && v != "1") return make_error("collector_insecure: '" + val + "' is not 0 or 1");
    n.insecure = v == "1";
  } else if (key == "net_lab_reference") {
    if (!v.starts_with("/dev/")) return make_error("net_lab_reference: '" + val + "' is not a /dev path");
    n.lab_reference = val;
  } else {
    return make_error("unknown key '" + k + "'");
  }
  return Ok();
}

std::string render_net_config(const NetConfig& n) {
  std::string s;
  if (!n.interface.empty()) s += "net=" + n.interface + "\n";
  if (n.ip != NetConfig::Ip::kUnset) s += std::string("ip=") + (n.ip == NetConfig::Ip::kDhcp ? "dhcp" : "static") + "\n";
  for (const auto& a : n.addresses) s += "net_address=" + a.to_string() + "\n";
  for (const auto& g : n.gateways) s += "net_gateway=" + g.to_string() + "\n";
  if (!n.collector.empty()) s += "collector=" + n.collector + "\n";
  if (!n.bundle.empty()) s += "collector_bundle=" + n.bundle + "\n";
  if (n.insecure) s += "collector_insecure=1\n";
  if (!n.lab_reference.empty()) s += "net_lab_reference=" + n.lab_reference + "\n";
  return s;
}

Result<void> check_net_config(const NetConfig& n, std::string_view target_collector) {
  if (target_collector.empty() && n.collector.empty())
    return make_error("no collector address (collector=ADDR:PORT or target net:ADDR:PORT)");
  if (!target_collector.empty()) TRY(check_collector(target_collector));
  if (n.ip == NetConfig::Ip::kUnset) return make_error("no address configuration (ip=dhcp or ip=static)");
  if (n.ip == NetConfig::Ip::kStatic && n.addresses.empty())
    return make_error("ip=static but no net_address=ADDRESS/PREFIX");
  if (!n.insecure && n.bundle.empty()) return make_error("no collector_bundle (credentials) and not collector_insecure=1");
  return Ok();
}

}  // namespace salvage

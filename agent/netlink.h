// SPDX-License-Identifier: GPL-2.0-or-later
// A small rtnetlink client of our own (issue 4): the capture agent brings a
// NIC up and gives it an address and a route; `salvage mkinitramfs
// --collector` asks which interface routes to the collector and how it is
// configured. Debian's libmnl ships no static library (libmnl-dev has only
// libmnl.so) and salvage links -static, hence this file.
//
// Netlink messages are in the host's byte order (not a wire format in the
// little-endian sense: the kernel and we share a CPU); salvage is x86_64 only
// (formats/endian.h asserts little-endian). Message building and parsing are
// pure functions so that unit tests can pin them byte for byte; Netlink is
// the socket that sends them.
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage::net {

struct MacAddr {
  std::array<u8, 6> b{};
  auto operator<=>(const MacAddr&) const = default;
  std::string to_string() const;  // "52:54:00:12:34:56"
};
Result<MacAddr> parse_mac(std::string_view s);

// An IPv4 or IPv6 address in network byte order (family 0: none).
struct IpAddr {
  int family = 0;  // AF_INET, AF_INET6 or 0
  std::array<u8, 16> b{};
  auto operator<=>(const IpAddr&) const = default;
  size_t size() const { return family == 2 /*AF_INET*/ ? 4 : family == 10 /*AF_INET6*/ ? 16 : 0; }
  unsigned max_prefix() const { return static_cast<unsigned>(size() * 8); }
  bool empty() const { return family == 0; }
  std::string to_string() const;  // inet_ntop form; "" if empty
};
Result<IpAddr> parse_ip(std::string_view s);
IpAddr ipv4(u8 a, u8 b, u8 c, u8 d);

struct LinkInfo {
  int index = 0;
  std::string name;
  MacAddr mac;
  bool has_mac = false;
  unsigned flags = 0;      // IFF_*
  bool carrier = false;    // IFLA_CARRIER, else IFF_LOWER_UP
  bool up() const;         // IFF_UP
  bool loopback() const;   // IFF_LOOPBACK
};

struct AddrInfo {
  int index = 0;
  IpAddr addr;
  unsigned prefix = 0;
  unsigned scope = 0;  // RT_SCOPE_*: 0 universe, 253 link, 254 host
};

struct RouteInfo {
  IpAddr dst;           // empty family-typed zero for a default route
  unsigned dst_len = 0;
  IpAddr gateway;       // empty: on-link
  IpAddr prefsrc;
  int oif = 0;
  unsigned table = 0;
  unsigned type = 0;    // RTN_*
};

// ---- message building (pure) ------------------------------------------------

using Bytes = std::vector<std::byte>;

// RTM_NEWLINK setting IFF_UP on `index` (NLM_F_ACK).
Bytes build_link_up(u32 seq, int index);
// RTM_NEWADDR: addr/prefix on `index`, NLM_F_CREATE|NLM_F_REPLACE|NLM_F_ACK.
// IPv4 carries IFA_LOCAL and IFA_ADDRESS (the kernel's rule for
// non-point-to-point links); IPv6 IFA_ADDRESS with IFA_F_NODAD, since a
// capture kernel has no time for duplicate address detection.
Bytes build_add_addr(u32 seq, int index, const IpAddr& addr, unsigned prefix);
Bytes build_del_addr(u32 seq, int index, const IpAddr& addr, unsigned prefix);
// RTM_NEWADDR / RTM_DELADDR with the given flags (the two above).
Bytes build_addr_message(u16 type, u16 flags, u32 seq, int index, const IpAddr& addr, unsigned prefix);
// RTM_NEWROUTE in the main table, proto boot: dst/dst_len (dst_len 0: the
// default route) via `gateway` (empty: on-link) out of `oif`.
Bytes build_add_route(u32 seq, const IpAddr& dst, unsigned dst_len, const IpAddr& gateway, int oif);
// RTM_GETROUTE for one destination: the kernel answers with the route it would use.
Bytes build_get_route(u32 seq, const IpAddr& dst);
// A dump request (NLM_F_DUMP) of RTM_GETLINK, RTM_GETADDR or RTM_GETROUTE.
Bytes build_dump(u32 seq, u16 type, int family);

// ---- parsing (pure, bounds-checked) ------------------------------------------

struct Message {
  u16 type = 0;
  u16 flags = 0;
  u32 seq = 0;
  std::span<const std::byte> payload;  // after the nlmsghdr
};
// Splits a datagram into messages; errors name the offset.
Result<std::vector<Message>> split_messages(std::span<const std::byte> buf);
// NLMSG_ERROR payload: the errno (0 for an ACK).
Result<int> parse_error(const Message& m);
Result<LinkInfo> parse_link(const Message& m);
Result<AddrInfo> parse_addr(const Message& m);
Result<RouteInfo> parse_route(const Message& m);

// ---- the socket --------------------------------------------------------------

class Netlink {
 public:
  static Result<Netlink> open();
  Netlink(Netlink&& o) noexcept : fd_(o.fd_), seq_(o.seq_) { o.fd_ = -1; }
  Netlink& operator=(Netlink&&) = delete;
  ~Netlink();

  Result<std::vector<LinkInfo>> links();
  Result<std::vector<AddrInfo>> addrs(int family = 0);
  Result<std::vector<RouteInfo>> routes(int family);
  Result<RouteInfo> route_to(const IpAddr& dst);
  Result<LinkInfo> link(int index);

  Result<void> set_up(int index);
  Result<void> add_addr(int index, const IpAddr& a, unsigned prefix);
  Result<void> del_addr(int index, const IpAddr& a, unsigned prefix);
  Result<void> add_route(const IpAddr& dst, unsigned dst_len, const IpAddr& gw, int oif);

 private:
  explicit Netlink(int fd) : fd_(fd) {}
  Result<void> request_ack(Bytes msg, const std::string& what);
  Result<std::vector<Bytes>> request(Bytes msg, bool dump, const std::string& what);
  u32 next_seq() { return ++seq_; }
  int fd_ = -1;
  u32 seq_ = 0;
};

// The interface named `spec`: an interface name ("eth0") or a MAC address
// ("52:54:00:12:34:56", any case). Errors list what there is.
Result<LinkInfo> find_link(const std::vector<LinkInfo>& links, std::string_view spec);

}  // namespace salvage::net

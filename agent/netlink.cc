// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/netlink.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>

namespace salvage::net {

// The kernel's UAPI structs we put on the socket; their sizes are ABI.
static_assert(sizeof(nlmsghdr) == 16);
static_assert(sizeof(ifinfomsg) == 16);
static_assert(sizeof(ifaddrmsg) == 8);
static_assert(sizeof(rtmsg) == 12);
static_assert(sizeof(rtattr) == 4);
static_assert(sizeof(nlmsgerr) == 20);

namespace {

// IFF_LOWER_UP is in <linux/if.h>, which clashes with glibc's <net/if.h>;
// its value is UAPI (include/uapi/linux/if.h).
constexpr unsigned kIffLowerUp = 1u << 16;

constexpr size_t align4(size_t n) { return (n + 3) & ~size_t{3}; }

// Builds one message: header, fixed part, attributes; the length is patched
// in at the end.
class Builder {
 public:
  Builder(u16 type, u16 flags, u32 seq) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    put(&h, sizeof h);
  }
  template <typename T>
  void fixed(const T& t) { put(&t, sizeof t); }
  void attr(u16 type, const void* data, size_t len) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<u16>(sizeof a + len);
    put(&a, sizeof a);
    put(data, len);
  }
  void attr_u32(u16 type, u32 v) { attr(type, &v, sizeof v); }
  Bytes finish() {
    u32 len = static_cast<u32>(b_.size());
    std::memcpy(b_.data(), &len, sizeof len);  // nlmsg_len is the first field
    return std::move(b_);
  }

 private:
  void put(const void* p, size_t n) {
    const auto* c = static_cast<const std::byte*>(p);
    b_.insert(b_.end(), c, c + n);
    b_.resize(align4(b_.size()));
  }
  Bytes b_;
};

// Attributes of a message after its fixed part.
template <typename F>
Result<void> for_each_attr(std::span<const std::byte> p, size_t fixed, const char* what, F f) {
  if (p.size() < fixed) return make_error(std::string(what) + ": " + std::to_string(p.size()) +
                                          " payload bytes, shorter than its fixed part (" + std::to_string(fixed) + ")");
  size_t off = align4(fixed);
  while (off + sizeof(rtattr) <= p.size()) {
    rtattr a;
    std::memcpy(&a, p.data() + off, sizeof a);
    if (a.rta_len < sizeof a || a.rta_len > p.size() - off)
      return make_error(std::string(what) + ": attribute at payload offset " + std::to_string(off) + " has length " +
                        std::to_string(a.rta_len) + " (" + std::to_string(p.size() - off) + " bytes left)");
    f(a.rta_type & NLA_TYPE_MASK, p.subspan(off + sizeof a, a.rta_len - sizeof a));
    off += align4(a.rta_len);
  }
  return Ok();
}

IpAddr ip_from(int family, std::span<const std::byte> d) {
  IpAddr a;
  size_t need = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
  if (need == 0 || d.size() != need) return a;
  a.family = family;
  std::memcpy(a.b.data(), d.data(), need);
  return a;
}

u32 u32_from(std::span<const std::byte> d) {
  u32 v = 0;
  if (d.size() == 4) std::memcpy(&v, d.data(), 4);
  return v;
}

}  // namespace

// ---- addresses -----------------------------------------------------------------

std::string MacAddr::to_string() const {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return s;
}

Result<MacAddr> parse_mac(std::string_view s) {
  MacAddr m;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (s.size() != 17) return make_error("'" + std::string(s) + "' is not a MAC address (xx:xx:xx:xx:xx:xx)");
  for (size_t i = 0; i < 6; ++i) {
    int h = hex(s[i * 3]), l = hex(s[i * 3 + 1]);
    if (h < 0 || l < 0 || (i < 5 && s[i * 3 + 2] != ':'))
      return make_error("'" + std::string(s) + "' is not a MAC address (xx:xx:xx:xx:xx:xx)");
    m.b[i] = static_cast<u8>(h << 4 | l);
  }
  return m;
}

std::string IpAddr::to_string() const {
  if (empty()) return "";
  char s[INET6_ADDRSTRLEN];
  if (!inet_ntop(family, b.data(), s, sizeof s)) return "?";
  return s;
}

Result<IpAddr> parse_ip(std::string_view s) {
  std::string z(s);
  IpAddr a;
  if (z.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, z.c_str(), a.b.data()) != 1) return make_error("'" + z + "' is not an IPv6 address");
    a.family = AF_INET6;
  } else {
    if (inet_pton(AF_INET, z.c_str(), a.b.data()) != 1) return make_error("'" + z + "' is not an IPv4 address");
    a.family = AF_INET;
  }
  return a;
}

IpAddr ipv4(u8 a, u8 b, u8 c, u8 d) {
  IpAddr r;
  r.family = AF_INET;
  r.b[0] = a, r.b[1] = b, r.b[2] = c, r.b[3] = d;
  return r;
}

bool LinkInfo::up() const { return flags & IFF_UP; }
bool LinkInfo::loopback() const { return flags & IFF_LOOPBACK; }

// ---- building ------------------------------------------------------------------

Bytes build_link_up(u32 seq, int index) {
  Builder b(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
  ifinfomsg i{};
  i.ifi_family = AF_UNSPEC;
  i.ifi_index = index;
  i.ifi_flags = IFF_UP;
  i.ifi_change = IFF_UP;
  b.fixed(i);
  return b.finish();
}

Bytes build_add_addr(u32 seq, int index, const IpAddr& addr, unsigned prefix) {
  return build_addr_message(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, seq, index, addr, prefix);
}

Bytes build_del_addr(u32 seq, int index, const IpAddr& addr, unsigned prefix) {
  return build_addr_message(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, seq, index, addr, prefix);
}

Bytes build_addr_message(u16 type, u16 flags, u32 seq, int index, const IpAddr& addr, unsigned prefix) {
  Builder b(type, flags, seq);
  ifaddrmsg m{};
  m.ifa_family = static_cast<u8>(addr.family);
  m.ifa_prefixlen = static_cast<u8>(prefix);
  m.ifa_flags = addr.family == AF_INET6 ? IFA_F_NODAD : 0;
  m.ifa_scope = RT_SCOPE_UNIVERSE;
  m.ifa_index = static_cast<u32>(index);
  b.fixed(m);
  if (addr.family == AF_INET) b.attr(IFA_LOCAL, addr.b.data(), 4);
  b.attr(IFA_ADDRESS, addr.b.data(), addr.size());
  return b.finish();
}

Bytes build_add_route(u32 seq, const IpAddr& dst, unsigned dst_len, const IpAddr& gateway, int oif) {
  Builder b(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, seq);
  rtmsg r{};
  r.rtm_family = static_cast<u8>(dst.family);
  r.rtm_dst_len = static_cast<u8>(dst_len);
  r.rtm_table = RT_TABLE_MAIN;
  r.rtm_protocol = RTPROT_BOOT;
  r.rtm_scope = gateway.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  r.rtm_type = RTN_UNICAST;
  b.fixed(r);
  if (dst_len > 0) b.attr(RTA_DST, dst.b.data(), dst.size());
  if (!gateway.empty()) b.attr(RTA_GATEWAY, gateway.b.data(), gateway.size());
  b.attr_u32(RTA_OIF, static_cast<u32>(oif));
  return b.finish();
}

Bytes build_get_route(u32 seq, const IpAddr& dst) {
  Builder b(RTM_GETROUTE, NLM_F_REQUEST, seq);
  rtmsg r{};
  r.rtm_family = static_cast<u8>(dst.family);
  r.rtm_dst_len = static_cast<u8>(dst.max_prefix());
  b.fixed(r);
  b.attr(RTA_DST, dst.b.data(), dst.size());
  return b.finish();
}

Bytes build_dump(u32 seq, u16 type, int family) {
  Builder b(type, NLM_F_REQUEST | NLM_F_DUMP, seq);
  if (type == RTM_GETLINK) {
    ifinfomsg i{};
    i.ifi_family = static_cast<u8>(family);
    b.fixed(i);
  } else if (type == RTM_GETADDR) {
    ifaddrmsg m{};
    m.ifa_family = static_cast<u8>(family);
    b.fixed(m);
  } else {
    rtmsg r{};
    r.rtm_family = static_cast<u8>(family);
    b.fixed(r);
  }
  return b.finish();
}

// ---- parsing -------------------------------------------------------------------

Result<std::vector<Message>> split_messages(std::span<const std::byte> buf) {
  std::vector<Message> out;
  size_t off = 0;
  while (off < buf.size()) {
    if (buf.size() - off < sizeof(nlmsghdr))
      return make_error("netlink: " + std::to_string(buf.size() - off) + " trailing bytes at offset " +
                        std::to_string(off) + ", shorter than a message header");
    nlmsghdr h;
    std::memcpy(&h, buf.data() + off, sizeof h);
    if (h.nlmsg_len < sizeof h || h.nlmsg_len > buf.size() - off)
      return make_error("netlink: message at offset " + std::to_string(off) + " has nlmsg_len " +
                        std::to_string(h.nlmsg_len) + " (" + std::to_string(buf.size() - off) + " bytes left)");
    out.push_back({h.nlmsg_type, h.nlmsg_flags, h.nlmsg_seq, buf.subspan(off + sizeof h, h.nlmsg_len - sizeof h)});
    off += align4(h.nlmsg_len);
  }
  return out;
}

Result<int> parse_error(const Message& m) {
  if (m.type != NLMSG_ERROR) return make_error("netlink: message type " + std::to_string(m.type) + " is not an error/ack");
  if (m.payload.size() < sizeof(int))
    return make_error("netlink: error message of " + std::to_string(m.payload.size()) + " bytes has no error field");
  int e;
  std::memcpy(&e, m.payload.data(), sizeof e);
  return -e;
}

Result<LinkInfo> parse_link(const Message& m) {
  if (m.type != RTM_NEWLINK) return make_error("netlink: message type " + std::to_string(m.type) + " is not RTM_NEWLINK");
  if (m.payload.size() < sizeof(ifinfomsg)) return make_error("RTM_NEWLINK: payload of " + std::to_string(m.payload.size()) + " bytes, shorter than ifinfomsg");
  ifinfomsg i;
  std::memcpy(&i, m.payload.data(), sizeof i);
  LinkInfo l;
  l.index = i.ifi_index;
  l.flags = i.ifi_flags;
  l.carrier = i.ifi_flags & kIffLowerUp;
  TRY(for_each_attr(m.payload, sizeof i, "RTM_NEWLINK", [&](u16 t, std::span<const std::byte> d) {
    if (t == IFLA_IFNAME) {
      std::string s(reinterpret_cast<const char*>(d.data()), d.size());
      l.name = s.substr(0, s.find('\0'));
    } else if (t == IFLA_ADDRESS && d.size() == 6) {
      std::memcpy(l.mac.b.data(), d.data(), 6);
      l.has_mac = true;
    } else if (t == IFLA_CARRIER && d.size() == 1) {
      l.carrier = d[0] != std::byte{0};
    }
  }));
  return l;
}

Result<AddrInfo> parse_addr(const Message& m) {
  if (m.type != RTM_NEWADDR) return make_error("netlink: message type " + std::to_string(m.type) + " is not RTM_NEWADDR");
  if (m.payload.size() < sizeof(ifaddrmsg)) return make_error("RTM_NEWADDR: payload of " + std::to_string(m.payload.size()) + " bytes, shorter than ifaddrmsg");
  ifaddrmsg i;
  std::memcpy(&i, m.payload.data(), sizeof i);
  AddrInfo a;
  a.index = static_cast<int>(i.ifa_index);
  a.prefix = i.ifa_prefixlen;
  a.scope = i.ifa_scope;
  IpAddr local, address;
  TRY(for_each_attr(m.payload, sizeof i, "RTM_NEWADDR", [&](u16 t, std::span<const std::byte> d) {
    if (t == IFA_LOCAL) local = ip_from(i.ifa_family, d);
    else if (t == IFA_ADDRESS) address = ip_from(i.ifa_family, d);
  }));
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
  // point-to-point links and the same as IFA_LOCAL otherwise.
  a.addr = local.empty() ? address : local;
  if (a.addr.empty()) return make_error("RTM_NEWADDR: no IFA_LOCAL or IFA_ADDRESS of family " + std::to_string(i.ifa_family));
  return a;
}

Result<RouteInfo> parse_route(const Message& m) {
  if (m.type != RTM_NEWROUTE) return make_error("netlink: message type " + std::to_string(m.type) + " is not RTM_NEWROUTE");
  if (m.payload.size() < sizeof(rtmsg)) return make_error("RTM_NEWROUTE: payload of " + std::to_string(m.payload.size()) + " bytes, shorter than rtmsg");
  rtmsg r;
  std::memcpy(&r, m.payload.data(), sizeof r);
  RouteInfo ri;
  ri.dst_len = r.rtm_dst_len;
  ri.table = r.rtm_table;
  ri.type = r.rtm_type;
  ri.dst.family = r.rtm_family;  // zeros: the default route
  TRY(for_each_attr(m.payload, sizeof r, "RTM_NEWROUTE", [&](u16 t, std::span<const std::byte> d) {
    if (t == RTA_DST) ri.dst = ip_from(r.rtm_family, d);
    else if (t == RTA_GATEWAY) ri.gateway = ip_from(r.rtm_family, d);
    else if (t == RTA_PREFSRC) ri.prefsrc = ip_from(r.rtm_family, d);
    else if (t == RTA_OIF) ri.oif = static_cast<int>(u32_from(d));
    else if (t == RTA_TABLE) ri.table = u32_from(d);
  }));
  return ri;
}

// ---- the socket ------------------------------------------------------------------

Result<Netlink> Netlink::open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return Error::from_errno("socket(AF_NETLINK, NETLINK_ROUTE)");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    Error e = Error::from_errno("bind(AF_NETLINK)");
    ::close(fd);
    return e;
  }
  // Ask for extended ACKs: the kernel then says why it refused (5.x+).
  int one = 1;
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  return Netlink(fd);
}

Netlink::~Netlink() {
  if (fd_ >= 0) ::close(fd_);
}

// Sends `msg`, collects the answers with its sequence number until the ACK
// (or NLMSG_DONE for a dump). Times out after 5 s: the kernel answers at
// once, so a silence means something is badly wrong.
Result<std::vector<Bytes>> Netlink::request(Bytes msg, bool dump, const std::string& what) {
  u32 seq;
  std::memcpy(&seq, msg.data() + offsetof(nlmsghdr, nlmsg_seq), sizeof seq);
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  if (::sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return Error::from_errno(what + ": sendto netlink");
  std::vector<Bytes> out;
  std::vector<std::byte> buf(64 * 1024);
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int pr = ::poll(&p, 1, 5000);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return make_error(what + ": no answer from the kernel in 5 s");
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(what + ": recv netlink");
    ASSIGN_OR_RETURN(auto msgs, split_messages(std::span(buf.data(), static_cast<size_t>(n))).context(what));
    for (const auto& m : msgs) {
      if (m.seq != seq) continue;  // a stale answer to an earlier, timed-out request
      if (m.type == NLMSG_DONE) return out;
      if (m.type == NLMSG_ERROR) {
        ASSIGN_OR_RETURN(int err, parse_error(m).context(what));
        if (err != 0) return Error::from_errno(what, err);
        return out;  // ACK
      }
      out.emplace_back(m.payload.begin(), m.payload.end());
      // Keep the type: re-wrap as a message by prefixing a header copy.
      nlmsghdr h{};
      h.nlmsg_len = static_cast<u32>(sizeof h + m.payload.size());
      h.nlmsg_type = m.type;
      h.nlmsg_seq = m.seq;
      out.back().insert(out.back().begin(), reinterpret_cast<const std::byte*>(&h),
                        reinterpret_cast<const std::byte*>(&h) + sizeof h);
      if (!dump && !(m.flags & NLM_F_MULTI)) return out;  // a single answer (RTM_GETROUTE)
    }
  }
}

Result<void> Netlink::request_ack(Bytes msg, const std::string& what) {
  ASSIGN_OR_RETURN(auto unused, request(std::move(msg), false, what));
  (void)unused;
  return Ok();
}

namespace {
template <typename T, typename P>
Result<std::vector<T>> parse_all(const std::vector<Bytes>& raw, u16 type, P parse) {
  std::vector<T> out;
  for (const auto& r : raw) {
    ASSIGN_OR_RETURN(auto msgs, split_messages(r));
    for (const auto& m : msgs) {
      if (m.type != type) continue;
      ASSIGN_OR_RETURN(T v, parse(m));
      out.push_back(std::move(v));
    }
  }
  return out;
}
}  // namespace

Result<std::vector<LinkInfo>> Netlink::links() {
  ASSIGN_OR_RETURN(auto raw, request(build_dump(next_seq(), RTM_GETLINK, AF_UNSPEC), true, "listing links"));
  return parse_all<LinkInfo>(raw, RTM_NEWLINK, parse_link);
}

Result<std::vector<AddrInfo>> Netlink::addrs(int family) {
  ASSIGN_OR_RETURN(auto raw, request(build_dump(next_seq(), RTM_GETADDR, family), true, "listing addresses"));
  return parse_all<AddrInfo>(raw, RTM_NEWADDR, parse_addr);
}

Result<std::vector<RouteInfo>> Netlink::routes(int family) {
  ASSIGN_OR_RETURN(auto raw, request(build_dump(next_seq(), RTM_GETROUTE, family), true, "listing routes"));
  return parse_all<RouteInfo>(raw, RTM_NEWROUTE, parse_route);
}

Result<RouteInfo> Netlink::route_to(const IpAddr& dst) {
  const std::string what = "route to " + dst.to_string();
  ASSIGN_OR_RETURN(auto raw, request(build_get_route(next_seq(), dst), false, what));
  ASSIGN_OR_RETURN(auto rs, (parse_all<RouteInfo>(raw, RTM_NEWROUTE, parse_route)));
  if (rs.empty()) return make_error(what + ": the kernel gave no route");
  return rs.front();
}

Result<LinkInfo> Netlink::link(int index) {
  ASSIGN_OR_RETURN(auto all, links());
  for (auto& l : all)
    if (l.index == index) return l;
  return make_error("no interface with index " + std::to_string(index));
}

Result<void> Netlink::set_up(int index) {
  return request_ack(build_link_up(next_seq(), index), "setting link " + std::to_string(index) + " up");
}

Result<void> Netlink::add_addr(int index, const IpAddr& a, unsigned prefix) {
  return request_ack(build_add_addr(next_seq(), index, a, prefix),
                     "adding " + a.to_string() + "/" + std::to_string(prefix) + " to link " + std::to_string(index));
}

Result<void> Netlink::del_addr(int index, const IpAddr& a, unsigned prefix) {
  return request_ack(build_del_addr(next_seq(), index, a, prefix),
                     "removing " + a.to_string() + "/" + std::to_string(prefix) + " from link " + std::to_string(index));
}

Result<void> Netlink::add_route(const IpAddr& dst, unsigned dst_len, const IpAddr& gw, int oif) {
  std::string d = dst_len ? dst.to_string() + "/" + std::to_string(dst_len) : std::string("default");
  return request_ack(build_add_route(next_seq(), dst, dst_len, gw, oif),
                     "adding route " + d + (gw.empty() ? "" : " via " + gw.to_string()) + " dev " + std::to_string(oif));
}

Result<LinkInfo> find_link(const std::vector<LinkInfo>& links, std::string_view spec) {
  auto mac = parse_mac(spec);
  for (const auto& l : links) {
    if (mac.ok() ? (l.has_mac && l.mac == *mac) : l.name == spec) return l;
  }
  std::string seen;
  for (const auto& l : links) seen += (seen.empty() ? "" : ", ") + l.name + (l.has_mac ? " " + l.mac.to_string() : "");
  return make_error("no network interface " + std::string(mac.ok() ? "with MAC " : "named ") + std::string(spec) +
                    " (there are: " + (seen.empty() ? "none" : seen) + ")");
}

}  // namespace salvage::net

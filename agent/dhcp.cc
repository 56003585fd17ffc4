// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/dhcp.h"

#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace salvage::net {

namespace {

constexpr u8 kMagic[4] = {99, 130, 83, 99};
enum Opt : u8 {
  kPad = 0, kSubnetMask = 1, kRouter = 3, kRequestedIp = 50, kLeaseTime = 51, kOverload = 52, kMsgType = 53,
  kServerId = 54, kParamList = 55, kEnd = 255,
};

void put_be16(std::byte* p, u16 v) { p[0] = std::byte(v >> 8), p[1] = std::byte(v & 0xff); }
void put_be32(std::byte* p, u32 v) {
  for (int i = 0; i < 4; ++i) p[i] = std::byte((v >> (24 - 8 * i)) & 0xff);
}
u16 get_be16(const std::byte* p) { return static_cast<u16>(u16(p[0]) << 8 | u16(p[1])); }
u32 get_be32(const std::byte* p) {
  return u32(p[0]) << 24 | u32(p[1]) << 16 | u32(p[2]) << 8 | u32(p[3]);
}
void put_ip(std::byte* p, const IpAddr& a) {
  if (a.family == AF_INET) std::memcpy(p, a.b.data(), 4);
}
IpAddr get_ip(const std::byte* p) {
  IpAddr a;
  a.family = AF_INET;
  std::memcpy(a.b.data(), p, 4);
  return a;
}
bool is_zero(const IpAddr& a) { return a.family == AF_INET && !a.b[0] && !a.b[1] && !a.b[2] && !a.b[3]; }

std::string at(size_t off) { return " at offset " + std::to_string(off); }

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

const char* dhcp_type_name(DhcpType t) {
  switch (t) {
    case DhcpType::kDiscover: return "DHCPDISCOVER";
    case DhcpType::kOffer: return "DHCPOFFER";
    case DhcpType::kRequest: return "DHCPREQUEST";
    case DhcpType::kDecline: return "DHCPDECLINE";
    case DhcpType::kAck: return "DHCPACK";
    case DhcpType::kNak: return "DHCPNAK";
    case DhcpType::kRelease: return "DHCPRELEASE";
    case DhcpType::kInform: return "DHCPINFORM";
  }
  return "DHCP?";
}

std::vector<std::byte> encode_dhcp(const DhcpPacket& p) {
  std::vector<std::byte> b(kDhcpOptionsOffset);
  b[kDhcpOffOp] = std::byte(p.op);
  b[kDhcpOffHtype] = std::byte(1);  // Ethernet
  b[kDhcpOffHlen] = std::byte(6);
  put_be32(&b[kDhcpOffXid], p.xid);
  put_be16(&b[kDhcpOffSecs], p.secs);
  put_be16(&b[kDhcpOffFlags], p.flags);
  put_ip(&b[kDhcpOffCiaddr], p.ciaddr);
  put_ip(&b[kDhcpOffYiaddr], p.yiaddr);
  put_ip(&b[kDhcpOffSiaddr], p.siaddr);
  std::memcpy(&b[kDhcpOffChaddr], p.chaddr.b.data(), 6);
  std::memcpy(&b[kDhcpOffMagic], kMagic, 4);
  auto opt = [&](u8 code, const void* data, size_t len) {
    b.push_back(std::byte(code));
    b.push_back(std::byte(len));
    const auto* c = static_cast<const std::byte*>(data);
    b.insert(b.end(), c, c + len);
  };
  const u8 type = static_cast<u8>(p.type);
  opt(kMsgType, &type, 1);
  if (!p.requested_ip.empty()) opt(kRequestedIp, p.requested_ip.b.data(), 4);
  if (!p.server_id.empty()) opt(kServerId, p.server_id.b.data(), 4);
  if (!p.subnet_mask.empty()) opt(kSubnetMask, p.subnet_mask.b.data(), 4);
  if (!p.router.empty()) opt(kRouter, p.router.b.data(), 4);
  if (p.lease_s) {
    std::byte l[4];
    put_be32(l, p.lease_s);
    opt(kLeaseTime, l, 4);
  }
  if (p.param_request) {
    const u8 want[] = {kSubnetMask, kRouter, kLeaseTime, kServerId};
    opt(kParamList, want, sizeof want);
  }
  b.push_back(std::byte(kEnd));
  if (b.size() < kDhcpMinSize) b.resize(kDhcpMinSize);  // zero padding (option 0)
  return b;
}

Result<DhcpPacket> parse_dhcp(std::span<const std::byte> b) {
  if (b.size() < kDhcpOptionsOffset)
    return make_error("DHCP packet of " + std::to_string(b.size()) + " bytes is shorter than its fixed part and cookie (" +
                      std::to_string(kDhcpOptionsOffset) + ")");
  DhcpPacket p;
  p.op = static_cast<u8>(b[kDhcpOffOp]);
  if (p.op != 1 && p.op != 2) return make_error("DHCP op " + std::to_string(p.op) + at(kDhcpOffOp) + " is not 1 or 2");
  if (b[kDhcpOffHtype] != std::byte(1) || b[kDhcpOffHlen] != std::byte(6))
    return make_error("DHCP htype/hlen " + std::to_string(u8(b[kDhcpOffHtype])) + "/" + std::to_string(u8(b[kDhcpOffHlen])) +
                      at(kDhcpOffHtype) + " is not Ethernet (1/6)");
  if (std::memcmp(&b[kDhcpOffMagic], kMagic, 4) != 0) return make_error("DHCP magic cookie" + at(kDhcpOffMagic) + " is not 99.130.83.99");
  p.xid = get_be32(&b[kDhcpOffXid]);
  p.secs = get_be16(&b[kDhcpOffSecs]);
  p.flags = get_be16(&b[kDhcpOffFlags]);
  p.ciaddr = get_ip(&b[kDhcpOffCiaddr]);
  p.yiaddr = get_ip(&b[kDhcpOffYiaddr]);
  p.siaddr = get_ip(&b[kDhcpOffSiaddr]);
  std::memcpy(p.chaddr.b.data(), &b[kDhcpOffChaddr], 6);

  bool have_type = false, ended = false;
  size_t off = kDhcpOptionsOffset;
  while (off < b.size()) {
    const u8 code = static_cast<u8>(b[off]);
    if (code == kPad) { ++off; continue; }
    if (code == kEnd) { ended = true; break; }
    if (off + 1 >= b.size()) return make_error("DHCP option " + std::to_string(code) + at(off) + " has no length byte");
    const size_t len = static_cast<u8>(b[off + 1]);
    if (len > b.size() - off - 2)
      return make_error("DHCP option " + std::to_string(code) + at(off) + ": length " + std::to_string(len) +
                        " runs past the end of the " + std::to_string(b.size()) + "-byte packet");
    const std::byte* d = &b[off + 2];
    auto need = [&](const char* name, size_t n, bool multiple) -> Result<void> {
      if (multiple ? (len < n || len % n) : len != n)
        return make_error(std::string("DHCP option ") + std::to_string(code) + " (" + name + ")" + at(off) + ": length " +
                          std::to_string(len) + ", expected " + (multiple ? "a multiple of " : "") + std::to_string(n));
      return Ok();
    };
    switch (code) {
      case kMsgType:
        TRY(need("message type", 1, false));
        if (u8(d[0]) < 1 || u8(d[0]) > 8)
          return make_error("DHCP message type " + std::to_string(u8(d[0])) + at(off + 2) + " is not 1..8");
        p.type = static_cast<DhcpType>(d[0]);
        have_type = true;
        break;
      case kSubnetMask: TRY(need("subnet mask", 4, false)); p.subnet_mask = get_ip(d); break;
      case kRouter: TRY(need("router", 4, true)); p.router = get_ip(d); break;
      case kRequestedIp: TRY(need("requested address", 4, false)); p.requested_ip = get_ip(d); break;
      case kServerId: TRY(need("server identifier", 4, false)); p.server_id = get_ip(d); break;
      case kLeaseTime: TRY(need("lease time", 4, false)); p.lease_s = get_be32(d); break;
      case kParamList: p.param_request = true; break;
      default: break;  // kOverload and the rest: not needed for a lease
    }
    off += 2 + len;
  }
  if (!ended) return make_error("DHCP options" + at(kDhcpOptionsOffset) + " have no end option (255) before the end of the packet");
  if (!have_type) return make_error("DHCP packet has no message type option (53)");
  return p;
}

Result<unsigned> mask_to_prefix(const IpAddr& mask) {
  if (mask.family != AF_INET) return make_error("subnet mask is not an IPv4 address");
  u32 m = u32(mask.b[0]) << 24 | u32(mask.b[1]) << 16 | u32(mask.b[2]) << 8 | u32(mask.b[3]);
  unsigned prefix = static_cast<unsigned>(__builtin_popcount(m));
  u32 expect = prefix ? ~u32{0} << (32 - prefix) : 0;
  if (m != expect) return make_error("subnet mask " + mask.to_string() + " is not contiguous");
  return prefix;
}

std::string DhcpLease::describe() const {
  return addr.to_string() + "/" + std::to_string(prefix) + (router.empty() ? "" : " via " + router.to_string()) +
         " from " + server.to_string() + ", lease " + std::to_string(lease_s) + " s";
}

Result<DhcpLease> lease_from_ack(const DhcpPacket& ack) {
  if (ack.type != DhcpType::kAck) return make_error(std::string("expected DHCPACK, got ") + dhcp_type_name(ack.type));
  if (ack.yiaddr.empty() || is_zero(ack.yiaddr)) return make_error("DHCPACK offers no address (yiaddr 0.0.0.0)");
  DhcpLease l;
  l.addr = ack.yiaddr;
  if (!ack.subnet_mask.empty()) {
    ASSIGN_OR_RETURN(l.prefix, mask_to_prefix(ack.subnet_mask));
  } else {
    // No option 1: the classful default (RFC 2131 leaves it to the client).
    l.prefix = ack.yiaddr.b[0] < 128 ? 8 : ack.yiaddr.b[0] < 192 ? 16 : 24;
  }
  if (!ack.router.empty() && !is_zero(ack.router)) l.router = ack.router;
  l.server = ack.server_id.empty() ? ack.siaddr : ack.server_id;
  l.lease_s = ack.lease_s;
  return l;
}

// ---- the client ----------------------------------------------------------------

namespace {

class UdpSocket {
 public:
  ~UdpSocket() { if (fd >= 0) ::close(fd); }
  int fd = -1;
};

Result<void> open_socket(UdpSocket& s, const std::string& ifname) {
  s.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return Error::from_errno("DHCP socket");
  int one = 1;
  if (::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return Error::from_errno("SO_REUSEADDR");
  if (::setsockopt(s.fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0) return Error::from_errno("SO_BROADCAST");
  if (::setsockopt(s.fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size() + 1)) != 0)
    return Error::from_errno("SO_BINDTODEVICE " + ifname);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(68);
  sa.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(s.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return Error::from_errno("bind 0.0.0.0:68");
  return Ok();
}

Result<void> send_broadcast(int fd, const DhcpPacket& p) {
  auto bytes = encode_dhcp(p);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(67);
  to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
  if (::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return Error::from_errno(std::string("sending ") + dhcp_type_name(p.type));
  return Ok();
}

// Waits until `until` for a reply of one of the wanted types to our xid.
// Returns an empty-family result (type kDiscover) on timeout.
Result<DhcpPacket> wait_reply(int fd, u32 xid, const MacAddr& mac, double until, std::initializer_list<DhcpType> want,
                              const DhcpOptions& o) {
  std::vector<std::byte> buf(1500);
  for (;;) {
    double left = until - now_s();
    if (left <= 0) return make_error("timeout");
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::from_errno("poll");
    if (r == 0) continue;
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Error::from_errno("recv");
    }
    auto pk = parse_dhcp(std::span(buf.data(), static_cast<size_t>(n)));
    if (!pk.ok()) {
      if (o.say) o.say("ignoring a bad DHCP packet: " + pk.error().message);
      continue;
    }
    if (pk->op != 2 || pk->xid != xid || pk->chaddr != mac) continue;  // someone else's
    if (std::find(want.begin(), want.end(), pk->type) != want.end()) return pk;
  }
}

u32 make_xid(const MacAddr& mac) {
  u32 x = 0;
  // GRND_NONBLOCK: a capture kernel's pool may not be initialised, and the
  // xid needs uniqueness, not secrecy.
  if (::getrandom(&x, sizeof x, GRND_NONBLOCK) == sizeof x) return x;
  u64 t = static_cast<u64>(now_s() * 1e9);
  for (u8 c : mac.b) t = t * 131 + c;
  return static_cast<u32>(t ^ (t >> 32));
}

}  // namespace

Result<DhcpLease> dhcp_acquire(const DhcpOptions& o) {
  UdpSocket s;
  TRY(open_socket(s, o.ifname));
  const double start = now_s(), end = start + o.timeout_s;
  double wait = o.first_wait_s;
  const u32 xid = make_xid(o.mac);
  std::string last = "no answer";
  for (int attempt = 1; now_s() < end; ++attempt) {
    DhcpPacket d;
    d.op = 1;
    d.xid = xid;
    d.secs = static_cast<u16>(std::min(65535.0, now_s() - start));
    d.flags = kDhcpBroadcastFlag;
    d.chaddr = o.mac;
    d.type = DhcpType::kDiscover;
    d.param_request = true;
    if (o.say) o.say(o.ifname + ": " + dhcp_type_name(d.type) + " (try " + std::to_string(attempt) + ")");
    TRY(send_broadcast(s.fd, d));
    const double until = std::min(end, now_s() + wait);
    wait = std::min(wait * 2, o.max_wait_s);
    auto offer = wait_reply(s.fd, xid, o.mac, until, {DhcpType::kOffer}, o);
    if (!offer.ok()) {
      last = "no DHCPOFFER (" + offer.error().message + ")";
      continue;
    }
    if (offer->yiaddr.empty() || is_zero(offer->yiaddr)) { last = "a DHCPOFFER without an address"; continue; }
    IpAddr server = offer->server_id.empty() ? offer->siaddr : offer->server_id;
    if (o.say) o.say(o.ifname + ": DHCPOFFER of " + offer->yiaddr.to_string() + " from " + server.to_string());

    DhcpPacket rq = d;
    rq.type = DhcpType::kRequest;
    rq.requested_ip = offer->yiaddr;
    rq.server_id = server;
    rq.secs = static_cast<u16>(std::min(65535.0, now_s() - start));
    TRY(send_broadcast(s.fd, rq));
    auto ack = wait_reply(s.fd, xid, o.mac, std::min(end, now_s() + std::max(wait, 2.0)), {DhcpType::kAck, DhcpType::kNak}, o);
    if (!ack.ok()) { last = "no DHCPACK (" + ack.error().message + ")"; continue; }
    if (ack->type == DhcpType::kNak) { last = "DHCPNAK from " + server.to_string(); continue; }
    ASSIGN_OR_RETURN(DhcpLease l, lease_from_ack(*ack));
    return l;
  }
  return make_error(o.ifname + ": no DHCP lease within " + std::to_string(static_cast<int>(o.timeout_s)) + " s (" + last + ")");
}

}  // namespace salvage::net

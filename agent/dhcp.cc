// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/dhcp.h"

#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>

namespace salvage::net {

namespace {

constexpr u8 kMagic[4] = {99, 130, 83, 99};
enum Opt : u8 {
  kPad = 0, kSubnetMask = 1, kRouter = 3, kRequestedIp = 50, kLeaseTime = 51, kOverload = 52, kMsgType = 53,
  kServerId = 54, kParamList = 55, kRenewalTime = 58, kRebindingTime = 59, kEnd = 255,
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
  auto opt32 = [&](u8 code, u32 v) {
    std::byte l[4];
    put_be32(l, v);
    opt(code, l, 4);
  };
  if (p.lease_s) opt32(kLeaseTime, p.lease_s);
  if (p.renewal_s) opt32(kRenewalTime, p.renewal_s);
  if (p.rebinding_s) opt32(kRebindingTime, p.rebinding_s);
  if (p.param_request) {
    const u8 want[] = {kSubnetMask, kRouter, kLeaseTime, kServerId, kRenewalTime, kRebindingTime};
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
      case kRenewalTime: TRY(need("renewal time", 4, false)); p.renewal_s = get_be32(d); break;
      case kRebindingTime: TRY(need("rebinding time", 4, false)); p.rebinding_s = get_be32(d); break;
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
  l.t1_s = ack.renewal_s;
  l.t2_s = ack.rebinding_s;
  return l;
}

// ---- timers (pure) -------------------------------------------------------------

DhcpTimers dhcp_timers(const DhcpLease& l) {
  DhcpTimers t;
  if (l.lease_s == 0 || l.lease_s == kDhcpInfiniteLease) {
    t.infinite = true;
    return t;
  }
  const double lease = l.lease_s;
  t.expiry = lease;
  t.t2 = (l.t2_s && l.t2_s < l.lease_s) ? l.t2_s : lease * 7 / 8;
  t.t1 = (l.t1_s && l.t1_s < t.t2) ? l.t1_s : lease / 2 < t.t2 ? lease / 2 : t.t2 / 2;
  t.min_retry = std::clamp(lease / 16, 1.0, 60.0);
  return t;
}

const char* dhcp_step_name(DhcpStep s) {
  switch (s) {
    case DhcpStep::kWait: return "wait";
    case DhcpStep::kRenew: return "renew";
    case DhcpStep::kRebind: return "rebind";
    case DhcpStep::kExpired: return "expired";
  }
  return "?";
}

DhcpAction dhcp_next_action(const DhcpTimers& t, double granted_at, double now, double last_sent) {
  if (t.infinite) return {DhcpStep::kWait, std::numeric_limits<double>::infinity()};
  const double r = now - granted_at, sent = last_sent - granted_at;
  if (r >= t.expiry) return {DhcpStep::kExpired, now};
  if (r < t.t1) return {DhcpStep::kWait, granted_at + t.t1};
  const bool renewing = r < t.t2;
  const double begin = renewing ? t.t1 : t.t2, end = renewing ? t.t2 : t.expiry;
  const DhcpStep step = renewing ? DhcpStep::kRenew : DhcpStep::kRebind;
  if (sent < begin) return {step, now};  // nothing sent in this phase yet
  const double retry = std::min(end, sent + std::max((end - sent) / 2, t.min_retry));
  if (r >= retry) return {step, now};  // retry < end here: r < end
  return {DhcpStep::kWait, granted_at + retry};
}

DhcpPacket dhcp_renew_request(const DhcpLease& l, const MacAddr& mac, u32 xid, u16 secs) {
  DhcpPacket p;
  p.op = 1;
  p.xid = xid;
  p.secs = secs;
  p.flags = 0;  // we have an address: unicast replies reach us
  p.ciaddr = l.addr;
  p.chaddr = mac;
  p.type = DhcpType::kRequest;
  p.param_request = true;
  return p;
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

// To the server's port 67 at `to` (empty: the limited broadcast).
Result<void> send_to(int fd, const DhcpPacket& p, const IpAddr& to_addr) {
  auto bytes = encode_dhcp(p);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(67);
  if (to_addr.empty()) to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
  else std::memcpy(&to.sin_addr.s_addr, to_addr.b.data(), 4);
  if (::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return Error::from_errno(std::string("sending ") + dhcp_type_name(p.type) + " to " +
                             (to_addr.empty() ? std::string("255.255.255.255") : to_addr.to_string()));
  return Ok();
}
Result<void> send_broadcast(int fd, const DhcpPacket& p) { return send_to(fd, p, {}); }

constexpr const char* kStopped = "stopped";

// Waits until `until` for a reply of one of the wanted types to our xid;
// an error "timeout" when none came, kStopped when stop_fd (-1: none)
// became readable.
Result<DhcpPacket> wait_reply(int fd, int stop_fd, u32 xid, const MacAddr& mac, double until,
                              std::initializer_list<DhcpType> want, const std::function<void(const std::string&)>& say) {
  std::vector<std::byte> buf(1500);
  for (;;) {
    double left = until - now_s();
    if (left <= 0) return make_error("timeout");
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int r = ::poll(p, stop_fd >= 0 ? 2 : 1, static_cast<int>(std::min(left, 3600.0) * 1000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::from_errno("poll");
    if (stop_fd >= 0 && p[1].revents) return make_error(kStopped);
    if (r == 0 || !p[0].revents) continue;
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Error::from_errno("recv");
    }
    auto pk = parse_dhcp(std::span(buf.data(), static_cast<size_t>(n)));
    if (!pk.ok()) {
      if (say) say("ignoring a bad DHCP packet: " + pk.error().message);
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

bool stopped(const Error& e) { return e.message == kStopped; }

// DISCOVER ... ACK on an open socket (the first lease, and a rediscovery
// by the keeper, which holds port 68 already).
Result<DhcpLease> acquire_on(int fd, int stop_fd, const DhcpOptions& o) {
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
    TRY(send_broadcast(fd, d));
    const double until = std::min(end, now_s() + wait);
    wait = std::min(wait * 2, o.max_wait_s);
    auto offer = wait_reply(fd, stop_fd, xid, o.mac, until, {DhcpType::kOffer}, o.say);
    if (!offer.ok()) {
      if (stopped(offer.error())) return offer.error();
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
    const double sent_at = now_s();
    TRY(send_broadcast(fd, rq));
    auto ack = wait_reply(fd, stop_fd, xid, o.mac, std::min(end, now_s() + std::max(wait, 2.0)),
                          {DhcpType::kAck, DhcpType::kNak}, o.say);
    if (!ack.ok()) {
      if (stopped(ack.error())) return ack.error();
      last = "no DHCPACK (" + ack.error().message + ")";
      continue;
    }
    if (ack->type == DhcpType::kNak) { last = "DHCPNAK from " + server.to_string(); continue; }
    ASSIGN_OR_RETURN(DhcpLease l, lease_from_ack(*ack));
    l.granted_at = sent_at;
    return l;
  }
  return make_error(o.ifname + ": no DHCP lease within " + std::to_string(static_cast<int>(o.timeout_s)) + " s (" + last + ")");
}

}  // namespace

Result<DhcpLease> dhcp_acquire(const DhcpOptions& o) {
  UdpSocket s;
  TRY(open_socket(s, o.ifname));
  return acquire_on(s.fd, -1, o);
}

// ---- the keeper ----------------------------------------------------------------

struct DhcpKeeper::State {
  DhcpKeepOptions o;
  UdpSocket sock;
  int stop_fd = -1;  // eventfd: written once by the destructor
  mutable std::mutex mu;
  DhcpLease lease;  // guarded by mu (written by the thread, read by lease())
  std::thread thread;

  ~State() {
    if (stop_fd >= 0) ::close(stop_fd);
  }
  void say(const std::string& s) const {
    if (o.say) o.say(o.ifname + ": " + s);
  }
  DhcpLease current() const {
    std::lock_guard<std::mutex> g(mu);
    return lease;
  }
  // Sleeps until `until`; false when asked to stop.
  bool sleep_until(double until) const {
    for (;;) {
      const double left = until - now_s();
      if (left <= 0) return true;
      pollfd p{stop_fd, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min(left, 3600.0) * 1000) + 1);
      if (r > 0) return false;
      if (r < 0 && errno != EINTR) return true;
    }
  }
  // A lease that replaces the current one; configured first when it moved us.
  void take(const DhcpLease& fresh) {
    const DhcpLease old = current();
    if (fresh.addr != old.addr || fresh.prefix != old.prefix || fresh.router != old.router) {
      say("new lease " + fresh.describe() + " (was " + old.addr.to_string() + "/" + std::to_string(old.prefix) + ")");
      if (o.apply)
        if (auto r = o.apply(fresh, old); !r.ok()) say("configuring the new lease: " + r.error().message);
    }
    std::lock_guard<std::mutex> g(mu);
    lease = fresh;
  }
  // After a NAK or the expiry: discover again, as long as it takes.
  bool rediscover() {
    DhcpOptions d;
    d.ifname = o.ifname;
    d.mac = o.mac;
    d.timeout_s = 60;
    d.first_wait_s = o.first_wait_s;
    d.max_wait_s = o.max_wait_s;
    d.say = o.say;
    for (;;) {
      auto l = acquire_on(sock.fd, stop_fd, d);
      if (l.ok()) {
        take(*l);
        say("lease again: " + l->describe());
        return true;
      }
      if (stopped(l.error())) return false;
      say(l.error().message + "; still trying");
    }
  }
  void run() {
    double last_sent = -std::numeric_limits<double>::infinity();
    std::string last_error;
    for (;;) {
      const DhcpLease l = current();
      const DhcpTimers t = dhcp_timers(l);
      const DhcpAction a = dhcp_next_action(t, l.granted_at, now_s(), last_sent);
      if (a.step == DhcpStep::kWait) {
        if (!sleep_until(a.at)) return;
        continue;
      }
      if (a.step == DhcpStep::kExpired) {
        say("DHCP lease of " + l.addr.to_string() + " expired without renewal; discovering again");
        if (!rediscover()) return;
        last_sent = -std::numeric_limits<double>::infinity();
        continue;
      }
      const bool rebind = a.step == DhcpStep::kRebind;
      const u32 xid = make_xid(o.mac);
      const double phase = l.granted_at + (rebind ? t.t2 : t.t1);
      last_sent = now_s();
      const DhcpPacket rq =
          dhcp_renew_request(l, o.mac, xid, static_cast<u16>(std::clamp(last_sent - phase, 0.0, 65535.0)));
      // RENEWING asks the server that granted the lease; REBINDING any server.
      if (auto r = send_to(sock.fd, rq, rebind || l.server.empty() ? IpAddr{} : l.server); !r.ok()) {
        if (r.error().message != last_error) say(r.error().message);
        last_error = r.error().message;
      }
      // The answer may come until the next retransmission (or phase change).
      const double until = dhcp_next_action(t, l.granted_at, last_sent + 1e-3, last_sent).at;
      auto reply = wait_reply(sock.fd, stop_fd, xid, o.mac, std::max(until, last_sent + 0.1),
                              {DhcpType::kAck, DhcpType::kNak}, o.say);
      if (!reply.ok()) {
        if (stopped(reply.error())) return;
        continue;  // no answer: the next action retries or moves on
      }
      if (reply->type == DhcpType::kNak) {
        say(std::string("DHCPNAK to our ") + (rebind ? "rebinding" : "renewal") + " of " + l.addr.to_string() +
            ": lease lost; discovering again");
        if (!rediscover()) return;
        last_sent = -std::numeric_limits<double>::infinity();
        continue;
      }
      auto fresh = lease_from_ack(*reply);
      if (!fresh.ok()) {
        say("ignoring a DHCPACK: " + fresh.error().message);
        continue;
      }
      fresh->granted_at = last_sent;
      if (fresh->server.empty()) fresh->server = l.server;
      take(*fresh);
      say(std::string("DHCP lease ") + (rebind ? "rebound" : "renewed") + ": " + fresh->describe());
      last_sent = -std::numeric_limits<double>::infinity();
    }
  }
};

DhcpKeeper::DhcpKeeper(std::unique_ptr<State> s) : s_(std::move(s)) {}

Result<std::unique_ptr<DhcpKeeper>> DhcpKeeper::start(DhcpKeepOptions o, const DhcpLease& lease) {
  auto s = std::make_unique<State>();
  s->o = std::move(o);
  s->lease = lease;
  TRY(open_socket(s->sock, s->o.ifname));
  s->stop_fd = ::eventfd(0, EFD_CLOEXEC);
  if (s->stop_fd < 0) return Error::from_errno("eventfd");
  State* raw = s.get();
  s->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<DhcpKeeper>(new DhcpKeeper(std::move(s)));
}

DhcpKeeper::~DhcpKeeper() {
  const u64 one = 1;
  (void)!::write(s_->stop_fd, &one, sizeof one);
  if (s_->thread.joinable()) s_->thread.join();
}

DhcpLease DhcpKeeper::lease() const { return s_->current(); }

}  // namespace salvage::net

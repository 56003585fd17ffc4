// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/dhcp.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sched.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>

#include "tests/unit/netns.h"

using namespace salvage;
using namespace salvage::net;

namespace {

IpAddr ip(const char* s) { return parse_ip(s).value(); }

DhcpPacket offer_for(const DhcpPacket& rq, DhcpType type) {
  DhcpPacket o;
  o.op = 2;
  o.xid = rq.xid;
  o.flags = rq.flags;
  o.chaddr = rq.chaddr;
  o.type = type;
  o.yiaddr = ip("10.9.0.50");
  o.server_id = ip("10.9.0.1");
  o.subnet_mask = ip("255.255.255.0");
  o.router = ip("10.9.0.1");
  o.lease_s = 600;
  return o;
}

}  // namespace

TEST(Dhcp, DiscoverIsByteExact) {
  DhcpPacket d;
  d.xid = 0x11223344;
  d.flags = kDhcpBroadcastFlag;
  d.chaddr = parse_mac("52:54:00:12:34:56").value();
  d.param_request = true;
  auto b = encode_dhcp(d);
  ASSERT_EQ(b.size(), kDhcpMinSize);  // padded to the BOOTP minimum
  EXPECT_EQ(b[0], std::byte(1));
  EXPECT_EQ(b[1], std::byte(1));
  EXPECT_EQ(b[2], std::byte(6));
  EXPECT_EQ(b[4], std::byte(0x11));  // xid big-endian
  EXPECT_EQ(b[7], std::byte(0x44));
  EXPECT_EQ(b[10], std::byte(0x80));  // broadcast flag
  EXPECT_EQ(b[28], std::byte(0x52));
  EXPECT_EQ(b[33], std::byte(0x56));
  const int opts[] = {99, 130, 83, 99, 53, 1, 1, 55, 6, 1, 3, 51, 54, 58, 59, 255};
  for (size_t i = 0; i < std::size(opts); ++i) EXPECT_EQ(b[236 + i], std::byte(opts[i])) << "byte " << 236 + i;
  for (size_t i = 236 + std::size(opts); i < b.size(); ++i) ASSERT_EQ(b[i], std::byte(0));
}

TEST(Dhcp, RoundTripsAnAck) {
  DhcpPacket rq;
  rq.xid = 42;
  rq.chaddr = parse_mac("52:54:00:12:34:56").value();
  auto ack = offer_for(rq, DhcpType::kAck);
  auto p = parse_dhcp(encode_dhcp(ack));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->op, 2);
  EXPECT_EQ(p->xid, 42u);
  EXPECT_EQ(p->type, DhcpType::kAck);
  EXPECT_EQ(p->yiaddr, ip("10.9.0.50"));
  EXPECT_EQ(p->lease_s, 600u);
  auto l = lease_from_ack(*p);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->describe(), "10.9.0.50/24 via 10.9.0.1 from 10.9.0.1, lease 600 s");
}

TEST(Dhcp, RenewalAndRebindingTimesRoundTrip) {
  DhcpPacket rq;
  rq.chaddr = parse_mac("52:54:00:12:34:56").value();
  auto ack = offer_for(rq, DhcpType::kAck);
  ack.renewal_s = 200;
  ack.rebinding_s = 500;
  auto b = encode_dhcp(ack);
  // Options 58 and 59 follow 51 (lease) in the encoding: 58, 4, 0,0,0,200, 59, 4, 0,0,1,244.
  const std::byte want[] = {std::byte(58), std::byte(4), std::byte(0), std::byte(0), std::byte(0), std::byte(200),
                            std::byte(59), std::byte(4), std::byte(0), std::byte(0), std::byte(1), std::byte(244)};
  EXPECT_NE(std::search(b.begin(), b.end(), std::begin(want), std::end(want)), b.end());
  auto p = parse_dhcp(b);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->renewal_s, 200u);
  EXPECT_EQ(p->rebinding_s, 500u);
  auto l = lease_from_ack(*p).value();
  EXPECT_EQ(l.t1_s, 200u);
  EXPECT_EQ(l.t2_s, 500u);
  // A 2-byte T1 is an error naming the option and its offset.
  auto at = std::search(b.begin(), b.end(), std::begin(want), std::begin(want) + 2) - b.begin();
  b[static_cast<size_t>(at) + 1] = std::byte(2);
  auto bad = parse_dhcp(b);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("option 58 (renewal time) at offset " + std::to_string(at) + ": length 2, expected 4"),
            std::string::npos)
      << bad.error().message;
}

TEST(Dhcp, RenewRequestIsUnicastShaped) {
  DhcpLease l;
  l.addr = ip("10.9.0.50");
  l.server = ip("10.9.0.1");
  auto p = dhcp_renew_request(l, parse_mac("52:54:00:12:34:56").value(), 0xabcdef01, 7);
  auto b = encode_dhcp(p);
  EXPECT_EQ(b[kDhcpOffFlags], std::byte(0));  // no broadcast flag: we have an address
  EXPECT_EQ(b[kDhcpOffFlags + 1], std::byte(0));
  const std::byte ci[] = {std::byte(10), std::byte(9), std::byte(0), std::byte(50)};
  EXPECT_TRUE(std::equal(std::begin(ci), std::end(ci), b.begin() + kDhcpOffCiaddr));  // ciaddr = the lease
  EXPECT_EQ(b[kDhcpOffSecs + 1], std::byte(7));
  auto back = parse_dhcp(b).value();
  EXPECT_EQ(back.type, DhcpType::kRequest);
  EXPECT_EQ(back.xid, 0xabcdef01u);
  EXPECT_TRUE(back.requested_ip.empty());  // RFC 2131 table 5: no option 50 ...
  EXPECT_TRUE(back.server_id.empty());     // ... and no option 54 when RENEWING/REBINDING
  EXPECT_TRUE(back.param_request);
}

TEST(Dhcp, TimersFromOptionsOrDefaults) {
  DhcpLease l;
  l.lease_s = 800;
  auto t = dhcp_timers(l);
  EXPECT_FALSE(t.infinite);
  EXPECT_DOUBLE_EQ(t.t1, 400);  // lease / 2
  EXPECT_DOUBLE_EQ(t.t2, 700);  // lease * 7 / 8
  EXPECT_DOUBLE_EQ(t.expiry, 800);
  EXPECT_DOUBLE_EQ(t.min_retry, 50);  // lease / 16 under RFC 2131's 60 s
  l.t1_s = 100, l.t2_s = 300;
  t = dhcp_timers(l);
  EXPECT_DOUBLE_EQ(t.t1, 100);
  EXPECT_DOUBLE_EQ(t.t2, 300);
  l.t1_s = 500, l.t2_s = 300;  // T1 after T2: T1's default (400) would be too, so half of T2
  t = dhcp_timers(l);
  EXPECT_DOUBLE_EQ(t.t1, 150);
  EXPECT_DOUBLE_EQ(t.t2, 300);
  l.t1_s = 0, l.t2_s = 900;  // T2 past the lease: its default
  t = dhcp_timers(l);
  EXPECT_DOUBLE_EQ(t.t2, 700);
  EXPECT_DOUBLE_EQ(t.t1, 400);
  l.lease_s = 86400;
  l.t1_s = l.t2_s = 0;
  EXPECT_DOUBLE_EQ(dhcp_timers(l).min_retry, 60);
  l.lease_s = 8;
  EXPECT_DOUBLE_EQ(dhcp_timers(l).min_retry, 1);
  l.lease_s = kDhcpInfiniteLease;
  EXPECT_TRUE(dhcp_timers(l).infinite);
  l.lease_s = 0;  // no lease time given
  EXPECT_TRUE(dhcp_timers(l).infinite);
}

TEST(Dhcp, NextActionWalksBoundRenewingRebindingExpired) {
  DhcpLease l;
  l.lease_s = 800;  // T1 400, T2 700, retry floor 50
  const auto t = dhcp_timers(l);
  const double g = 1000;  // granted at
  const double never = -1e300;
  auto act = [&](double now, double sent) { return dhcp_next_action(t, g, g + now, sent == never ? never : g + sent); };
  auto is = [](DhcpAction a, DhcpStep s, double at) { return a.step == s && a.at == at; };
  // BOUND: sleep until T1.
  EXPECT_TRUE(is(act(0, never), DhcpStep::kWait, g + 400));
  EXPECT_TRUE(is(act(399.5, never), DhcpStep::kWait, g + 400));
  // RENEWING: at T1, renew; then again after half the time left to T2 (150 s) ...
  EXPECT_EQ(act(400, never).step, DhcpStep::kRenew);
  EXPECT_TRUE(is(act(400.01, 400), DhcpStep::kWait, g + 550));
  EXPECT_EQ(act(550, 400).step, DhcpStep::kRenew);
  // ... halving (75 s), but never below the floor (50 s) nor past T2.
  EXPECT_TRUE(is(act(551, 550), DhcpStep::kWait, g + 625));
  EXPECT_TRUE(is(act(626, 625), DhcpStep::kWait, g + 675));
  EXPECT_TRUE(is(act(676, 675), DhcpStep::kWait, g + 700));
  // A renewal sent long ago (in BOUND) does not count as one of this phase.
  EXPECT_EQ(act(410, 100).step, DhcpStep::kRenew);
  // REBINDING: at T2, rebind (whatever was sent while renewing), retry likewise until expiry.
  EXPECT_EQ(act(700, 690).step, DhcpStep::kRebind);
  EXPECT_TRUE(is(act(700.01, 700), DhcpStep::kWait, g + 750));
  EXPECT_EQ(act(750, 700).step, DhcpStep::kRebind);
  EXPECT_TRUE(is(act(780, 770), DhcpStep::kWait, g + 800));
  // Expired.
  EXPECT_EQ(act(800, 770).step, DhcpStep::kExpired);
  EXPECT_EQ(act(5000, never).step, DhcpStep::kExpired);
  // Infinite: nothing ever.
  DhcpLease inf;
  inf.lease_s = kDhcpInfiniteLease;
  auto a = dhcp_next_action(dhcp_timers(inf), g, g + 1e9, never);
  EXPECT_EQ(a.step, DhcpStep::kWait);
  EXPECT_TRUE(std::isinf(a.at));
}

TEST(Dhcp, BadPacketsNameFieldAndOffset) {
  DhcpPacket rq;
  rq.chaddr = parse_mac("52:54:00:12:34:56").value();
  auto good = encode_dhcp(offer_for(rq, DhcpType::kOffer));
  auto err = [](std::vector<std::byte> b) {
    auto r = parse_dhcp(b);
    return r.ok() ? std::string("OK") : r.error().message;
  };
  EXPECT_NE(err({good.begin(), good.begin() + 100}).find("100 bytes is shorter than its fixed part"), std::string::npos);
  auto b = good;
  b[236] = std::byte(0);
  EXPECT_NE(err(b).find("magic cookie at offset 236"), std::string::npos) << err(b);
  b = good;
  b[0] = std::byte(3);
  EXPECT_NE(err(b).find("op 3 at offset 0"), std::string::npos);
  b = good;
  b[2] = std::byte(16);
  EXPECT_NE(err(b).find("htype/hlen 1/16 at offset 1"), std::string::npos);
  // Option 53 (at 240) with a length running past the end.
  b = {good.begin(), good.begin() + 243};
  b[241] = std::byte(9);
  EXPECT_NE(err(b).find("option 53 at offset 240: length 9 runs past the end of the 243-byte packet"), std::string::npos)
      << err(b);
  // A subnet mask of 3 bytes.
  b = good;
  b[243] = std::byte(1), b[244] = std::byte(3);
  EXPECT_NE(err(b).find("option 1 (subnet mask) at offset 243: length 3, expected 4"), std::string::npos) << err(b);
  // No end option: options cut off after the message type.
  b = {good.begin(), good.begin() + 243};
  EXPECT_NE(err(b).find("no end option"), std::string::npos) << err(b);
  // Message type 0.
  b = good;
  b[242] = std::byte(0);
  EXPECT_NE(err(b).find("message type 0 at offset 242"), std::string::npos) << err(b);
  // A length byte missing at the very end.
  b = {good.begin(), good.begin() + 241};
  EXPECT_NE(err(b).find("option 53 at offset 240 has no length byte"), std::string::npos) << err(b);
}

TEST(Dhcp, MaskToPrefix) {
  EXPECT_EQ(mask_to_prefix(ip("255.255.255.0")).value(), 24u);
  EXPECT_EQ(mask_to_prefix(ip("255.255.252.0")).value(), 22u);
  EXPECT_EQ(mask_to_prefix(ip("0.0.0.0")).value(), 0u);
  EXPECT_FALSE(mask_to_prefix(ip("255.0.255.0")).ok());
  DhcpPacket ack;
  ack.type = DhcpType::kAck;
  ack.yiaddr = ip("172.16.3.4");  // no mask option: classful /16
  EXPECT_EQ(lease_from_ack(ack).value().prefix, 16u);
  ack.yiaddr = ip("0.0.0.0");
  EXPECT_FALSE(lease_from_ack(ack).ok());
}

// A tiny DHCP server on v1. Returns "" or what went wrong.
static std::string serve_dhcp(int* discovers) {
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "v1", 3);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(67);
  if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return "server bind";
  std::vector<std::byte> buf(1500);
  for (int answered = 0; answered < 2;) {
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return "server: no request";
    ssize_t n = ::recv(s, buf.data(), buf.size(), 0);
    auto rq = parse_dhcp(std::span(buf.data(), static_cast<size_t>(n)));
    if (!rq.ok()) return "server: " + rq.error().message;
    if (!(rq->flags & kDhcpBroadcastFlag)) return "no broadcast flag";
    DhcpType t;
    if (rq->type == DhcpType::kDiscover) {
      if (++*discovers == 1) continue;  // ignore the first: the client must retry
      t = DhcpType::kOffer;
    } else if (rq->type == DhcpType::kRequest) {
      if (rq->requested_ip != ip("10.9.0.50") || rq->server_id != ip("10.9.0.1")) return "bad REQUEST";
      t = DhcpType::kAck;
    } else {
      continue;
    }
    auto out = encode_dhcp(offer_for(*rq, t));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(68);
    to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
    ::sendto(s, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ++answered;
  }
  if (*discovers != 2) return "expected a retried DISCOVER, saw " + std::to_string(*discovers);
  return "";
}

// The client against that server across a veth whose far end is in a
// second namespace (one namespace would see its own addresses as martian
// sources); the client's interface has no address, so this proves the UDP
// + SO_BINDTODEVICE choice: broadcast out from 0.0.0.0, broadcast in.
TEST(Dhcp, AcquiresALeaseOverAVeth) {
  RUN_IN_NETNS([]() -> std::string {
    int discovers = 0;
    salvage::testing::NetnsPeer srv([&] { return serve_dhcp(&discovers); }, "ip link set v0 up");
    if (!srv.error().empty()) return srv.error();
    auto nl = Netlink::open();
    auto links = nl->links();
    auto v0 = find_link(*links, "v0");
    DhcpOptions o;
    o.ifname = "v0";
    o.mac = v0->mac;
    o.timeout_s = 20;
    o.first_wait_s = 0.5;
    auto lease = dhcp_acquire(o);
    if (std::string server_err = srv.finish(); !server_err.empty()) return server_err;
    if (!lease.ok()) return lease.error().message;
    if (lease->describe() != "10.9.0.50/24 via 10.9.0.1 from 10.9.0.1, lease 600 s") return lease->describe();
    return "";
  });
}

TEST(Dhcp, GivesUpAtTheDeadline) {
  RUN_IN_NETNS([]() -> std::string {
    if (std::system("ip link set v0 up && ip link set v1 up") != 0) return "ip setup";
    auto nl = Netlink::open();
    auto links = nl->links();
    DhcpOptions o;
    o.ifname = "v0";
    o.mac = find_link(*links, "v0")->mac;
    o.timeout_s = 1.5;
    o.first_wait_s = 0.2;
    auto t0 = std::chrono::steady_clock::now();
    auto lease = dhcp_acquire(o);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (lease.ok()) return "a lease from nobody";
    if (lease.error().message.find("no DHCP lease within 1 s (no DHCPOFFER") == std::string::npos) return lease.error().message;
    if (s < 1.4 || s > 3) return "gave up after " + std::to_string(s) + " s";
    return "";
  });
}

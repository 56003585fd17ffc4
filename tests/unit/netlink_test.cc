// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/netlink.h"

#include <gtest/gtest.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdlib>

#include "agent/net-arm.h"
#include "tests/unit/netns.h"

using namespace salvage;
using namespace salvage::net;

namespace {

Bytes hex(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(std::byte(x));
  return b;
}

IpAddr ip(const char* s) { return parse_ip(s).value(); }

}  // namespace

TEST(Netlink, LinkUpIsByteExact) {
  EXPECT_EQ(build_link_up(7, 3), hex({0x20, 0, 0, 0, 0x10, 0, 0x05, 0, 7, 0, 0, 0, 0, 0, 0, 0,  // nlmsghdr
                                      0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}));        // ifinfomsg
}

TEST(Netlink, AddAddrIpv4IsByteExact) {
  EXPECT_EQ(build_add_addr(9, 2, ip("10.0.2.15"), 24),
            hex({40, 0, 0, 0, 0x14, 0, 0x05, 0x05, 9, 0, 0, 0, 0, 0, 0, 0,  // RTM_NEWADDR, REQ|ACK|REPLACE|CREATE
                 2, 24, 0, 0, 2, 0, 0, 0,                                    // AF_INET /24 index 2
                 8, 0, 2, 0, 10, 0, 2, 15,                                   // IFA_LOCAL
                 8, 0, 1, 0, 10, 0, 2, 15}));                                // IFA_ADDRESS
}

TEST(Netlink, DelAddrIpv4IsByteExact) {
  EXPECT_EQ(build_del_addr(9, 2, ip("10.0.2.15"), 24),
            hex({40, 0, 0, 0, 0x15, 0, 0x05, 0, 9, 0, 0, 0, 0, 0, 0, 0,  // RTM_DELADDR, REQ|ACK
                 2, 24, 0, 0, 2, 0, 0, 0,                                 // AF_INET /24 index 2
                 8, 0, 2, 0, 10, 0, 2, 15,                                // IFA_LOCAL
                 8, 0, 1, 0, 10, 0, 2, 15}));                             // IFA_ADDRESS
}

TEST(Netlink, AddAddrIpv6HasNodadAndOnlyAddress) {
  Bytes b = build_add_addr(1, 4, ip("fd00::1"), 64);
  ASSERT_EQ(b.size(), 16u + 8 + 20);
  EXPECT_EQ(b[16], std::byte(AF_INET6));
  EXPECT_EQ(b[17], std::byte(64));
  EXPECT_EQ(b[18], std::byte(0x02));  // IFA_F_NODAD
  EXPECT_EQ(b[24], std::byte(20));    // one attribute of 4 + 16
  EXPECT_EQ(b[26], std::byte(1));     // IFA_ADDRESS
  EXPECT_EQ(b[28], std::byte(0xfd));
  EXPECT_EQ(b[43], std::byte(1));
}

TEST(Netlink, DefaultRouteIsByteExact) {
  IpAddr any;
  any.family = AF_INET;
  EXPECT_EQ(build_add_route(5, any, 0, ip("10.0.2.2"), 2),
            hex({44, 0, 0, 0, 0x18, 0, 0x05, 0x05, 5, 0, 0, 0, 0, 0, 0, 0,
                 2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0,  // main table, RTPROT_BOOT, universe, unicast
                 8, 0, 5, 0, 10, 0, 2, 2,               // RTA_GATEWAY
                 8, 0, 4, 0, 2, 0, 0, 0}));             // RTA_OIF
}

TEST(Netlink, GetRouteIsByteExact) {
  EXPECT_EQ(build_get_route(1, ip("10.0.2.2")),
            hex({36, 0, 0, 0, 0x1a, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                 2, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                 8, 0, 1, 0, 10, 0, 2, 2}));
}

TEST(Netlink, ParsesALinkMessage) {
  Bytes m = hex({0, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                 0, 0, 1, 0, 5, 0, 0, 0, 0x43, 0x10, 1, 0, 0, 0, 0, 0,  // index 5, flags UP|RUNNING|BROADCAST|MULTICAST|LOWER_UP
                 9, 0, 3, 0, 'e', 't', 'h', '0', 0, 0, 0, 0,              // IFLA_IFNAME "eth0" (padded)
                 10, 0, 1, 0, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0,     // IFLA_ADDRESS
                 5, 0, 33, 0, 0, 0, 0, 0});                               // IFLA_CARRIER 0
  m[0] = std::byte(m.size());
  auto msgs = split_messages(m);
  ASSERT_TRUE(msgs.ok()) << msgs.error().message;
  ASSERT_EQ(msgs->size(), 1u);
  auto l = parse_link((*msgs)[0]);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->index, 5);
  EXPECT_EQ(l->name, "eth0");
  EXPECT_TRUE(l->has_mac);
  EXPECT_EQ(l->mac.to_string(), "52:54:00:12:34:56");
  EXPECT_TRUE(l->up());
  EXPECT_FALSE(l->carrier);  // IFLA_CARRIER wins over IFF_LOWER_UP
  auto found = find_link({*l}, "52:54:00:12:34:56");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->name, "eth0");
  EXPECT_TRUE(find_link({*l}, "eth0").ok());
  auto missing = find_link({*l}, "eth1");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("eth0 52:54:00:12:34:56"), std::string::npos) << missing.error().message;
}

TEST(Netlink, BadLengthsAreErrorsNamingTheOffset) {
  Bytes m = build_link_up(1, 1);
  m[0] = std::byte(200);  // nlmsg_len beyond the buffer
  auto r = split_messages(m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("offset 0 has nlmsg_len 200"), std::string::npos) << r.error().message;
  Bytes two = build_link_up(1, 1);
  two.resize(two.size() + 6);  // a torn second header
  r = split_messages(two);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("6 trailing bytes at offset 32"), std::string::npos) << r.error().message;

  // An attribute whose length runs past the message.
  Bytes a = build_add_addr(1, 2, ip("10.0.2.15"), 24);
  a[4] = std::byte(RTM_NEWADDR);
  a[24] = std::byte(60);
  auto msgs = split_messages(a);
  ASSERT_TRUE(msgs.ok());
  auto ad = parse_addr((*msgs)[0]);
  ASSERT_FALSE(ad.ok());
  EXPECT_NE(ad.error().message.find("attribute at payload offset 8 has length 60"), std::string::npos)
      << ad.error().message;
}

TEST(Netlink, ParsesMacAndIp) {
  EXPECT_TRUE(parse_mac("52:54:00:AB:cd:ef").ok());
  EXPECT_FALSE(parse_mac("52:54:00:ab:cd").ok());
  EXPECT_FALSE(parse_mac("52-54-00-ab-cd-ef").ok());
  EXPECT_EQ(ip("fd00::1").to_string(), "fd00::1");
  EXPECT_EQ(ip("10.0.2.2").to_string(), "10.0.2.2");
  EXPECT_FALSE(parse_ip("10.0.2").ok());
  EXPECT_FALSE(parse_ip("fd00:::1").ok());
}

// The real kernel, in a namespace the test makes: bring a veth up, add
// addresses and routes, read them back, and find the arming interface.
TEST(Netlink, ConfiguresAVethInANamespace) {
  RUN_IN_NETNS([]() -> std::string {
    auto nl = Netlink::open();
    if (!nl.ok()) return nl.error().message;
    auto links = nl->links();
    if (!links.ok()) return links.error().message;
    auto v0 = find_link(*links, "v0"), v1 = find_link(*links, "v1");
    if (!v0.ok() || !v1.ok()) return "no v0/v1";
    if (v0->up()) return "v0 up before set_up";
    // By MAC, as the capture agent finds it.
    auto by_mac = find_link(*links, v1->mac.to_string());
    if (!by_mac.ok() || by_mac->index != v1->index) return "find by MAC failed";
    for (int i : {v0->index, v1->index})
      if (auto r = nl->set_up(i); !r.ok()) return r.error().message;
    if (auto r = nl->add_addr(v0->index, ip("10.9.0.1"), 24); !r.ok()) return r.error().message;
    if (auto r = nl->add_addr(v0->index, ip("10.9.0.1"), 24); !r.ok()) return "a repeated add (a retry) fails: " + r.error().message;
    if (auto r = nl->add_addr(v1->index, ip("10.9.0.2"), 24); !r.ok()) return r.error().message;
    if (auto r = nl->add_addr(v0->index, ip("fd00:9::1"), 64); !r.ok()) return r.error().message;
    IpAddr dst = ip("10.77.0.0");
    if (auto r = nl->add_route(dst, 16, ip("10.9.0.2"), v0->index); !r.ok()) return r.error().message;
    IpAddr any6;
    any6.family = AF_INET6;
    if (auto r = nl->add_route(any6, 0, ip("fd00:9::2"), v0->index); !r.ok()) return r.error().message;
    auto bad = nl->add_addr(999, ip("10.9.9.9"), 24);
    if (bad.ok() || bad.error().message.find("link 999") == std::string::npos) return "adding to a missing link must fail naming it";

    auto l0 = nl->link(v0->index);
    if (!l0.ok() || !l0->up()) return "v0 not up after set_up";
    auto rt = nl->route_to(ip("10.77.3.4"));
    if (!rt.ok()) return rt.error().message;
    if (rt->oif != v0->index || rt->gateway != ip("10.9.0.2") || rt->prefsrc != ip("10.9.0.1"))
      return "route to 10.77.3.4: oif " + std::to_string(rt->oif) + " via " + rt->gateway.to_string() + " src " +
             rt->prefsrc.to_string();
    auto addrs = nl->addrs(AF_INET);
    if (!addrs.ok()) return addrs.error().message;
    bool seen = false;
    for (const auto& a : *addrs) seen = seen || (a.index == v0->index && a.addr == ip("10.9.0.1") && a.prefix == 24);
    if (!seen) return "10.9.0.1/24 not listed on v0";
    auto routes = nl->routes(AF_INET);
    if (!routes.ok()) return routes.error().message;
    seen = false;
    for (const auto& r : *routes) seen = seen || (r.dst == dst && r.dst_len == 16 && r.gateway == ip("10.9.0.2"));
    if (!seen) return "10.77.0.0/16 via 10.9.0.2 not listed";

    // Arming: the interface routing to a collector behind the gateway.
    auto arm = detect_net_arming(*nl, ip("10.77.1.1"));
    if (!arm.ok()) return arm.error().message;
    if (arm->ifname != "v0" || arm->mac != v0->mac || arm->on_link) return "arming picked " + arm->ifname;
    std::string got;
    for (const auto& a : arm->addresses) got += a.to_string() + " ";
    if (got.find("10.9.0.1/24") == std::string::npos || got.find("fd00:9::1/64") == std::string::npos)
      return "arming addresses: " + got;
    if (arm->gateways.size() != 2 || arm->gateways[0] != ip("10.9.0.2") || arm->gateways[1] != ip("fd00:9::2"))
      return "arming gateways: " + std::to_string(arm->gateways.size());
    // The collector on loopback cannot be reached from a capture kernel.
    auto lo = detect_net_arming(*nl, ip("10.9.0.1"));
    if (lo.ok() || lo.error().message.find("is this host") == std::string::npos) return "a local collector must be refused";
    // A veth has no hardware driver: no modules.
    auto mods = net_device_modules("/sys", "v0");
    if (mods.ok() && !mods->empty()) return "veth has modules?";
    return "";
  });
}

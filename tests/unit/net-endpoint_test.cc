// SPDX-License-Identifier: GPL-2.0-or-later
// Collector addresses: "ADDR:PORT" / "[V6ADDR]:PORT" parse, and print back
// in a form that parses again (the session re-checks the target this way;
// an IPv6 collector was refused before the brackets were put back).
#include <gtest/gtest.h>

#include "agent/net-sink.h"

namespace salvage {
namespace {

TEST(NetEndpoint, RoundTripsIpv4AndIpv6) {
  for (const char* spec : {"10.0.2.2:7341", "[fec0::2]:7341", "[::1]:1", "192.0.2.1:65535"}) {
    std::string addr;
    uint16_t port = 0;
    ASSERT_TRUE(parse_net_address(spec, addr, port).ok()) << spec;
    EXPECT_EQ(net_endpoint_text(addr, port), spec);
    std::string addr2;
    uint16_t port2 = 0;
    ASSERT_TRUE(parse_net_address(net_endpoint_text(addr, port), addr2, port2).ok()) << spec;
    EXPECT_EQ(addr2, addr);
    EXPECT_EQ(port2, port);
  }
}

TEST(NetEndpoint, RefusesAmbiguousAndNonNumeric) {
  std::string addr;
  uint16_t port = 0;
  EXPECT_FALSE(parse_net_address("fec0::2:7341", addr, port).ok());  // unbracketed IPv6
  EXPECT_FALSE(parse_net_address("collector.example:7341", addr, port).ok());  // no DNS in a capture kernel
  EXPECT_FALSE(parse_net_address("10.0.2.2:65536", addr, port).ok());
  EXPECT_FALSE(parse_net_address("[fec0::2]7341", addr, port).ok());
}

}  // namespace
}  // namespace salvage

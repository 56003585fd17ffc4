// SPDX-License-Identifier: GPL-2.0-or-later
// The sending library's input checks and its timeout. Transfers, resume
// and refusals against a real collector: tests/readers/collector-net.sh.
#include "agent/net-sink.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

using namespace salvage;

TEST(NetSink, ParseNetAddressNumericOnly) {
  std::string a;
  uint16_t p = 0;
  ASSERT_TRUE(parse_net_address("192.0.2.1:7341", a, p).ok());
  EXPECT_EQ(a, "192.0.2.1");
  EXPECT_EQ(p, 7341);
  ASSERT_TRUE(parse_net_address("[fd00::1]:80", a, p).ok());
  EXPECT_EQ(a, "fd00::1");
  EXPECT_EQ(p, 80);
  EXPECT_FALSE(parse_net_address("collector.example:7341", a, p).ok());  // no DNS in a capture kernel
  EXPECT_FALSE(parse_net_address("192.0.2.1", a, p).ok());
  EXPECT_FALSE(parse_net_address("192.0.2.1:65536", a, p).ok());
  EXPECT_FALSE(parse_net_address("192.0.2.1:", a, p).ok());
  EXPECT_FALSE(parse_net_address("fd00::1:80", a, p).ok());  // IPv6 needs brackets
  EXPECT_FALSE(parse_net_address("[fd00::1]80", a, p).ok());
}

TEST(NetSink, RefusesBadNamesBeforeConnecting) {
  const Log log(0);
  NetTarget t;
  t.address = "127.0.0.1";
  t.port = 9;
  t.insecure = true;
  t.timeout_s = 0.5;
  t.host_name = "../etc";
  auto s = NetSession::open(t, "d1", log);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("host"), std::string::npos) << s.error().message;
  t.host_name = "web-01";
  EXPECT_FALSE(NetSession::open(t, "a/b", log).ok());
}

TEST(NetSink, GivesUpAfterTimeoutWithoutCollector) {
  // A port nobody listens on: bind one, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  const Log log(0);
  NetTarget t;
  t.address = "127.0.0.1";
  t.port = ntohs(sa.sin_port);
  t.insecure = true;
  t.host_name = "web-01";
  t.timeout_s = 1.0;
  const auto t0 = std::chrono::steady_clock::now();
  auto s = NetSession::open(t, "d1", log);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("no progress for 1 s"), std::string::npos) << s.error().message;
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 4.0);  // retried with backoff, then stopped
}

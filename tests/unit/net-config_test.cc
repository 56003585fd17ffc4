// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/net-config.h"

#include <gtest/gtest.h>

#include "agent/capture-config.h"

using namespace salvage;

TEST(NetConfig, KeysRoundTripThroughTheConfigFile) {
  CaptureConfig c;
  ASSERT_TRUE(set_capture_key(c, "target", "net,LABEL=dump").ok());
  ASSERT_TRUE(set_capture_key(c, "net", "52:54:00:12:34:56").ok());
  ASSERT_TRUE(set_capture_key(c, "ip", "static").ok());
  ASSERT_TRUE(set_capture_key(c, "net_address", "10.0.2.15/24").ok());
  ASSERT_TRUE(set_capture_key(c, "net_address", "fd00::15/64").ok());
  ASSERT_TRUE(set_capture_key(c, "net_gateway", "10.0.2.2").ok());
  ASSERT_TRUE(set_capture_key(c, "collector", "10.0.2.2:9400").ok());
  ASSERT_TRUE(set_capture_key(c, "collector_bundle", kCollectorBundlePath).ok());
  ASSERT_EQ(c.targets.size(), 2u);
  EXPECT_EQ(c.targets[0].kind, TargetSpec::Kind::kNet);
  EXPECT_EQ(c.targets[0].to_string(), "net");
  EXPECT_EQ(c.targets[1].to_string(), "LABEL=dump");
  const std::string text = render_capture_config(c);
  EXPECT_NE(text.find("net=52:54:00:12:34:56\nip=static\nnet_address=10.0.2.15/24\nnet_address=fd00::15/64\n"
                      "net_gateway=10.0.2.2\ncollector=10.0.2.2:9400\ncollector_bundle=/etc/salvage/collector.bundle\n"),
            std::string::npos)
      << text;
  auto back = parse_capture_config(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(render_capture_config(*back), text);
  EXPECT_TRUE(check_net_config(back->net, "").ok());
}

TEST(NetConfig, CommandLineOverridesIpAndTakesATargetList) {
  CaptureConfig c;
  ASSERT_TRUE(set_capture_key(c, "target", "LABEL=old").ok());
  ASSERT_TRUE(set_capture_key(c, "ip", "static").ok());
  auto problems = apply_capture_cmdline(c, "ro salvage.ip=dhcp salvage.target=net:10.0.2.2:9400,LABEL=dump quiet");
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(c.net.ip, NetConfig::Ip::kDhcp);
  ASSERT_EQ(c.targets.size(), 2u);
  EXPECT_EQ(c.targets[0].to_string(), "net:10.0.2.2:9400");
  EXPECT_EQ(c.targets[1].to_string(), "LABEL=dump");
  // A bad list keeps the baked-in targets.
  problems = apply_capture_cmdline(c, "salvage.target=net:nowhere,LABEL=x");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("net:nowhere"), std::string::npos) << problems[0];
  EXPECT_EQ(c.targets.size(), 2u);
}

TEST(NetConfig, BadValuesAreErrorsNamingTheKey) {
  NetConfig n;
  auto msg = [&](const char* k, const char* v) {
    auto r = set_net_key(n, k, v);
    return r.ok() ? std::string("OK") : r.error().message;
  };
  EXPECT_NE(msg("ip", "bootp").find("ip: 'bootp' is not dhcp or static"), std::string::npos);
  EXPECT_NE(msg("net_address", "10.0.2.15").find("expected ADDRESS/PREFIX"), std::string::npos);
  EXPECT_NE(msg("net_address", "10.0.2.15/33").find("prefix '33' is not 1..32"), std::string::npos);
  EXPECT_EQ(msg("net_address", "fd00::1/128"), "OK");
  EXPECT_NE(msg("net_gateway", "gw").find("net_gateway"), std::string::npos);
  EXPECT_NE(msg("collector", "collector.example:9400").find("not an IPv4 address"), std::string::npos);
  EXPECT_NE(msg("collector", "10.0.2.2:0").find("port '0' is not 1..65535"), std::string::npos);
  EXPECT_NE(msg("collector", "fd00::1:9400").find("expected ADDR:PORT (IPv6 as [ADDR]:PORT)"), std::string::npos);
  EXPECT_EQ(msg("collector", "[fd00::1]:9400"), "OK");
  EXPECT_NE(msg("collector_bundle", "relative").find("not an absolute path"), std::string::npos);
  EXPECT_NE(msg("net", "a/b").find("not an interface name"), std::string::npos);
  EXPECT_FALSE(parse_target_spec("net:").ok());
  EXPECT_FALSE(parse_target_spec("net:10.0.2.2").ok());
}

TEST(NetConfig, CheckSaysWhatIsMissing) {
  NetConfig n;
  EXPECT_NE(check_net_config(n, "").error().message.find("no collector address"), std::string::npos);
  n.collector = "10.0.2.2:9400";
  EXPECT_NE(check_net_config(n, "").error().message.find("ip=dhcp or ip=static"), std::string::npos);
  n.ip = NetConfig::Ip::kStatic;
  EXPECT_NE(check_net_config(n, "").error().message.find("no net_address"), std::string::npos);
  n.ip = NetConfig::Ip::kDhcp;
  EXPECT_NE(check_net_config(n, "").error().message.find("no collector_bundle"), std::string::npos);
  n.insecure = true;
  EXPECT_TRUE(check_net_config(n, "").ok());
}

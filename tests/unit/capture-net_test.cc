// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/capture-net.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "agent/capture-system.h"
#include "agent/net-arm.h"
#include "tests/fuzz/synth-vmcore.h"

#include "tests/unit/netns.h"

using namespace salvage;

// The agent's bring-up against the real kernel in a namespace the test
// makes: v0 found by MAC, set up, carrier awaited, static IPv4 + IPv6 and
// a default route, exactly what the capture kernel does.
TEST(CaptureNet, BringsUpAStaticConfigurationByMac) {
  RUN_IN_NETNS([]() -> std::string {
    if (std::system("ip link set v1 up") != 0) return "ip setup";  // the peer: carrier for v0
    auto nl = net::Netlink::open();
    auto links = nl->links();
    auto v0 = net::find_link(*links, "v0");
    NetConfig cfg;
    cfg.interface = v0->mac.to_string();
    cfg.ip = NetConfig::Ip::kStatic;
    cfg.addresses = {parse_net_address_prefix("10.9.0.15/24").value(), parse_net_address_prefix("fd00:9::15/64").value()};
    cfg.gateways = {net::parse_ip("10.9.0.2").value()};
    std::vector<std::string> said;
    auto up = bring_up_network(cfg, 10, [&](const std::string& s) { said.push_back(s); });
    if (!up.ok()) return up.error().message;
    if (up->ifname != "v0" || up->how != "static 10.9.0.15/24 fd00:9::15/64 via 10.9.0.2") return up->how;
    auto rt = nl->route_to(net::parse_ip("192.0.2.1").value());  // anywhere: the default route
    if (!rt.ok()) return rt.error().message;
    if (rt->oif != v0->index || rt->gateway != net::parse_ip("10.9.0.2").value()) return "default route not via 10.9.0.2";
    auto rt6 = nl->route_to(net::parse_ip("fd00:9::99").value());
    if (!rt6.ok() || rt6->oif != v0->index) return "no IPv6 route on v0";
    // Again (the agent retries a whole bring-up): idempotent.
    auto again = bring_up_network(cfg, 5, {});
    if (!again.ok()) return "a second bring-up fails: " + again.error().message;
    return "";
  });
}

TEST(CaptureNet, MissingInterfaceGivesUpAtTheTimeout) {
  RUN_IN_NETNS([]() -> std::string {
    NetConfig cfg;
    cfg.interface = "02:00:00:00:00:99";
    cfg.ip = NetConfig::Ip::kStatic;
    cfg.addresses = {parse_net_address_prefix("10.9.0.15/24").value()};
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> said;
    auto up = bring_up_network(cfg, 1.5, [&](const std::string& s) { said.push_back(s); });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (up.ok()) return "up without an interface";
    if (up.error().message.find("no network interface with MAC 02:00:00:00:00:99") == std::string::npos)
      return up.error().message;
    if (s < 1.4 || s > 4) return "gave up after " + std::to_string(s) + " s";
    if (said.size() != 1) return "the same failure said " + std::to_string(said.size()) + " times";
    return "";
  });
}

TEST(CaptureNet, CarrierlessLinkTimesOut) {
  RUN_IN_NETNS([]() -> std::string {
    NetConfig cfg;  // v1 stays down: v0 never gets a carrier
    cfg.interface = "v0";
    cfg.ip = NetConfig::Ip::kStatic;
    cfg.addresses = {parse_net_address_prefix("10.9.0.15/24").value()};
    auto up = bring_up_network(cfg, 1, {});
    if (up.ok()) return "up without a carrier";
    if (up.error().message.find("v0: no carrier") == std::string::npos) return up.error().message;
    return "";
  });
}

TEST(CaptureNet, TargetCollectorPrefersTheTargetsAddress) {
  NetConfig n;
  n.collector = "10.0.2.2:9400";
  EXPECT_EQ(net_target_collector(parse_target_spec("net").value(), n), "10.0.2.2:9400");
  EXPECT_EQ(net_target_collector(parse_target_spec("net:192.0.2.7:7").value(), n), "192.0.2.7:7");
}

// A fake sysfs shaped like the lab VM's: eth0 on virtio0 on a PCI function.
TEST(CaptureNet, NicModulesFromSysfsBusDriverFirst) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("netup-sysfs-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::path pci = root / "devices/pci0000:00/0000:00:03.0", virtio = pci / "virtio0";
  fs::create_directories(virtio / "net/eth0");
  fs::create_directories(root / "class/net");
  fs::create_directories(root / "bus/virtio/drivers/virtio_net");
  fs::create_directories(root / "bus/pci/drivers/virtio-pci");
  fs::create_directories(root / "module/virtio_net");
  fs::create_directories(root / "module/virtio_pci");
  fs::create_directory_symlink("../../devices/pci0000:00/0000:00:03.0/virtio0/net/eth0", root / "class/net/eth0");
  fs::create_directory_symlink("../../../virtio0", virtio / "net/eth0/device");
  fs::create_directory_symlink(root / "bus/virtio/drivers/virtio_net", virtio / "driver");
  fs::create_directory_symlink(root / "bus/pci/drivers/virtio-pci", pci / "driver");
  fs::create_directory_symlink(root / "module/virtio_net", root / "bus/virtio/drivers/virtio_net/module");
  fs::create_directory_symlink(root / "module/virtio_pci", root / "bus/pci/drivers/virtio-pci/module");
  auto mods = net_device_modules(root.string(), "eth0");
  ASSERT_TRUE(mods.ok()) << mods.error().message;
  EXPECT_EQ(*mods, (std::vector<std::string>{"virtio_pci", "virtio_net"}));
  EXPECT_FALSE(net_device_modules(root.string(), "eth9").ok());
  EXPECT_FALSE(net_device_modules(root.string(), "../x").ok());
  fs::remove_all(root);
}

// An unreachable collector (nothing listens on the port) is a failed
// target within the capture's time, so the agent goes on to its next one;
// the link came up first (the console says so).
TEST(CaptureNet, UnreachableCollectorFailsTheTargetInTime) {
  RUN_IN_NETNS([]() -> std::string {
    if (std::system("ip link set v1 up") != 0) return "ip setup";
    namespace fs = std::filesystem;
    const std::string dir = fs::temp_directory_path() / ("netup-vmcore-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    synth::Spec spec = synth::minimal_spec();
    for (auto& l : spec.loads) l.filesz = l.memsz;
    synth::Bytes b = synth::build(spec);
    std::ofstream(dir + "/in.vmcore", std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    const Log log(0);
    auto src = open_capture_source(dir + "/in.vmcore", 0, log);
    if (!src.ok()) return src.error().message;
    CaptureConfig cfg;
    cfg.net.interface = "v0";
    cfg.net.ip = NetConfig::Ip::kStatic;
    cfg.net.addresses = {parse_net_address_prefix("10.9.0.15/24").value()};
    cfg.net.insecure = true;
    ConvertSettings settings;
    settings.dump_level = 0;
    auto t = parse_target_spec("net:10.9.0.15:9").value();  // our own address, a closed port
    const double t0 = agent_uptime();
    NetOutcome o = capture_net_target(cfg, t, **src, settings, log, agent_uptime() + 8);
    const double took = agent_uptime() - t0;
    fs::remove_all(dir);
    if (o != NetOutcome::kFailed) return "outcome " + std::to_string(static_cast<int>(o));
    if (took > 8) return "took " + std::to_string(took) + " s, beyond the deadline";
    // And a config without a collector fails at once, before any network work.
    CaptureConfig none;
    none.net.ip = NetConfig::Ip::kDhcp;
    none.net.insecure = true;
    if (capture_net_target(none, parse_target_spec("net").value(), **src, settings, log, 0) != NetOutcome::kFailed)
      return "no collector address accepted";
    return "";
  });
}

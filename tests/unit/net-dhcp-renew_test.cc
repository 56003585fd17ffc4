// SPDX-License-Identifier: GPL-2.0-or-later
// DhcpKeeper end to end (agent/dhcp.h): an 8-second lease (T1 2 s, T2 4 s;
// long enough that a loaded machine still renews and rebinds before expiry)
// kept against a small DHCP server across a veth whose far end is in a
// second network namespace the test makes. The server ignores the first
// renewal, so the keeper must rebind at T2 by broadcast; it acknowledges
// the rebind, then NAKs the next renewal, so the keeper must say so,
// discover again and configure the new address it is given (10.9.0.51)
// through rtnetlink. The server checks the shape of every request (unicast
// from the leased address to the server when renewing, broadcast when
// rebinding, ciaddr set, no server identifier). Nothing here asserts a
// duration: the order of events is the proof.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <chrono>
#include <mutex>
#include <thread>

#include "agent/capture-net.h"
#include "agent/dhcp.h"
#include "tests/unit/netns.h"

using namespace salvage;
using namespace salvage::net;

namespace {

IpAddr ip(const char* s) { return parse_ip(s).value(); }

DhcpPacket reply_to(const DhcpPacket& rq, DhcpType type, const char* addr, u32 lease) {
  DhcpPacket o;
  o.op = 2;
  o.xid = rq.xid;
  o.chaddr = rq.chaddr;
  o.type = type;
  if (type != DhcpType::kNak) {
    o.yiaddr = ip(addr);
    o.subnet_mask = ip("255.255.255.0");
    o.router = ip("10.9.0.1");
    o.lease_s = lease;
    if (lease == 8) o.renewal_s = 2, o.rebinding_s = 4;
  }
  o.server_id = ip("10.9.0.1");
  return o;
}

void send_reply(int s, const DhcpPacket& p, const char* to_addr) {
  auto out = encode_dhcp(p);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(68);
  to.sin_addr.s_addr = to_addr ? inet_addr(to_addr) : htonl(INADDR_BROADCAST);
  ::sendto(s, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
}

// The server on v1 (10.9.0.1). Returns its event log ("renew", "rebind",
// "discover", "request .51") or "ERROR ..." on a malformed request.
std::string serve(std::chrono::seconds limit) {
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "v1", 3);
  ::setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);  // to tell unicast from broadcast
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(67);
  if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return "ERROR server bind";
  std::string log;
  bool rebound = false;
  const auto end = std::chrono::steady_clock::now() + limit;
  std::vector<std::byte> buf(1500);
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    sockaddr_in from{};
    char ctl[256];
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    ssize_t n = ::recvmsg(s, &mh, 0);
    if (n <= 0) continue;
    in_addr dst{};
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
        dst = reinterpret_cast<in_pktinfo*>(CMSG_DATA(c))->ipi_addr;
    auto rq = parse_dhcp(std::span(buf.data(), static_cast<size_t>(n)));
    if (!rq.ok()) return log + "ERROR " + rq.error().message;
    const bool unicast = dst.s_addr == inet_addr("10.9.0.1");
    const bool broadcast = dst.s_addr == htonl(INADDR_BROADCAST);
    if (rq->type == DhcpType::kRequest && !rq->ciaddr.empty() && rq->ciaddr == ip("10.9.0.50")) {
      // RENEWING or REBINDING (RFC 2131 4.3.2): ciaddr, no 50/54, no broadcast flag.
      if (!rq->server_id.empty() || !rq->requested_ip.empty() || (rq->flags & kDhcpBroadcastFlag))
        return log + "ERROR renewal carries option 50/54 or the broadcast flag";
      if (unicast) {
        if (from.sin_addr.s_addr != inet_addr("10.9.0.50")) return log + "ERROR renewal not from the leased address";
        log += "renew ";
        if (rebound) {
          send_reply(s, reply_to(*rq, DhcpType::kNak, nullptr, 0), nullptr);
          log += "(nak) ";
        }
      } else if (broadcast) {
        log += "rebind ";
        rebound = true;
        send_reply(s, reply_to(*rq, DhcpType::kAck, "10.9.0.50", 8), "10.9.0.50");
      } else {
        return log + "ERROR a renewal to neither the server nor the broadcast address";
      }
    } else if (rq->type == DhcpType::kDiscover) {
      if (!rebound) return log + "ERROR DISCOVER before any NAK";
      log += "discover ";
      send_reply(s, reply_to(*rq, DhcpType::kOffer, "10.9.0.51", 600), nullptr);
    } else if (rq->type == DhcpType::kRequest && rq->requested_ip == ip("10.9.0.51")) {
      log += "request-.51";
      send_reply(s, reply_to(*rq, DhcpType::kAck, "10.9.0.51", 600), nullptr);
      return log;
    }
  }
  return log + "ERROR server timed out";
}

}  // namespace

TEST(DhcpKeeper, RenewsRebindsAndRediscoversAfterANak) {
  RUN_IN_NETNS([]() -> std::string {
    salvage::testing::NetnsPeer srv([] { return serve(std::chrono::seconds(30)); },
                           "ip link set lo up && ip link set v0 up && ip addr add 10.9.0.50/24 dev v0", "ERROR ");
    if (!srv.error().empty()) return srv.error();
    auto nl = Netlink::open();
    auto links = nl->links();
    auto v0 = find_link(*links, "v0");

    DhcpLease lease;
    lease.addr = ip("10.9.0.50");
    lease.prefix = 24;
    lease.router = lease.server = ip("10.9.0.1");
    lease.lease_s = 8, lease.t1_s = 2, lease.t2_s = 4;
    lease.granted_at = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    std::mutex mu;
    std::vector<std::string> said, applied;
    DhcpKeepOptions o;
    o.ifname = "v0";
    o.mac = v0->mac;
    o.first_wait_s = 0.5;
    o.say = [&](const std::string& s) {
      std::lock_guard<std::mutex> g(mu);
      said.push_back(s);
    };
    o.apply = [&, index = v0->index](const DhcpLease& fresh, const DhcpLease& old) -> Result<void> {
      {
        std::lock_guard<std::mutex> g(mu);
        applied.push_back(fresh.addr.to_string() + " was " + old.addr.to_string());
      }
      return configure_dhcp_lease(index, fresh, &old);  // the agent's own rtnetlink path
    };
    auto keeper = DhcpKeeper::start(o, lease);
    if (!keeper.ok()) return keeper.error().message;
    for (int i = 0; i < 300 && (*keeper)->lease().addr != ip("10.9.0.51"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const DhcpLease now = (*keeper)->lease();
    keeper->reset();  // stops and joins the thread
    const std::string server = srv.finish();
    std::string all;
    for (const auto& s : said) all += s + "\n";
    if (server.find("ERROR") != std::string::npos) return "server: " + server + "\nclient said:\n" + all;
    // The order of events: unicast renewals (ignored; between T1 and T2 the
    // keeper retransmits, RFC 2131 4.4.5), a broadcast rebinding
    // (acknowledged), a renewal of the new lease (NAKed), a new discovery
    // that leads to 10.9.0.51.
    if (!std::regex_search(server, std::regex("^(renew )+rebind ")) ||
        server.find("renew (nak) discover ") == std::string::npos ||
        !server.ends_with("request-.51"))
      return "server saw: " + server + "\nclient said:\n" + all;
    if (now.addr != ip("10.9.0.51") || now.lease_s != 600) return "lease held: " + now.describe() + "\n" + all;
    if (applied.size() != 1 || applied[0] != "10.9.0.51 was 10.9.0.50") return "apply calls: " + std::to_string(applied.size());
    if (all.find("DHCP lease rebound") == std::string::npos || all.find("DHCPNAK to our renewal of 10.9.0.50") == std::string::npos)
      return "console lines:\n" + all;
    // configure_dhcp_lease put the new address on v0.
    auto addrs = nl->addrs(AF_INET);
    if (!addrs.ok()) return addrs.error().message;
    bool has51 = false, has50 = false;
    for (const auto& a : addrs.value()) {
      has51 = has51 || (a.index == v0->index && a.addr == ip("10.9.0.51"));
      has50 = has50 || (a.index == v0->index && a.addr == ip("10.9.0.50"));
    }
    if (!has51) return "10.9.0.51 not configured on v0";
    if (has50) return "the lost lease's 10.9.0.50 is still on v0";
    return "";
  });
}

// SPDX-License-Identifier: GPL-2.0-or-later
// A minimal DHCPv4 client for the capture kernel (issue 4, salvage.ip=dhcp):
// DISCOVER, OFFER, REQUEST, ACK (RFC 2131), with the broadcast flag set,
// asking for the subnet mask, router and lease time. No renewal: a capture
// lasts minutes and the lease is only needed until the final action.
//
// Socket: a UDP socket bound to 0.0.0.0:68 with SO_BINDTODEVICE and
// SO_BROADCAST, not a packet socket. Linux routes a limited broadcast
// (255.255.255.255) out of a bound interface that has no IPv4 address yet
// (net/ipv4/route.c, ip_route_output_key_hash_rcu: the oif + lbcast case
// takes source 0.0.0.0), and delivers an incoming limited broadcast to a
// socket on that interface (ip_route_input_slow's brd_input), so the
// kernel builds the IP and UDP headers and checksums we would otherwise
// write by hand. The one thing this needs from the server is that it
// broadcasts its replies, which the broadcast flag asks for (RFC 2131
// 4.1); QEMU's user network and ISC/dnsmasq servers honour it.
//
// The packet codec is pure and bounds-checked: a bad packet is an error
// naming the field and its offset, never a read past the end
// (tests/unit/dhcp_test.cc, tests/fuzz/fuzz-dhcp.cc).
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "agent/netlink.h"
#include "formats/result.h"
#include "formats/types.h"

namespace salvage::net {

// DHCP message types (option 53).
enum class DhcpType : u8 {
  kDiscover = 1, kOffer = 2, kRequest = 3, kDecline = 4, kAck = 5, kNak = 6, kRelease = 7, kInform = 8,
};
const char* dhcp_type_name(DhcpType t);

// The BOOTP fixed part (RFC 2131 figure 1) is 236 bytes, then the 4-byte
// magic cookie 99.130.83.99, then options. Fields are big-endian on the wire.
inline constexpr size_t kDhcpFixedSize = 236;
inline constexpr size_t kDhcpOptionsOffset = kDhcpFixedSize + 4;
// Offsets of the fixed fields, for encoder, parser and error messages.
inline constexpr size_t kDhcpOffOp = 0, kDhcpOffHtype = 1, kDhcpOffHlen = 2, kDhcpOffXid = 4, kDhcpOffSecs = 8,
                        kDhcpOffFlags = 10, kDhcpOffCiaddr = 12, kDhcpOffYiaddr = 16, kDhcpOffSiaddr = 20,
                        kDhcpOffChaddr = 28, kDhcpOffMagic = 236;
static_assert(kDhcpOffChaddr + 16 + 64 + 128 == kDhcpFixedSize, "chaddr[16] sname[64] file[128] end the fixed part");
inline constexpr u16 kDhcpBroadcastFlag = 0x8000;
// RFC 1542 2.1: a BOOTP message is at least 300 bytes; some relays drop
// shorter ones, so the encoder pads to this.
inline constexpr size_t kDhcpMinSize = 300;

struct DhcpPacket {
  u8 op = 1;  // 1 request, 2 reply
  u32 xid = 0;
  u16 secs = 0;
  u16 flags = 0;
  IpAddr ciaddr, yiaddr, siaddr;  // IPv4 (family AF_INET), or empty = 0.0.0.0
  MacAddr chaddr;
  DhcpType type = DhcpType::kDiscover;  // option 53 (required)
  IpAddr requested_ip;  // option 50
  IpAddr server_id;     // option 54
  IpAddr subnet_mask;   // option 1
  IpAddr router;        // option 3 (the first one)
  u32 lease_s = 0;      // option 51 (0: absent)
  bool param_request = false;  // option 55 asking for 1, 3, 51, 54 (encoder only)
};

std::vector<std::byte> encode_dhcp(const DhcpPacket& p);
Result<DhcpPacket> parse_dhcp(std::span<const std::byte> b);

// A subnet mask as a prefix length; an error for a non-contiguous mask.
Result<unsigned> mask_to_prefix(const IpAddr& mask);

struct DhcpLease {
  IpAddr addr;
  unsigned prefix = 0;
  IpAddr router;  // empty if the server gave none
  IpAddr server;
  u32 lease_s = 0;
  std::string describe() const;  // "10.0.2.15/24 via 10.0.2.2 from 10.0.2.2, lease 86400 s"
};

// The lease a DHCPACK grants (yiaddr, mask or classful default, router).
Result<DhcpLease> lease_from_ack(const DhcpPacket& ack);

struct DhcpOptions {
  std::string ifname;     // the interface (must be up)
  MacAddr mac;            // its hardware address (chaddr)
  double timeout_s = 60;  // give up after this long (the capture's remaining time)
  double first_wait_s = 1, max_wait_s = 8;  // per-try answer wait, doubling (RFC 2131 4.1)
  std::function<void(const std::string&)> say;  // progress lines; may be empty
};

// DISCOVER/OFFER/REQUEST/ACK with retries until timeout_s. A NAK restarts
// from DISCOVER. Does not configure the interface (agent/capture-net.h does).
Result<DhcpLease> dhcp_acquire(const DhcpOptions& o);

}  // namespace salvage::net

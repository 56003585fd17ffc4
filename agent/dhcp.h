// SPDX-License-Identifier: GPL-2.0-or-later
// A minimal DHCPv4 client for the capture kernel (issue 4, salvage.ip=dhcp):
// DISCOVER, OFFER, REQUEST, ACK (RFC 2131), with the broadcast flag set,
// asking for the subnet mask, router, lease time and T1/T2. A capture of a
// large machine can outlast a short lease, so DhcpKeeper keeps the lease
// while the dump streams: a unicast REQUEST to the server at T1 (RENEWING),
// a broadcast one at T2 (REBINDING), and on a NAK or at expiry a new
// discovery whose lease the caller configures (RFC 2131 4.4.5).
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
#include <memory>
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
  u32 renewal_s = 0;    // option 58, T1 (0: absent)
  u32 rebinding_s = 0;  // option 59, T2 (0: absent)
  bool param_request = false;  // option 55 asking for 1, 3, 51, 54, 58, 59 (encoder only)
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
  u32 lease_s = 0;      // 0: the server gave none; 0xffffffff: infinite
  u32 t1_s = 0, t2_s = 0;  // options 58/59 as granted (0: absent; dhcp_timers picks defaults)
  double granted_at = 0;   // steady-clock seconds when the REQUEST that got it was sent (RFC 2131 4.4.1)
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

// ---- keeping the lease (RFC 2131 4.4.5) -----------------------------------------

inline constexpr u32 kDhcpInfiniteLease = 0xffffffff;

// When to renew, rebind and give up, in seconds after granted_at.
struct DhcpTimers {
  bool infinite = false;  // no lease time, or 0xffffffff: nothing to renew
  double t1 = 0, t2 = 0, expiry = 0;
  double min_retry = 60;  // shortest retransmission interval
};
// T1 = option 58, else lease/2; T2 = option 59, else 7/8 lease; an option
// that breaks T1 < T2 < lease is ignored for its default. The retry floor
// is RFC 2131's 60 s, shortened for leases under 16 minutes (lease/16, at
// least 1 s) so that a short lab lease still gets several tries.
DhcpTimers dhcp_timers(const DhcpLease& l);

enum class DhcpStep { kWait, kRenew, kRebind, kExpired };
struct DhcpAction {
  DhcpStep step = DhcpStep::kWait;
  double at = 0;  // kWait: sleep until then (steady-clock seconds; +inf: forever)
};
const char* dhcp_step_name(DhcpStep s);
// What to do at `now` for a lease granted at `granted_at`, whose last
// REQUEST of the current renewal was sent at `last_sent` (anything before
// granted_at + T1: none yet). RENEWING between T1 and T2, REBINDING between
// T2 and expiry; a request is repeated after half the time left in its
// phase (at least min_retry), and never later than the phase's end.
DhcpAction dhcp_next_action(const DhcpTimers& t, double granted_at, double now, double last_sent);

// The DHCPREQUEST of RENEWING (unicast to the server) or REBINDING
// (broadcast): ciaddr = the leased address, no requested-address and no
// server-identifier option, no broadcast flag (RFC 2131 4.3.2, table 5).
DhcpPacket dhcp_renew_request(const DhcpLease& l, const MacAddr& mac, u32 xid, u16 secs);

struct DhcpKeepOptions {
  std::string ifname;  // the interface holding the lease
  MacAddr mac;
  std::function<void(const std::string&)> say;  // console lines; may be empty
  // A lease whose address or router differs from the current one (a new
  // discovery after a NAK or expiry, or an ACK that moved us): configure
  // it. Called on the keeper's thread.
  std::function<Result<void>(const DhcpLease& fresh, const DhcpLease& old)> apply;
  double first_wait_s = 1, max_wait_s = 8;  // rediscovery's answer waits
};

// Keeps a lease alive on a thread of its own until destroyed (the
// destructor stops the thread within one poll and joins it). The thread
// owns a DHCP socket on the interface; nothing in it is global.
class DhcpKeeper {
 public:
  static Result<std::unique_ptr<DhcpKeeper>> start(DhcpKeepOptions o, const DhcpLease& lease);
  ~DhcpKeeper();
  DhcpKeeper(const DhcpKeeper&) = delete;
  DhcpKeeper& operator=(const DhcpKeeper&) = delete;
  // The lease held now (a copy: the thread may replace it).
  DhcpLease lease() const;

  struct State;

 private:
  explicit DhcpKeeper(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace salvage::net

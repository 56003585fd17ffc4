// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the DHCP packet parser (agent/dhcp.h): whatever arrives on port 68
// in the capture kernel. Properties: no crash, no read past the end, an
// error always says something, and a parsed packet re-encodes to one that
// parses to the same fields (the encoder and parser agree).
// Seeds: LLVMFuzzerInitialize writes a DHCPDISCOVER and a DHCPACK into an
// empty .../seeds/dhcp corpus directory given on the command line.
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "agent/dhcp.h"
#include "tests/fuzz/fuzz-common.h"

using namespace salvage;
using namespace salvage::net;

namespace {

void write_seed(const std::string& path, const std::vector<std::byte>& b) {
  if (std::FILE* f = std::fopen(path.c_str(), "wbx")) {
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    std::string a = (*argv)[i];
    if (a.empty() || a[0] == '-' || !a.ends_with("seeds/dhcp")) continue;
    ::mkdir(a.c_str(), 0755);
    DhcpPacket d;
    d.xid = 0x01020304;
    d.flags = kDhcpBroadcastFlag;
    d.chaddr = parse_mac("52:54:00:12:34:56").value();
    d.param_request = true;
    write_seed(a + "/discover", encode_dhcp(d));
    DhcpPacket ack = d;
    ack.op = 2;
    ack.type = DhcpType::kAck;
    ack.param_request = false;
    ack.yiaddr = parse_ip("10.0.2.15").value();
    ack.server_id = parse_ip("10.0.2.2").value();
    ack.router = ack.server_id;
    ack.subnet_mask = parse_ip("255.255.255.0").value();
    ack.lease_s = 86400;
    write_seed(a + "/ack", encode_dhcp(ack));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = parse_dhcp(fuzz::as_bytes(data, size));
  if (!p.ok()) {
    FUZZ_CHECK(!p.error().message.empty());
    return 0;
  }
  FUZZ_CHECK(size >= kDhcpOptionsOffset);
  auto again = parse_dhcp(encode_dhcp(*p));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->xid == p->xid && again->type == p->type && again->yiaddr == p->yiaddr &&
             again->server_id == p->server_id && again->router == p->router && again->lease_s == p->lease_s &&
             again->subnet_mask == p->subnet_mask && again->chaddr == p->chaddr);
  if (auto l = lease_from_ack(*p); l.ok()) FUZZ_CHECK(l->prefix <= 32 && !l->describe().empty());
  (void)mask_to_prefix(p->subnet_mask);
  return 0;
}

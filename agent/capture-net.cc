// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/capture-net.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <ctime>
#include <thread>

#include "agent/capture-fs.h"
#include "agent/capture-progress.h"
#include "agent/capture-system.h"
#include "agent/capture-trace.h"
#include "agent/dhcp.h"
#include "agent/net-sink.h"

namespace salvage {

namespace {

using Say = std::function<void(const std::string&)>;

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
void nap(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// The interface the config names, or the only (else the first) non-loopback one.
Result<net::LinkInfo> pick_link(net::Netlink& nl, const std::string& spec) {
  ASSIGN_OR_RETURN(auto links, nl.links());
  if (!spec.empty()) return net::find_link(links, spec);
  for (const auto& l : links)
    if (!l.loopback() && l.has_mac) return l;
  return make_error("no network interface yet (is its driver in the initramfs?)");
}

Result<void> wait_carrier(net::Netlink& nl, int index, const std::string& name, double until) {
  for (;;) {
    ASSIGN_OR_RETURN(net::LinkInfo l, nl.link(index));
    if (l.carrier) return Ok();
    if (now_s() >= until) return make_error(name + ": no carrier (is the cable in?)");
    nap(0.1);
  }
}

// One attempt at the whole bring-up; errors say which step failed.
Result<NetUp> try_bring_up(const NetConfig& cfg, double until, const Say& say) {
  ASSIGN_OR_RETURN(net::Netlink nl, net::Netlink::open());
  ASSIGN_OR_RETURN(net::LinkInfo link, pick_link(nl, cfg.interface));
  NetUp up;
  up.ifname = link.name;
  up.ifindex = link.index;
  up.mac = link.mac;
  // lo as well: a capture kernel starts with every link down.
  if (auto lo = pick_link(nl, "lo"); lo.ok()) (void)nl.set_up(lo->index);
  TRY(nl.set_up(link.index));
  TRY(wait_carrier(nl, link.index, link.name, until));
  if (cfg.ip == NetConfig::Ip::kDhcp) {
    net::DhcpOptions o;
    o.ifname = link.name;
    o.mac = link.mac;
    o.timeout_s = std::max(1.0, until - now_s());
    o.say = say;
    ASSIGN_OR_RETURN(net::DhcpLease lease, net::dhcp_acquire(o));
    up.addresses.push_back({lease.addr, lease.prefix});
    if (!lease.router.empty()) up.gateways.push_back(lease.router);
    up.how = "dhcp " + lease.describe();
    up.lease = lease;
  } else {
    up.addresses = cfg.addresses;
    up.gateways = cfg.gateways;
    up.how = "static";
    for (const auto& a : up.addresses) up.how += " " + a.to_string();
    for (const auto& g : up.gateways) up.how += " via " + g.to_string();
  }
  for (const auto& a : up.addresses) TRY(nl.add_addr(link.index, a.addr, a.prefix));
  for (const auto& g : up.gateways) {
    net::IpAddr any;
    any.family = g.family;
    TRY(nl.add_route(any, 0, g, link.index));
  }
  return up;
}

// Lab only: /proc/vmcore copied raw onto `dev` before the transfer, so the
// host can compare every page the collector stored with the same capture.
Result<void> copy_reference(const std::string& vmcore, const std::string& dev) {
  int in = ::open(vmcore.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Error::from_errno("open " + vmcore);
  int out = ::open(dev.c_str(), O_WRONLY | O_CLOEXEC);
  if (out < 0) {
    Error e = Error::from_errno("open " + dev);
    ::close(in);
    return e;
  }
  std::vector<char> buf(1 << 20);
  Result<void> r = Ok();
  for (off_t off = 0;;) {
    ssize_t n = ::pread(in, buf.data(), buf.size(), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { r = Error::from_errno("read " + vmcore); break; }
    if (n == 0) break;
    if (::pwrite(out, buf.data(), static_cast<size_t>(n), off) != n) { r = Error::from_errno("write " + dev); break; }
    off += n;
  }
  if (r.ok() && ::fsync(out) != 0) r = Error::from_errno("fsync " + dev);
  ::close(in);
  ::close(out);
  return r;
}

const char* stop_name(NetStop s) {
  switch (s) {
    case NetStop::kNone: return "";
    case NetStop::kTimeout: return "the collector stopped answering";
    case NetStop::kRefused: return "the collector refused this host";
    case NetStop::kQuota: return "the collector ended the transfer (quota or free-space floor)";
    case NetStop::kProtocol: return "protocol error";
  }
  return "";
}

}  // namespace

Result<void> configure_dhcp_lease(int ifindex, const net::DhcpLease& lease, const net::DhcpLease* replaced) {
  ASSIGN_OR_RETURN(net::Netlink nl, net::Netlink::open());
  // A new address from a new lease: the old one is no longer ours (another
  // host may get it), so it goes first. First, because in the same subnet
  // the new address would be a secondary of the old, and removing a primary
  // IPv4 address removes its secondaries (net.ipv4.conf.*.promote_secondaries
  // is 0 by default). The kernel drops the routes that used it; the default
  // route is added again below.
  if (replaced && !replaced->addr.empty() && !(replaced->addr == lease.addr))
    TRY(nl.del_addr(ifindex, replaced->addr, replaced->prefix).context("the previous lease's address"));
  TRY(nl.add_addr(ifindex, lease.addr, lease.prefix));
  if (!lease.router.empty()) {
    net::IpAddr any;
    any.family = lease.router.family;
    TRY(nl.add_route(any, 0, lease.router, ifindex));
  }
  return Ok();
}

Result<NetUp> bring_up_network(const NetConfig& cfg, double timeout_s, const Say& say) {
  const double until = now_s() + timeout_s;
  std::string last;
  for (int attempt = 1;; ++attempt) {
    auto up = try_bring_up(cfg, until, say);
    if (up.ok()) return up;
    if (up.error().message != last && say) say(up.error().message + "; retrying");
    last = up.error().message;
    if (now_s() >= until) break;
    nap(std::min(1.0, 0.1 * attempt));
  }
  return make_error("network not up within " + std::to_string(static_cast<int>(timeout_s)) + " s: " + last);
}

std::string net_dump_id(const CaptureSource& src) {
  const i64 when = src.info.crash_time ? src.info.crash_time : 0;
  return fs_host_component(src.info.hostname) + "-" + fs_time_component(when) + "-" +
         (src.info.build_id.empty() ? src.info.release : src.info.build_id.substr(0, 16));
}

NetOutcome capture_net_target(const CaptureConfig& cfg, const TargetSpec& t, CaptureSource& src,
                              const ConvertSettings& settings, const Log& log, double deadline) {
  const std::string name = t.to_string();
  const Say say = [&name](const std::string& s) { agent_say("target %s: %s", name.c_str(), s.c_str()); };
  const std::string collector = net_target_collector(t, cfg.net);
  if (auto c = check_net_config(cfg.net, t.value); !c.ok()) {
    say(c.error().message + "; next target");
    return NetOutcome::kFailed;
  }
  // Time left before the supervisor's deadline, less 5 s to print and act.
  auto left = [deadline](double dflt) { return deadline > 0 ? std::max(1.0, deadline - agent_uptime() - 5.0) : dflt; };

  if (!cfg.net.lab_reference.empty()) {
    const double t0 = agent_uptime();
    auto r = copy_reference("/proc/vmcore", cfg.net.lab_reference);
    say(r.ok() ? "lab reference: /proc/vmcore copied to " + cfg.net.lab_reference + " in " +
                     std::to_string(agent_uptime() - t0) + " s"
               : "lab reference: " + r.error().message);
  }

  // 1. The link: until the capture's time runs out (or device_wait, with no timeout).
  const double t0 = agent_uptime();
  say(std::string("bringing up ") + (cfg.net.interface.empty() ? "the network" : cfg.net.interface) + " (" +
      (cfg.net.ip == NetConfig::Ip::kDhcp ? "dhcp" : "static") + ")");
  auto up = bring_up_network(cfg.net, left(std::max<double>(cfg.device_wait_s, 60)), say);
  if (!up.ok()) {
    say(up.error().message + "; next target");
    return NetOutcome::kFailed;
  }
  say(up->ifname + " " + up->mac.to_string() + " up: " + up->how + " (" + std::to_string(agent_uptime() - t0) + " s)");

  // 1b. A DHCP lease is renewed (T1), rebound (T2) or found again (NAK,
  // expiry) alongside the transfer, until this function returns. A new
  // address breaks the TCP connection; the session reconnects and resumes.
  // A changed address replaces the old one (RTM_DELADDR); the keeper says
  // on the console when the address changes.
  std::unique_ptr<net::DhcpKeeper> keeper;
  if (up->lease) {
    net::DhcpKeepOptions ko;
    ko.ifname = up->ifname;
    ko.mac = up->mac;
    ko.say = say;
    ko.apply = [ifindex = up->ifindex](const net::DhcpLease& fresh, const net::DhcpLease& old) {
      return configure_dhcp_lease(ifindex, fresh, &old);
    };
    auto k = net::DhcpKeeper::start(std::move(ko), *up->lease);
    if (k.ok()) keeper = std::move(*k);
    else say("DHCP lease renewal not running: " + k.error().message);
  }

  // 2. The session.
  NetTarget nt;
  if (auto p = parse_net_address(collector, nt.address, nt.port); !p.ok()) {
    say(p.error().message + "; next target");
    return NetOutcome::kFailed;
  }
  nt.insecure = cfg.net.insecure;
  nt.bundle_path = cfg.net.bundle;
  // With credentials the host is the bundle's; plaintext has none, so the
  // crashed kernel's node name (made path-safe) names it.
  if (nt.insecure) nt.host_name = fs_host_component(src.info.hostname);
  nt.timeout_s = left(60);
  say("connecting to the collector " + collector + (nt.insecure ? " (INSECURE plaintext)" : " (TLS)"));
  auto session = NetSession::open(nt, net_dump_id(src), log);
  if (!session.ok()) {
    say(session.error().message + "; next target");
    return NetOutcome::kFailed;
  }
  NetSession& ns = **session;
  CaptureResult r;
  const double w0 = agent_uptime();

  // 3. dmesg.txt first.
  if (!src.dmesg.empty()) {
    auto sent = [&]() -> Result<void> {
      ASSIGN_OR_RETURN(auto sink, ns.open_artifact("dmesg.txt", ArtifactKind::kSequential));
      TRY(sink->write_at(FileOffset(0), bytes_of(src.dmesg)));
      return ns.close_artifact(*sink, true);
    }();
    if (sent.ok()) {
      r.dmesg_bytes = src.dmesg.size();
      agent_say("kernel log saved: %" PRIu64 " bytes (dmesg.txt on %s)", r.dmesg_bytes, collector.c_str());
    } else {
      say("dmesg.txt: " + sent.error().message);
      if (ns.stopped() == NetStop::kRefused || ns.stopped() == NetStop::kQuota) {
        say(std::string(stop_name(ns.stopped())) + "; next target");
        return NetOutcome::kFailed;
      }
    }
  } else {
    agent_say("no kernel log to save (%s)", src.dmesg_error.c_str());
  }

  // 3b. The flight-recorder trace as artifacts "trace/<file>", streamed
  // from the region (agent/capture-trace.h): small, before the dump.
  const u64 before_trace = ns.acknowledged_bytes();
  std::unique_ptr<Sink> tsink;
  save_trace_as_artifacts(
      src.trace.get(),
      TraceArtifactTarget{[&](const std::string& n) -> Result<Sink*> {
                            ASSIGN_OR_RETURN(tsink, ns.open_artifact(n, ArtifactKind::kSequential));
                            return tsink.get();
                          },
                          [&](bool complete) {
                            auto s = std::move(tsink);
                            return s ? ns.close_artifact(*s, complete) : Result<void>(Ok());
                          }});
  const u64 trace_bytes = ns.acknowledged_bytes() - before_trace;

  // 4. The dump through the convert pipeline, priority passes included.
  auto vsink = ns.open_artifact("vmcore", ArtifactKind::kSeekable);
  if (!vsink.ok()) {
    say("vmcore: " + vsink.error().message + "; next target");
    return r.dmesg_bytes ? NetOutcome::kIncomplete : NetOutcome::kFailed;
  }
  ProgressLine progress;
  PageProgress cb = [&progress](u64 done, u64 total) { progress.update(done, total); };
  ConvertSettings with_progress = settings;
  with_progress.progress = &cb;
  auto stats = write_conversion(*src.dump, *src.prepared, **vsink, with_progress, log);
  r.complete = stats.ok();
  if (stats.ok()) r.stats = *stats;
  else r.incomplete_reason = stats.error().message;
  auto closed = ns.close_artifact(**vsink, r.complete);
  if (!closed.ok() && r.complete) {
    r.complete = false;
    r.incomplete_reason = closed.error().message;
  }
  r.dump_bytes = ns.acknowledged_bytes() - r.dmesg_bytes - trace_bytes;
  if (!r.complete) {
    say("dump cut short: " + r.incomplete_reason + (ns.stopped() != NetStop::kNone ? std::string(" (") + stop_name(ns.stopped()) + ")" : ""));
  }

  // 5. summary.txt (best effort: the dump is what matters).
  r.seconds = agent_uptime() - w0;
  r.summary = render_capture_summary(src, r, collector, name, settings);
  r.summary += "network:      " + up->ifname + " " + up->mac.to_string() + ", " + up->how + "\n";
  if (auto s = ns.open_artifact("summary.txt", ArtifactKind::kSequential); s.ok()) {
    auto w = (*s)->write_at(FileOffset(0), bytes_of(r.summary));
    auto c = ns.close_artifact(**s, w.ok());
    if (!w.ok() || !c.ok()) say("summary.txt: " + (w.ok() ? c.error().message : w.error().message));
  } else {
    say("summary.txt: " + s.error().message);
  }
  if (auto c = ns.close(); !c.ok()) say("closing the session: " + c.error().message);
  for (size_t a = 0, b; a < r.summary.size(); a = b + 1) {
    b = r.summary.find('\n', a);
    if (b == std::string::npos) b = r.summary.size();
    agent_say("  %s", r.summary.substr(a, b - a).c_str());
  }
  if (!r.complete) {
    say("INCOMPLETE dump kept on the collector; next target");
    return NetOutcome::kIncomplete;
  }
  agent_say("dump complete on the collector %s: %" PRIu64 " bytes in %.1f s", collector.c_str(), r.dump_bytes, r.seconds);
  return NetOutcome::kSaved;
}

}  // namespace salvage

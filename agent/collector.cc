// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage collector`: the network dump daemon, and `salvage collector
// enroll HOST` to issue a host's credentials (docs/collector.md).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/collector.h"
#include "agent/commands.h"
#include "agent/net-sink.h"

namespace salvage {

namespace {

const char kUsage[] =
    "usage: salvage collector [--listen ADDR:PORT] [--root DIR] [--quota-mib N] [--min-free-mib N]\n"
    "                         [--idle-timeout S] [--cred-dir DIR] [--insecure] [-v]\n"
    "       salvage collector enroll HOST [--cred-dir DIR] [--address ADDR:PORT] --out BUNDLE\n"
    "  --listen       numeric address and port to listen on (default 0.0.0.0:7341; port 0 = any)\n"
    "  --root         where dumps go: ROOT/HOST/TIME/ (default /var/crash/collector)\n"
    "  --quota-mib    per-host limit on everything stored for that host\n"
    "  --min-free-mib never let the file system's free space fall below this\n"
    "  --idle-timeout close a connection silent for S seconds (default 60)\n"
    "  --cred-dir     the collector's key, certificate and allow list (default /etc/salvage/collector)\n"
    "  --insecure     plaintext, no authentication: labs only (the sender must say it too)\n";

Result<u64> parse_u64(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || v[0] == '-') return make_error(opt + ": expected a number, got \"" + v + "\"");
  return static_cast<u64>(n);
}

struct Parsed {
  CollectorOptions run;
  bool enroll = false;
  std::string enroll_host, bundle_out, address = "127.0.0.1:7341";
  int verbosity = 0;
};

Result<Parsed> parse_options(int argc, char** argv) {
  Parsed p;
  int i = 1;
  if (argc > 1 && std::string(argv[1]) == "enroll") {
    p.enroll = true;
    i = 2;
  }
  for (; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return make_error(a + " needs a value");
      return std::string(argv[++i]);
    };
    if (a == "--listen") {
      ASSIGN_OR_RETURN(std::string v, need());
      TRY_CTX(parse_net_address(v, p.run.listen_address, p.run.port), "--listen");
    } else if (a == "--root") {
      ASSIGN_OR_RETURN(p.run.root, need());
    } else if (a == "--cred-dir") {
      ASSIGN_OR_RETURN(p.run.cred_dir, need());
    } else if (a == "--quota-mib") {
      ASSIGN_OR_RETURN(std::string v, need());
      ASSIGN_OR_RETURN(u64 n, parse_u64(a, v));
      p.run.limits.quota_bytes = n << 20;
    } else if (a == "--min-free-mib") {
      ASSIGN_OR_RETURN(std::string v, need());
      ASSIGN_OR_RETURN(u64 n, parse_u64(a, v));
      p.run.limits.min_free_bytes = n << 20;
    } else if (a == "--idle-timeout") {
      ASSIGN_OR_RETURN(std::string v, need());
      char* end = nullptr;
      p.run.idle_timeout_s = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || p.run.idle_timeout_s <= 0) return make_error("--idle-timeout: expected seconds > 0");
    } else if (a == "--port-file") {  // for tests: where the bound port is written
      ASSIGN_OR_RETURN(p.run.port_file, need());
    } else if (a == "--insecure") {
      p.run.insecure = true;
    } else if (a == "--out" && p.enroll) {
      ASSIGN_OR_RETURN(p.bundle_out, need());
    } else if (a == "--address" && p.enroll) {
      ASSIGN_OR_RETURN(p.address, need());
    } else if (a == "-v") {
      ++p.verbosity;
    } else if (a == "-h" || a == "--help") {
      return make_error("help");
    } else if (p.enroll && p.enroll_host.empty() && a[0] != '-') {
      p.enroll_host = a;
    } else {
      return make_error("unknown argument " + a);
    }
  }
  if (p.enroll) {
    if (p.enroll_host.empty() || p.bundle_out.empty()) return make_error("enroll needs HOST and --out BUNDLE");
    std::string addr;
    uint16_t port = 0;
    TRY_CTX(parse_net_address(p.address, addr, port), "--address");
  }
  return p;
}

}  // namespace

int cmd_collector(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (!parsed.ok()) {
    const bool help = parsed.error().message == "help";
    if (!help) std::fprintf(stderr, "salvage collector: %s\n", parsed.error().message.c_str());
    std::fprintf(help ? stdout : stderr, "%s", kUsage);
    return help ? 0 : 2;
  }
  const Parsed& p = *parsed;
  const Log log(p.verbosity);
  if (p.enroll) {
    StepTimer t(log, "enroll");
    auto r = enroll_host(p.run.cred_dir, p.enroll_host, p.address, p.bundle_out, log);
    if (!r.ok()) {
      log.error("enroll %s: %s", p.enroll_host.c_str(), r.error().message.c_str());
      return 1;
    }
    std::fprintf(stderr, "salvage: enrolled %s; bundle %s (keep it secret: it is the host's key)\n",
                 p.enroll_host.c_str(), p.bundle_out.c_str());
    return 0;
  }
  return run_collector(p.run, log);
}

}  // namespace salvage

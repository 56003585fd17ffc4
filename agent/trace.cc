// SPDX-License-Identifier: GPL-2.0-or-later
// salvage trace: the flight recorder's channel (issue 5) from a live region
// (--region SIZE@ADDR through /dev/mem or a vmcore), a region image file, or
// a trace directory written by the capture or by `trace extract`.
//   trace show [--merged|--cpu N|--stats] SOURCE   one line per event
//   trace extract SOURCE --out DIR                 DIR/trace/{cpuN,merged,...}
//   trace check SOURCE                             retained ranges, gaps, loss
#include "agent/trace.h"

#include <sys/stat.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "agent/capture-trace.h"
#include "agent/commands.h"
#include "agent/file-source.h"
#include "agent/file-util.h"
#include "agent/log.h"
#include "agent/relayres-source.h"

namespace salvage {

namespace {

struct TraceOptions {
  std::string verb;            // show, extract, check
  std::string source;          // FILE or DIR
  std::optional<RelayresSpec> region;
  std::optional<u64> phys;     // for a region image file
  RelayresReadPaths paths{"", "/dev/mem"};
  bool merged = true;
  std::optional<u32> cpu;
  bool stats = false;
  std::string out;
  int verbosity = 0;
};

constexpr const char* kUsage =
    "usage: salvage trace show [--merged|--cpu N|--stats] SOURCE\n"
    "       salvage trace extract SOURCE --out DIR\n"
    "       salvage trace check SOURCE\n"
    "SOURCE: a region image FILE [--phys ADDR], a trace DIR (from the capture or extract),\n"
    "        or --region SIZE@ADDR [--dev-mem PATH] [--vmcore PATH]\n";

Result<TraceOptions> parse_args(int argc, char** argv) {
  TraceOptions o;
  if (argc < 2) return make_error("help");
  o.verb = argv[1];
  if (o.verb == "-h" || o.verb == "--help") return make_error("help");
  if (o.verb != "show" && o.verb != "extract" && o.verb != "check") return make_error("unknown verb '" + o.verb + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const bool next = i + 1 < argc;
    if (a == "-h" || a == "--help") return make_error("help");
    else if (a == "-v") ++o.verbosity;
    else if (a == "--merged") o.merged = true;
    else if (a == "--stats") o.stats = true;
    else if (a == "--cpu" && next) {
      char* end = nullptr;
      const unsigned long v = std::strtoul(argv[++i], &end, 10);
      if (*end || v >= RELAYRES_MAX_CPUS) return make_error(std::string("--cpu ") + argv[i] + " is not a CPU number");
      o.cpu = static_cast<u32>(v);
      o.merged = false;
    } else if (a == "--region" && next) {
      ASSIGN_OR_RETURN(RelayresSpec s, parse_relayres_spec(argv[++i]));
      s.param = "--region";
      o.region = s;
    } else if (a == "--phys" && next) {
      ASSIGN_OR_RETURN(RelayresSpec s, parse_relayres_spec(std::string("4K@") + argv[++i]));
      o.phys = s.phys;
    } else if (a == "--dev-mem" && next) o.paths.dev_mem = argv[++i];
    else if (a == "--vmcore" && next) o.paths.vmcore = argv[++i];
    else if (a == "--out" && next) o.out = argv[++i];
    else if (!a.starts_with("-") && o.source.empty()) o.source = a;
    else return make_error("unexpected argument '" + a + "'");
  }
  if (o.source.empty() == !o.region) return make_error("give exactly one SOURCE: FILE, DIR or --region SIZE@ADDR");
  if (o.verb == "extract" && o.out.empty()) return make_error("extract needs --out DIR");
  return o;
}

// What `show` and `check` work from: a parsed region (read again for the
// records, one sub-buffer per CPU at a time), or a trace directory.
struct Loaded {
  std::shared_ptr<ByteSource> region;  // null for a directory
  std::optional<RelayresChannel> ch;
  RelayresHeaderInfo header;
  std::string dir;  // the trace directory
  std::string via;
};

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::byte> to_bytes(const std::string& s) {
  const auto b = std::as_bytes(std::span(s.data(), s.size()));
  return {b.begin(), b.end()};
}

Result<Loaded> load(const TraceOptions& o, const Log& log) {
  Loaded l;
  if (o.region) {
    ASSIGN_OR_RETURN(RegionReader rr, open_relayres_region(*o.region, o.paths));
    l.via = rr.via;
    ASSIGN_OR_RETURN(RelayresChannel ch, parse_relayres(*rr.src, o.region->phys).context(o.region->to_string()));
    l.region = std::move(rr.src);
    l.header = ch.header;
    l.ch = std::move(ch);
    return l;
  }
  if (is_dir(o.source)) {
    l.dir = is_dir(o.source + "/trace") ? o.source + "/trace" : o.source;
    ASSIGN_OR_RETURN(std::string hdr, read_file(l.dir + "/header.bin", RELAYRES_HEADER_SIZE));
    ASSIGN_OR_RETURN(l.header, decode_relayres_header_page(to_bytes(hdr)).context(l.dir + "/header.bin"));
    l.via = l.dir;
    return l;
  }
  // A region image: read where the walk asks, never whole.
  ASSIGN_OR_RETURN(auto file, FileSource::open(o.source));
  l.region = std::move(file);
  l.via = o.source;
  u64 phys = 0;
  if (o.phys) {
    phys = *o.phys;
  } else {
    // An image file does not say where it was: trust the header's own
    // region_phys (identity checks still apply).
    ASSIGN_OR_RETURN(auto page, read_bytes(*l.region, FileOffset(0), std::min<u64>(l.region->size(), RELAYRES_HEADER_SIZE))
                                    .context(o.source));
    ASSIGN_OR_RETURN(RelayresHeaderInfo h, decode_relayres_header_page(page).context(o.source));
    phys = h.region_phys;
    log.info("%s: taking region_phys 0x%llx from the header (use --phys to check it)", o.source.c_str(),
             static_cast<unsigned long long>(phys));
  }
  ASSIGN_OR_RETURN(RelayresChannel ch, parse_relayres(*l.region, phys).context(o.source));
  l.header = ch.header;
  l.ch = std::move(ch);
  return l;
}

// Prints the framed records of a trace file (records 8-byte aligned).
Result<u64> show_file(const std::string& path, const RelayresHeaderInfo& h) {
  ASSIGN_OR_RETURN(std::string data, read_file(path));
  const auto b = std::as_bytes(std::span(data.data(), data.size()));
  u64 n = 0;
  for (u64 off = 0; off + sizeof(relayres_record) <= b.size();) {
    relayres_record r;
    std::memcpy(&r, b.data() + off, sizeof r);
    if (r.len < sizeof r || r.len > b.size() - off)
      return make_error(path + ": record at offset " + std::to_string(off) + " has len " + std::to_string(r.len));
    std::printf("%s\n", format_relayres_record(h, b.subspan(off, r.len)).c_str());
    ++n;
    off += round_up(r.len, RELAYRES_RECORD_ALIGN);
  }
  return n;
}

int fail(const Error& e) {
  std::fprintf(stderr, "salvage trace: %s\n", e.message.c_str());
  return 1;
}

}  // namespace

int cmd_trace(int argc, char** argv) {
  auto parsed = parse_args(argc, argv);
  if (!parsed.ok()) {
    const bool help = parsed.error().message == "help";
    if (!help) std::fprintf(stderr, "salvage trace: %s\n", parsed.error().message.c_str());
    std::fputs(kUsage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  const TraceOptions& o = *parsed;
  const Log log(o.verbosity);

  std::optional<Loaded> l;
  {
    StepTimer t(log, "read and rebuild");
    auto r = load(o, log);
    if (!r.ok()) return fail(r.error());
    l = std::move(*r);
  }

  if (o.verb == "extract") {
    if (!l->ch) return fail(make_error("extract reads a region (FILE or --region), not a trace directory"));
    StepTimer t(log, "write trace files");
    RecoveredTrace tr;
    tr.header = l->header;
    tr.via = l->via;
    tr.records = l->ch->total_records();
    tr.channel = std::move(*l->ch);
    tr.region = l->region;
    if (auto r = make_dir_0700(o.out); !r.ok()) return fail(r.error());
    auto w = write_trace_dir(o.out, tr);
    if (!w.ok()) return fail(w.error());
    std::printf("%s/trace: %zu files, %llu records of %u CPUs\n", o.out.c_str(), w->files,
                static_cast<unsigned long long>(tr.records), tr.header.nr_cpus);
    return 0;
  }

  if (o.verb == "check" || o.stats) {
    if (l->ch) {
      std::printf("read from: %s\n%s", l->via.c_str(), render_relayres_summary(*l->ch).c_str());
    } else {
      auto s = read_file(l->dir + "/summary.txt");
      if (!s.ok()) return fail(s.error());
      std::fputs(s->c_str(), stdout);
    }
    return 0;
  }

  // show
  StepTimer t(log, "decode");
  if (l->ch) {
    const auto print = [&](const RelayresRecordRef&, std::span<const std::byte> frame) -> Result<void> {
      std::printf("%s\n", format_relayres_record(l->header, frame).c_str());
      return Ok();
    };
    auto r = o.cpu ? for_each_cpu_record(*l->region, *l->ch, *o.cpu, print)
                   : for_each_merged_record(*l->region, *l->ch, print);
    if (!r.ok()) return fail(r.error());
    return 0;
  }
  const std::string file = l->dir + "/" + (o.cpu ? "cpu" + std::to_string(*o.cpu) + ".bin" : std::string("merged.bin"));
  auto n = show_file(file, l->header);
  if (!n.ok()) return fail(n.error());
  return 0;
}

}  // namespace salvage

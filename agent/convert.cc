// SPDX-License-Identifier: GPL-2.0-or-later
// `salvage convert`: makedumpfile's job with makedumpfile's flags.
//   salvage convert [-d LEVEL] [-c|-l|-p|-z] [-E|--lkcd] [-F] [-j N] [-v] VMCORE OUTFILE
// main() below reads as the pipeline; each step is timed at -v.
#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "agent/commands.h"
#include "agent/convert.h"
#include "agent/file-sink.h"
#include "agent/file-source.h"
#include "agent/header-info.h"
#include "agent/kernel-memory.h"
#include "agent/net-sink.h"
#include "agent/page-filter.h"
#include "agent/priority-passes.h"
#include "agent/write-pages.h"
#include "formats/flattened.h"

namespace salvage {

namespace {

struct ConvertOptions {
  int dump_level = 0;
  PageEncoding encoding = PageEncoding::kRaw;
  DumpFormat format = DumpFormat::kKdump;
  bool flattened = false;
  unsigned threads = 0;  // 0: one per online CPU
  int verbosity = 0;
  std::string input, output;
  // --to-collector: stream the result to `salvage collector` (agent/net-sink.h).
  std::string collector, bundle, host, dump_id;
  bool insecure = false;
  double timeout_s = 60;
};

const char kUsage[] =
    "usage: salvage convert [-d LEVEL] [-c|-l|-p|-z] [-E|--lkcd] [-F] [-j THREADS] [-v] VMCORE OUTFILE\n"
    "  -d LEVEL  exclude pages (bitmask, 0-31): 1 zero, 2 non-private cache, 4 private cache,\n"
    "            8 user data, 16 free pages (as makedumpfile)\n"
    "  -c -l -p -z  compress pages with zlib, lzo, snappy or zstd (kdump-compressed output)\n"
    "  -E        write an ELF core instead of kdump-compressed\n"
    "  --lkcd    write an LKCD v9 dump (zlib or raw pages)\n"
    "  -F        write makedumpfile's flattened stream; OUTFILE '-' is standard output\n"
    "  -j N      compression threads (default: online CPUs); output is identical for any N\n"
    "  -v        log each step with its time\n"
    "  --to-collector ADDR:PORT --bundle B [--host NAME] [--dump-id ID] [--insecure] [--timeout S]\n"
    "            stream the output to `salvage collector` as artifact \"vmcore\" (no OUTFILE)\n";

Result<ConvertOptions> parse_options(int argc, char** argv) {
  ConvertOptions o;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&](const char* what) -> Result<std::string> {
      if (i + 1 >= argc) return make_error(a + " needs " + what);
      return std::string(argv[++i]);
    };
    if (a == "-d" || a.rfind("-d", 0) == 0) {
      std::string v;
      if (a == "-d") {
        ASSIGN_OR_RETURN(v, need("a dump level"));
      } else {
        v = a.substr(2);
      }
      char* end = nullptr;
      long l = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || l < 0 || l > 31) return make_error("-d: dump level must be 0..31, got \"" + v + "\"");
      o.dump_level = static_cast<int>(l);
    } else if (a == "-c") o.encoding = PageEncoding::kZlib;
    else if (a == "-l") o.encoding = PageEncoding::kLzo;
    else if (a == "-p") o.encoding = PageEncoding::kSnappy;
    else if (a == "-z") o.encoding = PageEncoding::kZstd;
    else if (a == "-E") o.format = DumpFormat::kElf;
    else if (a == "--lkcd") o.format = DumpFormat::kLkcd;
    else if (a == "-F") o.flattened = true;
    else if (a == "-v") ++o.verbosity;
    else if (a.rfind("-j", 0) == 0) {
      std::string v = a.substr(2);
      if (a == "-j") {
        ASSIGN_OR_RETURN(v, need("a thread count"));
      }
      o.threads = static_cast<unsigned>(std::strtoul(v.c_str(), nullptr, 10));
      if (o.threads == 0 || o.threads > 256) return make_error("-j: thread count must be 1..256");
    } else if (a == "--to-collector") {
      ASSIGN_OR_RETURN(o.collector, need("ADDR:PORT"));
    } else if (a == "--bundle") {
      ASSIGN_OR_RETURN(o.bundle, need("a bundle file"));
    } else if (a == "--host") {
      ASSIGN_OR_RETURN(o.host, need("a host name"));
    } else if (a == "--dump-id") {
      ASSIGN_OR_RETURN(o.dump_id, need("a dump id"));
    } else if (a == "--insecure") {
      o.insecure = true;
    } else if (a == "--timeout") {
      ASSIGN_OR_RETURN(std::string v, need("seconds"));
      o.timeout_s = std::strtod(v.c_str(), nullptr);
      if (o.timeout_s <= 0) return make_error("--timeout: expected seconds > 0");
    } else if (a == "-h" || a == "--help") {
      return make_error("help");
    } else if (a.size() > 1 && a[0] == '-') {
      return make_error("unknown option " + a);
    } else {
      pos.push_back(a);
    }
  }
  if (!o.collector.empty()) {
    if (pos.size() != 1) return make_error("--to-collector takes VMCORE only");
    if (o.bundle.empty() && !o.insecure) return make_error("--to-collector needs --bundle (or --insecure)");
    if (o.flattened) return make_error("--to-collector sends a seekable dump; drop -F");
    pos.push_back("");
  }
  if (pos.size() != 2) return make_error("expected VMCORE and OUTFILE");
  o.input = pos[0];
  o.output = pos[1];
  if (o.output == "-" && !o.flattened) return make_error("writing to standard output needs -F (flattened)");
  if (o.format == DumpFormat::kElf && o.encoding != PageEncoding::kRaw)
    return make_error("-E writes an uncompressed ELF core; drop -c/-l/-p/-z");
  if (o.format == DumpFormat::kLkcd && o.encoding != PageEncoding::kRaw && o.encoding != PageEncoding::kZlib)
    return make_error("LKCD pages can only be gzip (zlib, -c) or raw");
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  return o;
}

// With no VMCOREINFO or no page tables there is no mem_map to classify
// pages by: keep every RAM page and apply only bit 1 (zero pages, decided
// from page contents). Said on stderr and recorded as the dump level.
Result<FilterResult> filter_without_mem_map(DumpReader& dump, int level, const Log& log) {
  FilterResult f;
  std::vector<LoadRange> loads;
  for (const auto& r : dump.ram()) loads.push_back({r.start.value, r.start.value + r.size, r.start.value + r.size});
  f.present = build_present(loads, dump.max_pfn(), makedumpfile_bitmap1_rule(dump.max_pfn()));
  f.kept = f.present;
  f.effective_dump_level = level & kDlZero;
  if (level & ~kDlZero)
    f.degradations.push_back("dump level " + std::to_string(level) + " needs mem_map; writing level " +
                             std::to_string(f.effective_dump_level) + " instead");
  for (const auto& d : f.degradations) log.warn("%s", d.c_str());
  return f;
}

void print_summary(const FilterResult& f, const WriteStats& w, double seconds) {
  std::fprintf(stderr, "salvage: %" PRIu64 " of %" PRIu64 " RAM pages written (%" PRIu64
                       " shared zero pages, %" PRIu64 " compressed, %" PRIu64 " raw); excluded:",
               w.pages_written, f.present.count(), w.zero_pages, w.compressed, w.raw);
  for (size_t c = 0; c < f.excluded_by_class.size(); ++c)
    std::fprintf(stderr, " %s %" PRIu64, exclude_class_name(static_cast<ExcludeClass>(c)), f.excluded_by_class[c]);
  std::fprintf(stderr, ", zero %" PRIu64 "\nsalvage: %.1f MiB of pages read in %.2f s (%.1f MiB/s)\n", w.zero_pages,
               w.input_bytes / 1048576.0, seconds, seconds > 0 ? w.input_bytes / 1048576.0 / seconds : 0.0);
}

}  // namespace

Result<std::unique_ptr<PreparedDump>> prepare_conversion(DumpReader& dump, int dump_level, const Log& log) {
  auto p = std::make_unique<PreparedDump>();
  for (const auto& n : dump.metadata().notes_for_user) log.warn("%s", n.c_str());

  // 2. Identify the crashed kernel from the notes.
  auto id = identify(dump.notes());
  if (!id.ok()) return std::move(id).error().with_context("parsing the ELF notes");
  p->id = std::move(*id);
  if (p->id.cpus.empty()) p->degradations.push_back("no NT_PRSTATUS note: registers of the CPUs are unknown");

  // 3. Address translation through the crashed kernel's page tables.
  if (p->id.vmcoreinfo) {
    auto m = KernelMemory::create(dump, *p->id.vmcoreinfo);
    if (m.ok()) p->mem = std::move(*m);
    else p->degradations.push_back("no address translation: " + m.error().message);
  } else {
    p->degradations.push_back("no VMCOREINFO note");
  }

  // 4. Decide which pages to keep (makedumpfile dump levels).
  Result<FilterResult> filtered = p->mem ? filter_pages(dump, *p->mem, *p->id.vmcoreinfo, dump_level, log)
                                         : filter_without_mem_map(dump, dump_level, log);
  if (!filtered.ok()) return std::move(filtered).error().with_context("filtering pages");
  p->filtered = std::move(*filtered);  // filter_pages has reported its own degradations

  // 5. A source that was itself filtered (a kdump or LKCD file) lacks some
  // pages: they cannot be kept, and the source's level carries over, as
  // when makedumpfile refilters a dump (it ORs the old dump level in).
  FilterResult& f = p->filtered;
  u64 absent = 0;
  for (u64 pfn = 0; pfn < f.kept.max_pfn().value; ++pfn)
    if (f.kept.test(Pfn(pfn)) && !dump.has_page(Pfn(pfn))) {
      f.kept.set(Pfn(pfn), false);
      ++absent;
    }
  if (absent) {
    f.effective_dump_level |= dump.metadata().dump_level;
    log.info("%llu pages are not in the source dump (written at -d %d); dump level %d",
             static_cast<unsigned long long>(absent), dump.metadata().dump_level, f.effective_dump_level);
  }
  return p;
}

Result<WriteStats> write_conversion(DumpReader& dump, PreparedDump& p, Sink& sink, const ConvertSettings& s,
                                    const Log& log) {
  FilterResult& f = p.filtered;
  // 5. Pick the writer from the format table.
  ASSIGN_OR_RETURN(auto writer_p, make_dump_writer(s.format, sink));
  DumpWriter& writer = *writer_p;

  // 6. Header: who crashed, when, and which pages follow.
  ParallelFor pool(s.threads);
  DumpHeaderInfo info;
  fill_header_identity(info, p.id, p.mem ? &*p.mem : nullptr, p.degradations);
  info.notes = dump.notes();
  info.dump_level = f.effective_dump_level;
  info.encoding = writer.accepts(s.encoding) ? s.encoding : PageEncoding::kRaw;
  info.max_pfn = f.present.max_pfn();  // makedumpfile lowers max_mapnr to the last mem_map section
  info.present = &f.present;
  info.ram = dump.ram();
  info.extra_loads = dump.kernel_image();
  const bool zero_excluded = (f.effective_dump_level & 1) != 0;
  if (zero_excluded && writer.drops_zero_pages()) {
    auto dropped = drop_zero_pages(dump, f.kept, pool, log);
    if (!dropped.ok()) return std::move(dropped).error().with_context("finding zero pages");
    log.info("%llu zero pages dropped", static_cast<unsigned long long>(*dropped));
  }
  info.kept = &f.kept;
  for (const auto& d : p.degradations) log.warn("%s", d.c_str());

  // 7. Write header, pages and trailer.
  TRY_CTX(writer.begin(info), "writing the header");
  // A writer may ask for more than the kept pages (ELF short gaps); of those
  // only what the source has can be given: the rest reads as zeros.
  PageBitmap extra;
  if (const PageBitmap* want = writer.pages_to_write()) {
    extra = *want;
    for (u64 pfn = 0; pfn < extra.max_pfn().value; ++pfn)
      if (extra.test(Pfn(pfn)) && !f.kept.test(Pfn(pfn)) && !dump.has_page(Pfn(pfn))) extra.set(Pfn(pfn), false);
  }
  const PageBitmap& to_write = writer.pages_to_write() ? extra : f.kept;
  const bool share_zero = zero_excluded && !writer.drops_zero_pages();
  std::optional<PageBitmap> first_pass;
  if (s.priority_passes && writer.accepts_passes() && !writer.pages_to_write()) {
    auto fp = first_pass_pages(dump, p, f.kept, log);
    if (fp.ok()) first_pass = std::move(*fp);
    else log.warn("pages in pfn order: %s", fp.error().message.c_str());
  }
  auto stats = first_pass ? write_pages_in_passes(dump, f.kept, *first_pass, writer, info.encoding, share_zero, pool,
                                                  log, s.progress)
                          : write_pages(dump, to_write, writer, info.encoding, share_zero, pool, log, s.progress);
  if (!stats.ok()) {
    // Keep what was written and mark it incomplete, as makedumpfile does on ENOSPC.
    (void)writer.finish(false);
    (void)sink.finish();
    return std::move(stats).error();
  }
  TRY_CTX(writer.finish(true), "finishing the dump");
  TRY(sink.finish());
  return std::move(*stats);
}

int cmd_convert(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (!parsed.ok()) {
    if (parsed.error().message != "help") std::fprintf(stderr, "salvage convert: %s\n", parsed.error().message.c_str());
    std::fprintf(parsed.error().message == "help" ? stdout : stderr, "%s", kUsage);
    return parsed.error().message == "help" ? 0 : 2;
  }
  const ConvertOptions& opt = *parsed;
  const Log log(opt.verbosity);
  StepTimer total(log, "convert");
  auto fail = [&](const Error& e) {
    log.error("%s", e.message.c_str());
    return 1;
  };

  // 1. Open the source dump (any format salvage reads).
  auto src = FileSource::open(opt.input);
  if (!src.ok()) return fail(src.error());
  auto dump_r = open_dump(**src);
  if (!dump_r.ok()) return fail(dump_r.error());
  DumpReader& dump = **dump_r;

  // 2-4. Identify, translate, filter.
  auto prepared = prepare_conversion(dump, opt.dump_level, log);
  if (!prepared.ok()) return fail(prepared.error());

  // 5. Open the output.
  std::unique_ptr<FileSink> file;
  std::unique_ptr<NetSession> net;
  std::unique_ptr<Sink> net_sink;
  if (!opt.collector.empty()) {
    NetTarget t;
    if (auto r = parse_net_address(opt.collector, t.address, t.port); !r.ok()) return fail(r.error());
    t.insecure = opt.insecure;
    t.bundle_path = opt.bundle;
    t.host_name = opt.host;
    t.timeout_s = opt.timeout_s;
    const std::string id = opt.dump_id.empty() ? "convert-" + std::to_string(::time(nullptr)) + "-" +
                                                     std::to_string(::getpid())
                                               : opt.dump_id;
    auto s = NetSession::open(t, id, log);
    if (!s.ok()) return fail(s.error());
    net = std::move(*s);
    auto a = net->open_artifact("vmcore", ArtifactKind::kSeekable);
    if (!a.ok()) return fail(a.error());
    net_sink = std::move(*a);
  } else if (opt.output == "-") {
    file = FileSink::stream(STDOUT_FILENO, "standard output");
  } else {
    auto created = FileSink::create(opt.output);
    if (!created.ok()) return fail(created.error());
    file = std::move(*created);
  }
  std::unique_ptr<FlattenedSink> flat;
  Sink* sink = net_sink ? net_sink.get() : file.get();
  if (opt.flattened) {
    flat = std::make_unique<FlattenedSink>(*file);
    sink = flat.get();
  }

  // 6-7. Header, pages, trailer.
  ConvertSettings settings{opt.dump_level, opt.encoding, opt.format, opt.threads};
  auto stats = write_conversion(dump, **prepared, *sink, settings, log);
  if (!stats.ok()) {
    if (net && net->stopped() == NetStop::kNone) (void)net->close_artifact(*net_sink, false);  // kept as incomplete
    return fail(stats.error());
  }
  if (net) {  // the collector renames vmcore-incomplete to vmcore only when complete and verified
    auto closed = net->close_artifact(*net_sink, true);
    if (closed.ok()) closed = net->close();
    if (!closed.ok()) return fail(closed.error());
  }
  print_summary((*prepared)->filtered, *stats, total.seconds());
  return 0;
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/capture-trace.h"

#include <unistd.h>

#include <cinttypes>
#include <cstring>
#include <ctime>

#include "agent/capture-fs.h"
#include "agent/capture-system.h"
#include "agent/file-sink.h"
#include "agent/file-util.h"

namespace salvage {

namespace {

constexpr const char* kPrefix = "trace-";
// Records are small (tens of bytes): they are gathered into writes of this
// size, so a file or a network artifact sees few, large writes.
constexpr size_t kStageBytes = 256 << 10;

void mark_consumed_once(RecoveredTrace& t) {
  if (t.marked_consumed) return;
  auto m = mark_relayres_consumed(t.spec, t.header, t.paths.dev_mem);
  if (m.ok()) {
    t.marked_consumed = true;
    agent_say("trace: channel generation %" PRIu64 " marked consumed (the next boot starts a new one)",
              t.header.generation);
  } else {
    agent_say("trace: could not mark the channel consumed: %s (the next boot's module keeps it; salvage save "
              "will save it again)",
              m.error().message.c_str());
  }
}

// One file being written: a staging buffer in front of the target's Sink,
// and a check that exactly the announced size arrives.
class FileStream {
 public:
  FileStream(TraceTarget& out, const std::string& name, u64 size) : out_(out), name_(name), size_(size) {}
  Result<void> open() {
    ASSIGN_OR_RETURN(sink_, out_.open(name_, size_));
    stage_.reserve(std::min<u64>(size_, kStageBytes));
    return Ok();
  }
  Result<void> put(std::span<const std::byte> b) {
    if (stage_.size() + b.size() > kStageBytes) TRY(flush());
    if (b.size() >= kStageBytes) return write(b);
    stage_.insert(stage_.end(), b.begin(), b.end());
    return Ok();
  }
  // A record frame and its zero padding to the next multiple of 8.
  Result<void> put_record(std::span<const std::byte> frame) {
    static constexpr std::byte kZeros[RELAYRES_RECORD_ALIGN] = {};
    TRY(put(frame));
    return put(std::span(kZeros).first(round_up(frame.size(), RELAYRES_RECORD_ALIGN) - frame.size()));
  }
  Result<void> finish() {
    TRY(flush());
    if (written_ != size_)
      return make_error(std::to_string(written_) + " bytes written, " + std::to_string(size_) + " announced");
    return out_.close(true);
  }
  void abandon() { (void)out_.close(false); }
  u64 written() const { return written_; }

 private:
  Result<void> flush() {
    if (stage_.empty()) return Ok();
    TRY(write(stage_));
    stage_.clear();
    return Ok();
  }
  Result<void> write(std::span<const std::byte> b) {
    if (written_ + b.size() > size_)
      return make_error("more than the " + std::to_string(size_) + " bytes announced");
    TRY(sink_->write_at(FileOffset(written_), b));
    written_ += b.size();
    return Ok();
  }
  TraceTarget& out_;
  std::string name_;
  u64 size_;
  Sink* sink_ = nullptr;
  std::vector<std::byte> stage_;
  u64 written_ = 0;
};

// Opens `name`, lets fill() write it, closes it complete; on failure closed
// incomplete, the error naming the file.
Result<void> one_file(TraceTarget& out, const std::string& name, u64 size, TraceWriteStats& st,
                      const std::function<Result<void>(FileStream&)>& fill) {
  FileStream f(out, name, size);
  TRY_CTX(f.open(), "trace/" + name);
  auto r = fill(f);
  if (r.ok()) r = f.finish();
  if (!r.ok()) {
    f.abandon();
    return std::move(r).error().with_context("trace/" + name);
  }
  ++st.files;
  st.bytes += size;
  return Ok();
}

std::span<const std::byte> text_span(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string summary_text(const RelayresChannel& ch, const std::string& via) {
  return "read from: " + via + "\n" + render_relayres_summary(ch);
}

class DirTarget final : public TraceTarget {
 public:
  explicit DirTarget(std::string dir) : dir_(std::move(dir)) {}
  Result<Sink*> open(const std::string& file, u64) override {
    ASSIGN_OR_RETURN(sink_, FileSink::create(dir_ + "/" + file));
    return sink_.get();
  }
  Result<void> close(bool complete) override {
    auto s = std::move(sink_);
    if (!complete || !s) return Ok();
    return s->finish().context("syncing");
  }

 private:
  std::string dir_;
  std::unique_ptr<FileSink> sink_;
};

class ContainerTarget final : public TraceTarget {
 public:
  explicit ContainerTarget(ContainerWriter& w) : w_(w) {}
  Result<Sink*> open(const std::string& file, u64) override {
    ASSIGN_OR_RETURN(SectionSink * s, w_.open_section(trace_section_name(file), SectionType::kTrace));
    open_ = true;
    return static_cast<Sink*>(s);
  }
  Result<void> close(bool complete) override {
    if (!open_) return Ok();
    open_ = false;
    return w_.close_section(complete ? SectionState::kComplete : SectionState::kIncomplete, std::time(nullptr));
  }

 private:
  ContainerWriter& w_;
  bool open_ = false;
};

class ArtifactTarget final : public TraceTarget {
 public:
  explicit ArtifactTarget(const TraceArtifactTarget& t) : t_(t) {}
  Result<Sink*> open(const std::string& file, u64) override { return t_.open(trace_artifact_name(file)); }
  Result<void> close(bool complete) override { return t_.close(complete); }

 private:
  const TraceArtifactTarget& t_;
};

// In memory, for trace_files_from.
class MemoryTarget final : public TraceTarget {
 public:
  class VecSink final : public Sink {
   public:
    explicit VecSink(std::vector<std::byte>& v) : v_(v) {}
    Result<void> write_at(FileOffset off, std::span<const std::byte> d) override {
      if (v_.size() < off.value + d.size()) v_.resize(off.value + d.size());
      std::copy(d.begin(), d.end(), v_.begin() + static_cast<std::ptrdiff_t>(off.value));
      return Ok();
    }
    Result<void> finish() override { return Ok(); }
    std::string name() const override { return "memory"; }

   private:
    std::vector<std::byte>& v_;
  };
  std::vector<TraceFile> files;
  Result<Sink*> open(const std::string& file, u64 size) override {
    files.push_back(TraceFile{file, {}});
    files.back().data.reserve(size);
    sink_ = std::make_unique<VecSink>(files.back().data);
    return sink_.get();
  }
  Result<void> close(bool) override {
    sink_.reset();
    return Ok();
  }

 private:
  std::unique_ptr<VecSink> sink_;
};

}  // namespace

std::vector<std::string> trace_file_names(const RelayresChannel& ch) {
  std::vector<std::string> names;
  for (const auto& c : ch.cpus)
    if (c.record_count) names.push_back("cpu" + std::to_string(c.cpu) + ".bin");
  for (const char* n : {"merged.bin", "private.bin", "header.bin", "summary.txt"}) names.push_back(n);
  return names;
}

Result<TraceWriteStats> write_trace_files(ByteSource& region, const RelayresChannel& ch, const std::string& via,
                                          TraceTarget& out, size_t max_cpu_files) {
  TraceWriteStats st;
  u64 total = 0;
  for (const auto& c : ch.cpus) {
    if (!c.record_count) continue;
    total += c.stream_bytes;
    if (st.files >= max_cpu_files) {
      ++st.skipped;
      continue;
    }
    TRY(one_file(out, "cpu" + std::to_string(c.cpu) + ".bin", c.stream_bytes, st, [&](FileStream& f) {
      return for_each_cpu_record(region, ch, c.cpu,
                                 [&](const RelayresRecordRef&, std::span<const std::byte> fr) { return f.put_record(fr); });
    }));
  }
  TRY(one_file(out, "merged.bin", total, st, [&](FileStream& f) {
    return for_each_merged_record(region, ch,
                                  [&](const RelayresRecordRef&, std::span<const std::byte> fr) { return f.put_record(fr); });
  }));
  // The private area and the header page, verbatim (a page each).
  TRY(one_file(out, "private.bin", ch.private_size, st, [&](FileStream& f) -> Result<void> {
    ASSIGN_OR_RETURN(auto b, read_bytes(region, FileOffset(ch.private_off), ch.private_size));
    return f.put(b);
  }));
  TRY(one_file(out, "header.bin", RELAYRES_HEADER_SIZE, st, [&](FileStream& f) -> Result<void> {
    ASSIGN_OR_RETURN(auto b, read_bytes(region, FileOffset(0), RELAYRES_HEADER_SIZE));
    return f.put(b);
  }));
  const std::string sum = summary_text(ch, via);
  TRY(one_file(out, "summary.txt", sum.size(), st, [&](FileStream& f) { return f.put(text_span(sum)); }));
  return st;
}

std::vector<TraceFile> trace_files_from(std::span<const std::byte> region, const RelayresChannel& ch,
                                        const std::string& via) {
  MemorySource src(region, "relayres region");
  MemoryTarget out;
  if (auto r = write_trace_files(src, ch, via, out); !r.ok()) return {};
  return std::move(out.files);
}

Result<RecoveredTrace> recover_trace(const RelayresSpec& spec, const RelayresReadPaths& paths) {
  RecoveredTrace t;
  t.spec = spec;
  t.paths = paths;
  ASSIGN_OR_RETURN(RegionReader rr, open_relayres_region(spec, paths));
  t.via = rr.via;
  ASSIGN_OR_RETURN(t.channel, parse_relayres(*rr.src, spec.phys).context("relayres region " + spec.to_string() +
                                                                         " read through " + rr.via));
  t.region = std::move(rr.src);
  t.header = t.channel.header;
  t.records = t.channel.total_records();
  t.was_consumed = t.channel.priv.valid && t.channel.priv.consumed;
  return t;
}

std::shared_ptr<RecoveredTrace> recover_capture_trace(const std::string& cmdline, const RelayresReadPaths& paths) {
  auto spec = relayres_from_cmdline(cmdline);
  if (!spec.ok()) {
    agent_say("trace: %s; no trace saved", spec.error().message.c_str());
    return nullptr;
  }
  if (!*spec) return nullptr;  // no flight recorder configured
  const double t0 = agent_uptime();
  auto t = recover_trace(**spec, paths);
  if (!t.ok()) {
    agent_say("trace: %s; no trace saved, the dump goes on", t.error().message.c_str());
    return nullptr;
  }
  agent_say("trace: %s (%s) from %s: %" PRIu64 " records of %u CPUs, generation %" PRIu64 " (%.2f s)",
            (*spec)->to_string().c_str(), (*spec)->param.c_str(), t->via.c_str(), t->records, t->header.nr_cpus,
            t->header.generation, agent_uptime() - t0);
  if (t->was_consumed) agent_say("trace: the channel was marked consumed already: it may be an older, saved one");
  return std::make_shared<RecoveredTrace>(std::move(*t));
}

Result<TraceWriteStats> write_trace_dir(const std::string& dir, const RecoveredTrace& t) {
  if (!t.region) return make_error("trace: no region to read");
  const std::string td = dir + "/trace";
  TRY(make_dir_0700(td));
  DirTarget out(td);
  ASSIGN_OR_RETURN(TraceWriteStats st, write_trace_files(*t.region, t.channel, t.via, out));
  TRY(fsync_path(td));
  TRY(fsync_path(dir));
  return st;
}

std::string trace_section_name(const std::string& file) { return kPrefix + file; }

std::string trace_file_for_section(const std::string& section) {
  if (!section.starts_with(kPrefix) || section.size() == std::strlen(kPrefix)) return "";
  const std::string f = section.substr(std::strlen(kPrefix));
  if (f.find('/') != std::string::npos || f == "." || f == "..") return "";
  return f;
}

std::string trace_artifact_name(const std::string& file) { return "trace/" + file; }

void save_trace_to_dir(const std::string& out_dir, RecoveredTrace* t, const std::string& shown_dir) {
  if (!t) return;
  auto r = write_trace_dir(out_dir, *t);
  if (!r.ok()) {
    agent_say("trace: %s; the dump goes on", r.error().message.c_str());
    return;
  }
  agent_say("trace saved: %zu files in %s/trace", r->files, shown_dir.c_str());
  mark_consumed_once(*t);
}

void save_trace_to_container(ContainerWriter& w, RecoveredTrace* t) {
  if (!t || !t->region) return;
  // kMaxSections bounds the table: leave room for the dump and the summary,
  // and for merged.bin, private, header and summary (merged.bin holds every
  // record too).
  const size_t room = kMaxSections > 8 ? kMaxSections - 8 : 0;
  ContainerTarget out(w);
  auto r = write_trace_files(*t->region, t->channel, t->via, out, room > 4 ? room - 4 : 0);
  if (!r.ok()) {
    agent_say("trace: section %s; the dump goes on", r.error().message.c_str());
    return;
  }
  agent_say("trace saved: %zu sections%s", r->files,
            r->skipped ? (" (" + std::to_string(r->skipped) + " per-CPU files left out for room; merged.bin has them)").c_str()
                       : "");
  mark_consumed_once(*t);
}

u64 save_trace_as_artifacts(RecoveredTrace* t, const TraceArtifactTarget& target) {
  if (!t || !t->region) return 0;
  ArtifactTarget out(target);
  auto r = write_trace_files(*t->region, t->channel, t->via, out);
  if (!r.ok()) {
    agent_say("trace: artifact %s; the dump goes on", r.error().message.c_str());
    return 0;
  }
  agent_say("trace saved: %zu artifacts, %" PRIu64 " bytes", r->files, r->bytes);
  mark_consumed_once(*t);
  return r->bytes;
}

Result<std::string> save_boot_trace_to(const std::string& crash_root, const BootTracePaths& paths, const Log& log) {
  ASSIGN_OR_RETURN(std::string cmdline, read_file(paths.cmdline, 1 << 20));
  ASSIGN_OR_RETURN(auto spec, relayres_from_cmdline(cmdline));
  if (!spec) return std::string();
  StepTimer timer(log, "flight-recorder trace");
  auto t = recover_trace(*spec, RelayresReadPaths{"", paths.dev_mem});
  if (!t.ok()) {
    // A region never written (first boot with relayres=) is not a problem.
    if (t.error().message.find("all zeroes") != std::string::npos) {
      log.info("trace: %s: no channel there yet", spec->to_string().c_str());
      return std::string();
    }
    return std::move(t).error();
  }
  if (t->was_consumed) {
    log.info("trace: channel generation %" PRIu64 " at %s was saved already", t->header.generation,
             spec->to_string().c_str());
    return std::string();
  }
  if (auto id = read_file(paths.boot_id, 64); id.ok()) {
    std::string cur = *id;
    while (!cur.empty() && (cur.back() == '\n' || cur.back() == ' ')) cur.pop_back();
    if (cur == t->header.boot_id) {
      log.info("trace: the channel at %s is this boot's own, live one", spec->to_string().c_str());
      return std::string();
    }
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  TRY(make_dir_0700(crash_root));
  ASSIGN_OR_RETURN(std::string dir, make_capture_dir(crash_root, "", host, std::time(nullptr)));
  TRY(write_trace_dir(dir, *t));
  auto m = mark_relayres_consumed(t->spec, t->header, paths.dev_mem);
  if (!m.ok()) log.warn("trace: saved, but %s (it will be saved again next boot)", m.error().message.c_str());
  std::fprintf(stderr, "salvage save: flight-recorder trace of the previous boot (%s, generation %" PRIu64
               ", %" PRIu64 " records) saved to %s/trace\n",
               t->header.release.c_str(), t->header.generation, t->records, dir.c_str());
  return dir;
}

void save_boot_trace(const std::string& crash_root, const BootTracePaths& paths, const Log& log) {
  auto r = save_boot_trace_to(crash_root, paths, log);
  if (!r.ok()) log.warn("flight-recorder trace not saved: %s", r.error().message.c_str());
}

}  // namespace salvage

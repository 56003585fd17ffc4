// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/capture-write.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "agent/capture-progress.h"
#include "agent/capture-system.h"
#include "agent/capture-trace.h"
#include "agent/file-source.h"
#include "agent/header-info.h"
#include "agent/save-device.h"
#include "formats/codec.h"
#include "formats/printk.h"

namespace salvage {

namespace {

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

const char* format_name(DumpFormat f) {
  switch (f) {
    case DumpFormat::kKdump: return "kdump-compressed";
    case DumpFormat::kElf: return "ELF";
    case DumpFormat::kLkcd: return "LKCD";
  }
  return "?";
}

}  // namespace

Result<std::unique_ptr<CaptureSource>> open_capture_source(const std::string& vmcore, int dump_level, const Log& log) {
  const double t0 = agent_uptime();
  auto src = std::make_unique<CaptureSource>();
  ASSIGN_OR_RETURN(src->file, FileSource::open(vmcore));
  ASSIGN_OR_RETURN(src->dump, open_dump(*src->file));
  ASSIGN_OR_RETURN(src->prepared, prepare_conversion(*src->dump, dump_level, log));
  PreparedDump& p = *src->prepared;

  // The container header's identity comes from the same places as a dump header's.
  DumpHeaderInfo hi;
  std::vector<std::string> ignored;  // prepare_conversion reported them already
  fill_header_identity(hi, p.id, p.mem ? &*p.mem : nullptr, ignored);
  src->info.crash_time = hi.crash_time;
  src->info.write_time = std::time(nullptr);
  src->info.release = hi.uts.release;
  src->info.hostname = hi.uts.nodename;
  if (!hi.uts.machine.empty()) src->info.machine = hi.uts.machine;
  if (p.id.vmcoreinfo) src->info.build_id = p.id.vmcoreinfo->string("BUILD-ID").value_or("");

  // The kernel log through the crashed kernel's page tables (formats/printk.h).
  if (p.mem && p.id.vmcoreinfo) {
    VirtReader read = [&p](VirtAddr va, std::span<std::byte> out) { return p.mem->read_virt(va, out); };
    auto l = extract_dmesg(*p.id.vmcoreinfo, read, {});
    if (l.ok()) {
      src->dmesg = std::move(l->text);
      for (const auto& w : l->warnings) log.warn("kernel log: %s", w.c_str());
    } else {
      src->dmesg_error = l.error().message;
    }
  } else {
    src->dmesg_error = "no VMCOREINFO or no address translation";
  }
  if (auto k = src->dmesg.rfind("Kernel panic - not syncing: "); k != std::string::npos)
    src->info.panic_string = src->dmesg.substr(k, src->dmesg.find('\n', k) - k);
  src->prepare_seconds = agent_uptime() - t0;
  return src;
}

Result<CaptureResult> capture_to_device(const std::string& device, const std::string& target_name, CaptureSource& src,
                                        const ConvertSettings& settings, const Log& log) {
  const double t0 = agent_uptime();
  CaptureResult r;
  ASSIGN_OR_RETURN(auto dev, DeviceSink::open(device));
  ASSIGN_OR_RETURN(auto readback, FileSource::open(device));
  ContainerWriter w(*dev, readback.get(), dev->size());
  src.info.write_time = std::time(nullptr);
  TRY_CTX(w.begin(src.info), device);
  agent_say("%s: container started (%" PRIu64 " MiB)", device.c_str(), dev->size() >> 20);

  // 1. dmesg: small and the most precious, so first.
  if (!src.dmesg.empty()) {
    ASSIGN_OR_RETURN(SectionSink * s, w.open_section("dmesg", SectionType::kDmesg));
    auto wr = s->write_at(FileOffset(0), bytes_of(src.dmesg));
    if (!wr.ok()) agent_say("dmesg section cut short: %s", wr.error().message.c_str());
    r.dmesg_bytes = s->length();
    TRY_CTX(w.close_section(wr.ok() ? SectionState::kComplete : SectionState::kIncomplete, std::time(nullptr)),
            device);
    agent_say("kernel log saved: %" PRIu64 " bytes (dmesg section)", r.dmesg_bytes);
  } else {
    agent_say("no kernel log to save (%s)", src.dmesg_error.c_str());
  }

  save_trace_to_container(w, src.trace.get());  // flight recorder: small, before the dump

  // 2. The dump through the convert pipeline. A full device ends the page
  // loop with an error; the writer then marks the dump incomplete and the
  // section closes incomplete: crash opens what is there.
  ASSIGN_OR_RETURN(SectionSink * s, w.open_section("vmcore", SectionType::kDump));
  ProgressLine progress;
  PageProgress cb = [&progress](u64 done, u64 total) { progress.update(done, total); };
  ConvertSettings with_progress = settings;
  with_progress.progress = &cb;
  auto stats = write_conversion(*src.dump, *src.prepared, *s, with_progress, log);
  r.dump_bytes = s->length();
  if (stats.ok()) {
    r.complete = true;
    r.stats = *stats;
  } else {
    r.incomplete_reason = stats.error().message;
    agent_say("dump cut short after %" PRIu64 " bytes: %s", r.dump_bytes, r.incomplete_reason.c_str());
    if (r.dump_bytes == 0) {
      (void)w.close_section(SectionState::kIncomplete, std::time(nullptr));
      return make_error("nothing of the dump was written: " + r.incomplete_reason);
    }
  }
  TRY_CTX(w.close_section(r.complete ? SectionState::kComplete : SectionState::kIncomplete, std::time(nullptr)), device);

  // 3. The summary: what was kept and why, for the engineer and for `salvage save`.
  r.seconds = agent_uptime() - t0;
  r.summary = render_capture_summary(src, r, device, target_name, settings);
  auto sum = w.open_section("summary", SectionType::kSummary);
  if (sum.ok()) {
    auto wr = (*sum)->write_at(FileOffset(0), bytes_of(r.summary));
    auto cr = w.close_section(wr.ok() ? SectionState::kComplete : SectionState::kIncomplete, std::time(nullptr));
    if (!cr.ok()) agent_say("summary section: %s", cr.error().message.c_str());
  } else {
    agent_say("no room for the summary section: %s", sum.error().message.c_str());
  }
  return r;
}

std::string render_capture_summary(const CaptureSource& src, const CaptureResult& r, const std::string& device,
                                   const std::string& target_name, const ConvertSettings& settings) {
  const FilterResult& f = src.prepared->filtered;
  std::string s;
  char b[512];
  auto add = [&](const char* fmt, auto... a) {
    std::snprintf(b, sizeof b, fmt, a...);
    s += b;
  };
  add("salvage capture summary\n");
  add("release:      %s\n", src.info.release.c_str());
  add("host:         %s\n", src.info.hostname.c_str());
  add("panic:        %s\n", src.info.panic_string.empty() ? "?" : src.info.panic_string.c_str());
  add("target:       %s (%s)\n", target_name.c_str(), device.c_str());
  add("dump:         %s, %s pages, dump level %d\n", format_name(settings.format), encoding_name(settings.encoding),
      f.effective_dump_level);
  add("completeness: %s\n", r.complete ? "complete" : ("INCOMPLETE: " + r.incomplete_reason).c_str());
  add("pages:        %" PRIu64 " of %" PRIu64 " RAM pages kept; %" PRIu64 " written (%" PRIu64 " shared zero, %" PRIu64
      " compressed, %" PRIu64 " raw)\n",
      f.kept.count(), f.present.count(), r.stats.pages_written, r.stats.zero_pages, r.stats.compressed, r.stats.raw);
  s += "excluded:    ";
  for (size_t c = 0; c < f.excluded_by_class.size(); ++c)
    add(" %s %" PRIu64, exclude_class_name(static_cast<ExcludeClass>(c)), f.excluded_by_class[c]);
  s += "\n";
  add("bytes:        dmesg %" PRIu64 ", vmcore %" PRIu64 " (from %" PRIu64 " bytes of pages read)\n", r.dmesg_bytes,
      r.dump_bytes, r.stats.input_bytes);
  add("seconds:      %.2f filtering, %.2f writing (%.1f MiB/s of pages read)\n", src.prepare_seconds, r.seconds,
      r.seconds > 0 ? static_cast<double>(r.stats.input_bytes) / 1048576.0 / r.seconds : 0.0);
  for (const auto& d : src.prepared->degradations) add("degraded:     %s\n", d.c_str());
  return s;
}

}  // namespace salvage

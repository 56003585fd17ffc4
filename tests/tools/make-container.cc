// SPDX-License-Identifier: GPL-2.0-or-later
// Test-only helper: builds a raw-device dump container on a file from a
// vmcore, the way the capture agent will (a 'dmesg' section, then the dump
// written by the kdump writer into a 'vmcore' section), so `salvage save`
// can be tested end to end without booting a capture kernel.
//   make-container [--size BYTES] [-d LEVEL] [-c|-l|-p|-z] [--no-dmesg] [--leave-writing] VMCORE DEVICE
// DEVICE is created (or resized) to --size bytes (default 1 GiB, sparse).
// A device too small for the dump gives an incomplete 'vmcore' section, as
// a full dump partition does.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "agent/convert.h"
#include "agent/file-source.h"
#include "agent/header-info.h"
#include "agent/save-device.h"
#include "formats/container.h"
#include "formats/printk.h"

using namespace salvage;

namespace {

int die(const std::string& m) {
  std::fprintf(stderr, "make-container: %s\n", m.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  u64 size = 1ull << 30;
  ConvertSettings settings;
  settings.dump_level = 31;
  settings.encoding = PageEncoding::kZlib;
  bool dmesg = true, leave_writing = false;
  std::string in, dev_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--size" && i + 1 < argc) size = std::strtoull(argv[++i], nullptr, 0);
    else if (a == "-d" && i + 1 < argc) settings.dump_level = std::atoi(argv[++i]);
    else if (a == "-c") settings.encoding = PageEncoding::kZlib;
    else if (a == "-l") settings.encoding = PageEncoding::kLzo;
    else if (a == "-p") settings.encoding = PageEncoding::kSnappy;
    else if (a == "-z") settings.encoding = PageEncoding::kZstd;
    else if (a == "--no-dmesg") dmesg = false;
    else if (a == "--leave-writing") leave_writing = true;
    else if (in.empty()) in = a;
    else dev_path = a;
  }
  if (in.empty() || dev_path.empty())
    return die("usage: make-container [--size BYTES] [-d LEVEL] [-c|-l|-p|-z] [--no-dmesg] [--leave-writing] VMCORE DEVICE");
  const Log log(0);

  int fd = ::open(dev_path.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) return die("creating " + dev_path + ": " + std::strerror(errno));
  ::close(fd);

  auto src = FileSource::open(in);
  if (!src.ok()) return die(src.error().message);
  auto dump = open_dump(**src);
  if (!dump.ok()) return die(dump.error().message);
  auto prepared = prepare_conversion(**dump, settings.dump_level, log);
  if (!prepared.ok()) return die(prepared.error().message);
  PreparedDump& p = **prepared;

  // The header's identity, from the same places the agent takes it.
  DumpHeaderInfo hi;
  std::vector<std::string> degr;
  fill_header_identity(hi, p.id, p.mem ? &*p.mem : nullptr, degr);
  ContainerInfo ci;
  ci.crash_time = hi.crash_time;
  ci.write_time = std::time(nullptr);
  ci.release = hi.uts.release;
  ci.hostname = hi.uts.nodename;
  if (p.id.vmcoreinfo) ci.build_id = p.id.vmcoreinfo->string("BUILD-ID").value_or("");
  std::string log_text;
  if (p.mem && p.id.vmcoreinfo) {
    VirtReader read = [&](VirtAddr va, std::span<std::byte> out) { return p.mem->read_virt(va, out); };
    auto l = extract_dmesg(*p.id.vmcoreinfo, read, {});
    if (l.ok()) log_text = l->text;
  }
  if (auto k = log_text.rfind("Kernel panic - not syncing: "); k != std::string::npos)
    ci.panic_string = log_text.substr(k, log_text.find('\n', k) - k);

  auto sink = DeviceSink::open(dev_path);
  if (!sink.ok()) return die(sink.error().message);
  auto readback = FileSource::open(dev_path);
  if (!readback.ok()) return die(readback.error().message);
  ContainerWriter w(**sink, readback->get(), (*sink)->size());
  if (auto r = w.begin(ci); !r.ok()) return die(r.error().message);
  if (dmesg && !log_text.empty()) {
    auto s = w.open_section("dmesg", SectionType::kDmesg);
    if (!s.ok()) return die(s.error().message);
    auto wr = (*s)->write_at(FileOffset(0), std::as_bytes(std::span(log_text.data(), log_text.size())));
    auto cr = w.close_section(wr.ok() ? SectionState::kComplete : SectionState::kIncomplete, std::time(nullptr));
    if (!cr.ok()) return die(cr.error().message);
  }
  auto s = w.open_section("vmcore", SectionType::kDump);
  if (!s.ok()) return die(s.error().message);
  auto stats = write_conversion(**dump, p, **s, settings, log);
  if (!stats.ok()) std::fprintf(stderr, "make-container: dump cut short: %s\n", stats.error().message.c_str());
  if (leave_writing) {  // as if the capture kernel lost power here
    if (auto r = (*s)->checkpoint(); !r.ok()) return die(r.error().message);
    return 0;
  }
  auto cr = w.close_section(stats.ok() ? SectionState::kComplete : SectionState::kIncomplete, std::time(nullptr));
  if (!cr.ok()) return die(cr.error().message);
  std::fprintf(stderr, "make-container: %s: vmcore section %s\n", dev_path.c_str(), stats.ok() ? "complete" : "incomplete");
  return 0;
}

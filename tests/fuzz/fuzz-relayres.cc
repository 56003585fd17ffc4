// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the relayres channel parser (formats/relayres.h). Structure-aware,
// so an empty corpus already reaches the record walk: the first 4 input
// bytes choose a geometry (cpus, sub-buffers, mode, events) and a valid
// channel is written by the test-side writer (the module's protocol); the
// rest of the input is patches [u16 LE offset/8][u8 value] applied to the
// region before it is parsed, damaging headers, counters and records.
// Input starting with 0xff is parsed raw instead (as its own region). Both
// the in-memory and the streaming (ByteSource) reader run and must agree.
#include <cstring>

#include "formats/byte-source.h"
#include "formats/relayres.h"
#include "tests/fuzz/fuzz-common.h"
#include "tests/tools/relayres-writer.h"

using namespace salvage;

namespace {

void check(std::span<const std::byte> region, u64 phys) {
  auto ch = parse_relayres(region, phys);
  if (!ch.ok()) {
    FUZZ_CHECK(!ch.error().message.empty());
    return;
  }
  for (const auto& c : ch->cpus)
    for (size_t i = 0; i < c.records.size(); ++i) {
      const auto& r = c.records[i];
      FUZZ_CHECK(r.off + r.len <= region.size());
      FUZZ_CHECK(r.len >= sizeof(relayres_record));
      FUZZ_CHECK(r.cpu == c.cpu);
      FUZZ_CHECK(i == 0 || r.seq > c.records[i - 1].seq);
      (void)format_relayres_record(ch->header, relayres_record_bytes(region, r));
    }
  // The merge keeps every CPU's own order; it is chronological whenever
  // each CPU's timestamps are (a damaged ts may step back).
  const auto m = merge_relayres(*ch);
  FUZZ_CHECK(m.size() == ch->total_records());
  bool monotonic = true;
  for (const auto& c : ch->cpus)
    for (size_t i = 1; i < c.records.size(); ++i) monotonic &= c.records[i - 1].ts <= c.records[i].ts;
  std::vector<size_t> next(ch->cpus.size(), 0);
  for (size_t i = 0; i < m.size(); ++i) {
    FUZZ_CHECK(m[i].cpu < ch->cpus.size());
    FUZZ_CHECK(m[i].seq == ch->cpus[m[i].cpu].records[next[m[i].cpu]++].seq);
    if (monotonic && i) FUZZ_CHECK(m[i - 1].ts <= m[i].ts);
  }
  (void)render_relayres_summary(*ch);
  // The streaming reader (the capture's path) finds the same records, in
  // the same orders, reading the region again one sub-buffer at a time.
  MemorySource src(region);
  auto sch = parse_relayres(src, phys);
  FUZZ_CHECK(sch.ok());
  FUZZ_CHECK(sch->total_records() == ch->total_records());
  for (const auto& c : sch->cpus) {
    size_t i = 0;
    auto r = for_each_cpu_record(src, *sch, c.cpu, [&](const RelayresRecordRef& rec, std::span<const std::byte> fr) {
      FUZZ_CHECK(i < ch->cpus[c.cpu].records.size() && rec.off == ch->cpus[c.cpu].records[i].off);
      FUZZ_CHECK(fr.size() == rec.len);
      ++i;
      return Result<void>(Ok());
    });
    FUZZ_CHECK(r.ok() && i == ch->cpus[c.cpu].records.size());
  }
  size_t k = 0;
  auto r = for_each_merged_record(src, *sch, [&](const RelayresRecordRef& rec, std::span<const std::byte>) {
    FUZZ_CHECK(k < m.size() && rec.off == m[k].off);
    ++k;
    return Result<void>(Ok());
  });
  FUZZ_CHECK(r.ok() && k == m.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size >= 1 && data[0] == 0xff) {
    std::vector<std::byte> raw(size - 1);
    if (!raw.empty()) std::memcpy(raw.data(), data + 1, raw.size());
    u64 phys = 0;
    if (raw.size() >= 24) std::memcpy(&phys, raw.data() + 16, 8);  // accept its own region_phys
    check(raw, phys);
    return 0;
  }
  uint8_t g4[4] = {0, 0, 0, 0};
  std::memcpy(g4, data, size < 4 ? size : 4);
  testing::RelayresGeometry g;
  g.nr_cpus = 1 + g4[0] % 4;
  g.n_subbufs = 2 + g4[1] % 3;
  g.overwrite = !(g4[2] & 1);
  testing::RelayresWriter w(g);
  const unsigned events = g4[3] * 4u;
  for (unsigned i = 0; i < events; ++i) {
    const u32 cpu = i % g.nr_cpus;
    w.write(cpu, RELAYRES_EV_TEST, 1000 + i * 7, testing::relayres_test_payload(i, cpu));
  }
  for (size_t p = 4; p + 3 <= size; p += 3) {
    const size_t off = (size_t{data[p]} | size_t{data[p + 1]} << 8) * 8 % w.region.size();
    w.region[off] = static_cast<std::byte>(data[p + 2]);
  }
  check(w.region, g.phys);
  return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// The relayres reader against a test-side writer that follows the module's
// protocol (tests/tools/relayres-writer.h), including the states a crash
// leaves part way through a step, and the bad inputs issue 5 lists.
#include "formats/relayres.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "tests/tools/relayres-writer.h"

namespace salvage {
namespace {

using testing::RelayresGeometry;
using testing::RelayresWriter;
using testing::relayres_test_payload;

constexpr u64 kPhys = 0x5000000;

// Writes n test events on every CPU, interleaved, with ts = 1000*i + cpu.
void fill(RelayresWriter& w, u64 n) {
  const u32 cpus = w.geometry().nr_cpus;
  for (u64 i = 0; i < n; ++i)
    for (u32 c = 0; c < cpus; ++c) w.write(c, RELAYRES_EV_TEST, 2'000'000'000 + i * 1000 + c, relayres_test_payload(i, c));
}

// Every CPU's retained records are consecutive and their payload counters
// match their sequence numbers.
void expect_consecutive(std::span<const std::byte> region, const RelayresCpuStream& s) {
  for (size_t i = 0; i < s.records.size(); ++i) {
    const auto& r = s.records[i];
    if (i) {
      ASSERT_EQ(r.seq, s.records[i - 1].seq + 1) << "cpu " << s.cpu << " index " << i;
    }
    ASSERT_EQ(r.cpu, s.cpu);
    relayres_ev_test e;
    std::memcpy(&e, region.data() + r.off + sizeof(relayres_record), sizeof e);
    ASSERT_EQ(e.counter, r.seq);
    ASSERT_EQ(e.cpu, s.cpu);
  }
}

TEST(Relayres, SmallChannelRebuildsEveryRecordInOrder) {
  RelayresWriter w(RelayresGeometry{});
  fill(w, 20);
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok()) << ch.error().message;
  ASSERT_EQ(ch->cpus.size(), 2u);
  for (const auto& c : ch->cpus) {
    ASSERT_EQ(c.records.size(), 20u);
    EXPECT_EQ(c.records.front().seq, 0u);
    EXPECT_EQ(c.gaps, 0u);
    EXPECT_EQ(c.before_window, 0u);
    EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
    expect_consecutive(w.region, c);
  }
  EXPECT_TRUE(ch->priv.valid);
  EXPECT_EQ(ch->priv.producer, "relayres-demo");
  EXPECT_EQ(ch->priv.consumed, 0u);
  EXPECT_EQ(ch->header.release, "6.1.0-test-amd64");
  EXPECT_EQ(ch->header.boot_id, "10111213-1415-1617-1819-1a1b1c1d1e1f");
}

TEST(Relayres, WrapAroundKeepsTheNewestConsecutiveWindow) {
  RelayresGeometry g;
  g.nr_cpus = 4;
  RelayresWriter w(g);
  fill(w, 2000);  // 40-byte records, 101 per sub-buffer: wraps ~5 times
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok()) << ch.error().message;
  for (const auto& c : ch->cpus) {
    EXPECT_EQ(c.subbufs_kept, 4u);
    EXPECT_GT(c.first_sb_seq, 0u) << "wrapped";
    EXPECT_EQ(c.records.back().seq, 1999u) << "the newest record is kept";
    EXPECT_GT(c.before_window, 0u);
    EXPECT_EQ(c.before_window, c.records.front().seq);
    EXPECT_EQ(c.gaps, 0u);
    EXPECT_EQ(c.ctl.overwritten, c.first_sb_seq);
    EXPECT_GT(c.padding_bytes, 0u) << "padding at the end of closed sub-buffers is stripped";
    EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
    expect_consecutive(w.region, c);
  }
}

TEST(Relayres, NoOverwriteKeepsTheFirstEventsAndCountsTheLoss) {
  RelayresGeometry g;
  g.overwrite = false;
  RelayresWriter w(g);
  fill(w, 1000);
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok()) << ch.error().message;
  for (const auto& c : ch->cpus) {
    ASSERT_FALSE(c.records.empty());
    EXPECT_EQ(c.records.front().seq, 0u) << "the first events are kept";
    EXPECT_EQ(c.first_sb_seq, 0u);
    EXPECT_EQ(c.ctl.lost, 1000u - c.records.size()) << "every refused event is counted";
    EXPECT_LT(c.records.size(), 1000u);
    expect_consecutive(w.region, c);
  }
}

TEST(Relayres, CrashBeforeCommitDropsOnlyTheUncommittedRecord) {
  RelayresWriter w(RelayresGeometry{});
  fill(w, 50);
  w.crash_before_commit(0, RELAYRES_EV_TEST, 9'000'000'000, relayres_test_payload(50, 0));
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->cpus[0].records.size(), 50u);
  EXPECT_EQ(ch->cpus[0].records.back().seq, 49u);
  EXPECT_EQ(ch->cpus[0].torn, 0u);
  EXPECT_TRUE(ch->cpus[0].warnings.empty()) << ch->cpus[0].warnings.front();
}

TEST(Relayres, CrashBeforeProducedIncrementIsConsistent) {
  RelayresWriter w(RelayresGeometry{});
  fill(w, 150);
  w.crash_before_produced(1);
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->cpus[1].records.back().seq, 149u);
  EXPECT_TRUE(ch->cpus[1].warnings.empty()) << ch->cpus[1].warnings.front();
}

TEST(Relayres, HalfWrittenSubbufferHeaderIsDroppedAndTheRestKept) {
  for (int fields = 0; fields <= 4; ++fields) {
    RelayresWriter w(RelayresGeometry{});
    fill(w, 600);  // wrapped: the slot being reopened held an old sub-buffer
    const u64 last = w.next_seq(0) - 1;
    w.crash_half_open(0, fields);
    auto ch = parse_relayres(w.region, kPhys);
    ASSERT_TRUE(ch.ok());
    const auto& c = ch->cpus[0];
    // commit = 0 comes first: the old sub-buffer in that slot is dropped
    // whatever identity stores followed (commit outside [64, size], or the
    // CRC broken by the new sb_seq).
    EXPECT_EQ(c.slots_bad, 1u) << fields;
    EXPECT_EQ(c.subbufs_kept, 3u) << fields;
    EXPECT_EQ(c.records.back().seq, last) << "the last closed sub-buffer is whole";
    EXPECT_EQ(c.gaps, 0u);
    expect_consecutive(w.region, c);
  }
}

TEST(Relayres, TornRecordInsideCommitStopsThatSubbufferWithAWarning) {
  RelayresWriter w(RelayresGeometry{});
  fill(w, 30);
  // Damage the 11th record's len on cpu 0 (40-byte records from offset 64).
  const u64 at = w.current_slot_base(0) + 64 + 10 * 40;
  const u32 bad = 100000;
  std::memcpy(w.region.data() + at, &bad, 4);
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->cpus[0].records.size(), 10u);
  EXPECT_EQ(ch->cpus[0].torn, 1u);
  ASSERT_FALSE(ch->cpus[0].warnings.empty());
  EXPECT_NE(ch->cpus[0].warnings[0].find("len 100000"), std::string::npos) << ch->cpus[0].warnings[0];
  EXPECT_EQ(ch->cpus[1].records.size(), 30u) << "other CPUs are unaffected";
}

TEST(Relayres, StaleGenerationSubbuffersAreIgnored) {
  RelayresWriter w(RelayresGeometry{});
  fill(w, 400);  // generation 1 fills every slot (100 records each)
  w.init(2);     // the next boot: slot 0 reopened, slots 1..3 still hold generation 1
  fill(w, 5);
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok());
  for (const auto& c : ch->cpus) {
    EXPECT_EQ(c.records.size(), 5u);
    EXPECT_EQ(c.slots_stale, 3u);
    EXPECT_EQ(c.records.front().seq, 0u);
  }
}

TEST(Relayres, InconsistentCountersAreWarningsNotErrors) {
  RelayresWriter w(RelayresGeometry{});
  fill(w, 40);
  w.bump_ctl(0, [](relayres_cpu_ctl& k) {
    k.produced = 77;
    k.next_rec_seq = 3;
  });
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->cpus[0].records.size(), 40u) << "the control block is only a cross-check";
  std::string all;
  for (const auto& s : ch->cpus[0].warnings) all += s + "\n";
  EXPECT_NE(all.find("produced 77"), std::string::npos) << all;
  EXPECT_NE(all.find("next_rec_seq 3"), std::string::npos) << all;
  EXPECT_NE(render_relayres_summary(*ch).find("inconsistent counters"), std::string::npos);
}

TEST(Relayres, TornControlBlockIsNotCrossChecked) {
  RelayresWriter w(RelayresGeometry{});
  fill(w, 40);
  relayres_cpu_ctl k;
  std::memcpy(&k, w.region.data() + w.ctl_off(1), sizeof k);
  k.seqcount |= 1;
  k.produced = 12345;
  std::memcpy(w.region.data() + w.ctl_off(1), &k, sizeof k);
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->cpus[1].records.size(), 40u);
  ASSERT_EQ(ch->cpus[1].warnings.size(), 1u);
  EXPECT_NE(ch->cpus[1].warnings[0].find("seqcount odd"), std::string::npos);
}

TEST(Relayres, AnyCpuCountWorks) {
  for (u32 n : {1u, 3u, 64u}) {
    RelayresGeometry g;
    g.nr_cpus = n;
    g.n_subbufs = 2;
    RelayresWriter w(g);
    fill(w, 150);
    auto ch = parse_relayres(w.region, kPhys);
    ASSERT_TRUE(ch.ok()) << n << ": " << ch.error().message;
    ASSERT_EQ(ch->cpus.size(), n);
    for (const auto& c : ch->cpus) {
      EXPECT_EQ(c.records.back().seq, 149u);
      expect_consecutive(w.region, c);
    }
  }
}

TEST(Relayres, MergeIsChronologicalWithCpuAndSeqTieBreaks) {
  RelayresGeometry g;
  g.nr_cpus = 3;
  RelayresWriter w(g);
  // cpu 2 writes first in time, cpu 0 and 1 tie on ts.
  w.write(2, RELAYRES_EV_TEST, 100, relayres_test_payload(0, 2));
  w.write(1, RELAYRES_EV_TEST, 200, relayres_test_payload(0, 1));
  w.write(0, RELAYRES_EV_TEST, 200, relayres_test_payload(0, 0));
  w.write(0, RELAYRES_EV_TEST, 200, relayres_test_payload(1, 0));
  w.write(2, RELAYRES_EV_TEST, 150, relayres_test_payload(1, 2));
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok());
  auto m = merge_relayres(*ch);
  ASSERT_EQ(m.size(), 5u);
  const std::pair<u16, u64> want[] = {{2, 0}, {2, 1}, {0, 0}, {0, 1}, {1, 0}};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(m[i].cpu, want[i].first) << i;
    EXPECT_EQ(m[i].seq, want[i].second) << i;
  }
  for (size_t i = 1; i < m.size(); ++i) EXPECT_LE(m[i - 1].ts, m[i].ts);
}

// ---- bad inputs -------------------------------------------------------------

std::string parse_error(std::span<const std::byte> region, u64 phys = kPhys) {
  auto ch = parse_relayres(region, phys);
  return ch.ok() ? "(accepted)" : ch.error().message;
}

TEST(RelayresBadInput, ZeroedRegion) {
  std::vector<std::byte> zero(64 * 4096);
  EXPECT_NE(parse_error(zero).find("all zeroes"), std::string::npos) << parse_error(zero);
}

TEST(RelayresBadInput, GarbageHeader) {
  RelayresWriter w(RelayresGeometry{});
  for (size_t i = 0; i < 4096; ++i) w.region[i] = static_cast<std::byte>(i * 37 + 11);
  const std::string e = parse_error(w.region);
  EXPECT_NE(e.find("magic (offset 0)"), std::string::npos) << e;
}

TEST(RelayresBadInput, HeaderCrcMismatch) {
  RelayresWriter w(RelayresGeometry{});
  w.region[offsetof(relayres_header, nr_cpus)] = std::byte{3};  // no reseal
  const std::string e = parse_error(w.region);
  EXPECT_NE(e.find("hdr_crc (offset 252)"), std::string::npos) << e;
}

TEST(RelayresBadInput, SubbufSizeNotAPowerOfTwo) {
  RelayresWriter w(RelayresGeometry{});
  w.edit_header([](relayres_header& h) { h.subbuf_size = 6144; });
  const std::string e = parse_error(w.region);
  EXPECT_NE(e.find("subbuf_size (offset 40): 6144 is not a power of two"), std::string::npos) << e;
}

TEST(RelayresBadInput, NewerVersionIsRefused) {
  RelayresWriter w(RelayresGeometry{});
  w.edit_header([](relayres_header& h) { h.version = RELAYRES_VERSION + 1; });
  EXPECT_NE(parse_error(w.region).find("version (offset 8): 2 not supported"), std::string::npos);
}

TEST(RelayresBadInput, ExtraHeaderBytesUpToHeaderSizeAreAccepted) {
  RelayresWriter w(RelayresGeometry{});
  w.region[300] = std::byte{0x5a};  // a future field
  w.edit_header([](relayres_header& h) { h.header_size = 512; });
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok()) << ch.error().message;
  w.region[300] = std::byte{0x5b};  // covered by hdr_crc
  EXPECT_NE(parse_error(w.region).find("hdr_crc"), std::string::npos);
}

TEST(RelayresBadInput, ReadAtAnotherAddress) {
  RelayresWriter w(RelayresGeometry{});
  const std::string e = parse_error(w.region, 0x6000000);
  EXPECT_NE(e.find("region_phys (offset 16)"), std::string::npos) << e;
}

TEST(RelayresBadInput, RegionSizeDisagreesWithWhatWasRead) {
  RelayresWriter w(RelayresGeometry{});
  auto shorter = std::span<const std::byte>(w.region).first(w.region.size() - 4096);
  EXPECT_NE(parse_error(shorter).find("region_size (offset 24)"), std::string::npos);
}

TEST(RelayresBadInput, ImpossibleGeometry) {
  struct Case {
    void (*edit)(relayres_header&);
    const char* field;
  };
  const Case cases[] = {
      {[](relayres_header& h) { h.nr_cpus = 0; }, "nr_cpus (offset 32)"},
      {[](relayres_header& h) { h.nr_cpus = 9000; }, "nr_cpus (offset 32)"},
      {[](relayres_header& h) { h.n_subbufs = 1; }, "n_subbufs (offset 44)"},
      {[](relayres_header& h) { h.n_subbufs = 0x7fffffff; }, "n_subbufs (offset 44)"},
      {[](relayres_header& h) { h.nr_cpus = 8000; }, "cpu_ctl_off"},
      {[](relayres_header& h) { h.data_off = 4096 + 8; }, "data_off"},
      {[](relayres_header& h) { h.private_off = h.region_size; }, "private_off"},
      {[](relayres_header& h) { h.header_size = 100; }, "header_size"},
  };
  for (const auto& c : cases) {
    RelayresWriter w(RelayresGeometry{});
    w.edit_header(c.edit);
    const std::string e = parse_error(w.region);
    EXPECT_NE(e.find(c.field), std::string::npos) << c.field << ": " << e;
  }
}

TEST(RelayresBadInput, TooSmallRegion) {
  std::vector<std::byte> tiny(100);
  EXPECT_NE(parse_error(tiny).find("too small"), std::string::npos);
}

// ---- text -------------------------------------------------------------------

TEST(RelayresText, DecodesTheDemoProducersEvents) {
  RelayresGeometry g;
  g.nr_cpus = 1;
  RelayresWriter w(g);
  relayres_ev_sched_switch ss{};
  ss.prev_pid = 12;
  ss.next_pid = 0;
  std::strcpy(ss.prev_comm, "kworker/0:1");
  std::strcpy(ss.next_comm, "swapper/0");
  relayres_ev_irq irq{};
  irq.irq = 24;
  relayres_ev_panic pn{};
  pn.pid = 1;
  std::strcpy(pn.comm, "labinit");
  std::strcpy(pn.message, "sysrq triggered crash\n");
  const char marker[] = "last-marker 42\n";
  auto bytes = [](const auto& v) { return std::as_bytes(std::span(&v, 1)); };
  const u64 ts = g.anchor_clock_ns + 1'500'000'000;  // 1.5 s after the anchor
  w.write(0, RELAYRES_EV_SCHED_SWITCH, ts, bytes(ss));
  w.write(0, RELAYRES_EV_IRQ, ts + 1, bytes(irq));
  w.write(0, RELAYRES_EV_MARKER, ts + 2, std::as_bytes(std::span(marker, sizeof marker - 1)));
  w.write(0, RELAYRES_EV_TEST, ts + 3, relayres_test_payload(7, 0));
  w.write(0, RELAYRES_EV_PANIC, ts + 4, bytes(pn));
  auto ch = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(ch.ok());
  std::vector<std::string> lines;
  for (const auto& r : ch->cpus[0].records)
    lines.push_back(format_relayres_record(ch->header, relayres_record_bytes(w.region, r)));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "2023-11-14 22:13:21.500000000 cpu0 seq=0 sched_switch prev=kworker/0:1/12 state=0x0 next=swapper/0/0");
  EXPECT_NE(lines[1].find("seq=1 irq irq=24"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("marker \"last-marker 42\""), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("test counter=7 cpu=0"), std::string::npos) << lines[3];
  EXPECT_NE(lines[4].find("panic pid=1 comm=labinit message=\"sysrq triggered crash\""), std::string::npos) << lines[4];
}

// ---- The streaming reader: bounded reads, the same records.

// A MemorySource that remembers the largest single read and the total read.
class CountingSource final : public ByteSource {
 public:
  explicit CountingSource(std::span<const std::byte> d) : mem_(d) {}
  Result<void> read_at(FileOffset off, std::span<std::byte> out) override {
    max_read = std::max<u64>(max_read, out.size());
    total += out.size();
    return mem_.read_at(off, out);
  }
  u64 size() const override { return mem_.size(); }
  std::string name() const override { return "counting"; }
  u64 max_read = 0, total = 0;

 private:
  MemorySource mem_;
};

TEST(RelayresStream, ParsesFromAByteSourceOneSubbufferAtATime) {
  RelayresGeometry g;
  g.nr_cpus = 4;
  g.n_subbufs = 16;
  RelayresWriter w(g);
  fill(w, 3000);  // wraps: every slot holds records
  // A torn record in a kept sub-buffer, so the warnings are exercised too.
  const u64 at = w.current_slot_base(2) + 64 + 3 * 40;
  const u32 bad = 7;
  std::memcpy(w.region.data() + at, &bad, 4);
  auto mem = parse_relayres(w.region, kPhys);
  ASSERT_TRUE(mem.ok()) << mem.error().message;
  CountingSource src(w.region);
  auto ch = parse_relayres(src, kPhys);
  ASSERT_TRUE(ch.ok()) << ch.error().message;
  // No read larger than a sub-buffer; every byte read about once.
  EXPECT_LE(src.max_read, g.subbuf_size);
  EXPECT_LE(src.total, w.region.size());
  EXPECT_EQ(ch->warnings, mem->warnings);
  EXPECT_EQ(ch->total_records(), mem->total_records());
  EXPECT_EQ(render_relayres_summary(*ch), render_relayres_summary(*mem));
  for (u32 c = 0; c < g.nr_cpus; ++c) {
    const auto& s = ch->cpus[c];
    EXPECT_TRUE(s.records.empty()) << "the streaming parse keeps no record list";
    ASSERT_EQ(s.record_count, mem->cpus[c].records.size());
    EXPECT_EQ(s.warnings, mem->cpus[c].warnings);
    EXPECT_EQ(s.torn, mem->cpus[c].torn);
    EXPECT_EQ(s.first_seq, mem->cpus[c].records.front().seq);
    EXPECT_EQ(s.last_seq, mem->cpus[c].records.back().seq);
    src.max_read = 0;
    size_t i = 0;
    u64 bytes = 0;
    auto r = for_each_cpu_record(src, *ch, c, [&](const RelayresRecordRef& rec, std::span<const std::byte> fr) -> Result<void> {
      const auto& want = mem->cpus[c].records.at(i++);
      EXPECT_EQ(rec.off, want.off);
      EXPECT_EQ(rec.seq, want.seq);
      const auto wb = relayres_record_bytes(w.region, want);
      EXPECT_TRUE(std::equal(fr.begin(), fr.end(), wb.begin(), wb.end()));
      bytes += round_up(rec.len, RELAYRES_RECORD_ALIGN);
      return Ok();
    });
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(i, s.record_count);
    EXPECT_EQ(bytes, s.stream_bytes);
    EXPECT_LE(src.max_read, g.subbuf_size);
  }
  const auto want = merge_relayres(*mem);
  size_t i = 0;
  auto r = for_each_merged_record(src, *ch, [&](const RelayresRecordRef& rec, std::span<const std::byte>) -> Result<void> {
    EXPECT_EQ(rec.off, want.at(i).off) << i;
    ++i;
    return Ok();
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(i, want.size());
}

TEST(RelayresStream, ARegionThatChangesBetweenPassesIsAnErrorNotAnotherStream) {
  RelayresWriter w(RelayresGeometry{});
  fill(w, 30);
  MemorySource src(w.region);
  auto ch = parse_relayres(src, kPhys);
  ASSERT_TRUE(ch.ok());
  // Now a record is torn (a live writer, or damage): the replay finds fewer.
  const u32 bad = 100000;
  std::memcpy(w.region.data() + w.current_slot_base(0) + 64 + 10 * 40, &bad, 4);
  auto r = for_each_cpu_record(src, *ch, 0, [](const RelayresRecordRef&, std::span<const std::byte>) { return Result<void>(Ok()); });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("changed"), std::string::npos) << r.error().message;
  auto m = for_each_merged_record(src, *ch, [](const RelayresRecordRef&, std::span<const std::byte>) { return Result<void>(Ok()); });
  EXPECT_FALSE(m.ok());
  EXPECT_FALSE(for_each_cpu_record(src, *ch, 9, [](const RelayresRecordRef&, std::span<const std::byte>) { return Result<void>(Ok()); }).ok());
}

}  // namespace
}  // namespace salvage

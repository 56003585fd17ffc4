// SPDX-License-Identifier: GPL-2.0-or-later
// The raw-device dump container: round trips in memory and on a file
// "device", a full device, one bad MiB, a truncated table, garbage headers
// (errors name the field and offset), and the section state transitions.
#include "formats/container.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/file-source.h"
#include "agent/save-device.h"
#include "formats/crc32c.h"

namespace salvage {
namespace {

// A fixed-size device in memory: writes past the end fail with ENOSPC.
class MemDevice final : public Sink, public ByteSource {
 public:
  explicit MemDevice(size_t size, std::byte fill = std::byte{0}) : bytes(size, fill) {}
  Result<void> write_at(FileOffset off, std::span<const std::byte> d) override {
    if (off.value + d.size() > bytes.size()) return Error{"memdev: write beyond the end", ENOSPC};
    std::memcpy(bytes.data() + off.value, d.data(), d.size());
    ++writes;
    return Ok();
  }
  Result<void> finish() override {
    ++syncs;
    return Ok();
  }
  Result<void> read_at(FileOffset off, std::span<std::byte> out) override {
    return MemorySource(bytes).read_at(off, out);
  }
  u64 size() const override { return bytes.size(); }
  std::string name() const override { return "memdev"; }
  std::vector<std::byte> bytes;
  int writes = 0, syncs = 0;
};

std::vector<std::byte> pattern(size_t n, u32 seed) {
  std::vector<std::byte> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

std::span<const std::byte> text(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

ContainerInfo sample_info() {
  ContainerInfo i;
  i.crash_time = 1700000000;
  i.write_time = 1700000005;
  i.release = "6.1.0-test-amd64";
  i.hostname = "lab";
  i.build_id = "0123456789abcdef0123456789abcdef01234567";
  i.panic_string = "Kernel panic - not syncing: sysrq triggered crash";
  return i;
}

std::vector<std::byte> read_section(const ContainerReader& r, const SectionInfo& s) {
  auto src = r.section_data(s);
  std::vector<std::byte> v(src->size());
  EXPECT_TRUE(src->read_at(FileOffset(0), v).ok());
  return v;
}

TEST(Crc32c, KnownVectorsAndBothPathsAgree) {
  EXPECT_EQ(crc32c(text("123456789")), 0xE3069283u);  // RFC 3720 check value
  EXPECT_EQ(crc32c({}), 0u);
  std::vector<std::byte> zeros(32);
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
  auto data = pattern(100003, 1);
  EXPECT_EQ(crc32c(data), crc32c_portable(data));
  // Continuation: crc of a ++ b from crc of a.
  auto s = std::span<const std::byte>(data);
  EXPECT_EQ(crc32c(s.subspan(777), crc32c(s.first(777))), crc32c(data));
}

TEST(Container, StructSizesAndEntryAlignment) {
  EXPECT_EQ(sizeof(ContainerHeaderDisk), 1024u);
  EXPECT_EQ(sizeof(SectionEntryDisk), 128u);
  EXPECT_EQ(512 % sizeof(SectionEntryDisk), 0u) << "an entry must never straddle a sector";
}

TEST(Container, RoundTripInMemory) {
  MemDevice dev(16 << 20, std::byte{0xAA});  // old bytes on the device
  ContainerWriter w(dev, &dev, dev.size());
  ASSERT_TRUE(w.begin(sample_info()).ok());
  auto dm = w.open_section("dmesg", SectionType::kDmesg);
  ASSERT_TRUE(dm.ok()) << dm.error().message;
  const std::string log = "[    0.000000] Linux version 6.1\n[   42.0] Kernel panic\n";
  ASSERT_TRUE((*dm)->write_at(FileOffset(0), text(log)).ok());
  ASSERT_TRUE(w.close_section(SectionState::kComplete, 1700000006).ok());

  // A dump written the way the kdump writer does it: header, data runs
  // further on, and a final rewrite of the header (out of order).
  auto vm = w.open_section("vmcore", SectionType::kDump);
  ASSERT_TRUE(vm.ok());
  auto body = pattern(3 * kCrcChunk + 12345, 2);
  auto head = std::span<const std::byte>(body).first(8192);
  ASSERT_TRUE((*vm)->write_at(FileOffset(0), head).ok());
  ASSERT_TRUE((*vm)->write_at(FileOffset(8192), std::span<const std::byte>(body).subspan(8192)).ok());
  ASSERT_TRUE((*vm)->write_at(FileOffset(0), head.first(4096)).ok());
  ASSERT_TRUE(w.close_section(SectionState::kComplete).ok());

  auto r = ContainerReader::open(dev);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->warnings().empty());
  EXPECT_EQ(r->info().release, "6.1.0-test-amd64");
  EXPECT_EQ(r->info().hostname, "lab");
  EXPECT_EQ(r->info().build_id, sample_info().build_id);
  EXPECT_EQ(r->info().panic_string, sample_info().panic_string);
  EXPECT_EQ(r->info().crash_time, 1700000000);
  ASSERT_EQ(r->sections().size(), 2u);
  const SectionInfo* d = r->find("dmesg");
  const SectionInfo* v = r->find("vmcore");
  ASSERT_TRUE(d && v);
  EXPECT_EQ(d->state, SectionState::kComplete);
  EXPECT_EQ(d->closed_time, 1700000006);
  EXPECT_EQ(v->type, SectionType::kDump);
  EXPECT_EQ(v->length, body.size());
  EXPECT_EQ(v->crc_count, 4u);
  EXPECT_EQ(v->offset % kContainerBlock, 0u);
  EXPECT_GE(v->offset, d->crc_offset + d->crc_count * 4) << "sections must not overlap";
  auto dbytes = read_section(*r, *d);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(dbytes.data()), dbytes.size()), log);
  EXPECT_EQ(read_section(*r, *v), body);
  auto rep = r->verify(*v);
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->chunks_checked, 4u);
  EXPECT_TRUE(rep->bad_chunks.empty());
  // Reads past the section's end are errors, not bytes of the next section.
  std::byte b[2];
  EXPECT_FALSE(r->section_data(*d)->read_at(FileOffset(log.size() - 1), b).ok());
}

TEST(Container, RoundTripOnAFileDevice) {
  char tmpl[] = "/tmp/salvage-container-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 8 << 20), 0);
  close(fd);
  auto sink = DeviceSink::open(tmpl);
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  EXPECT_EQ((*sink)->size(), 8u << 20);
  auto rb = FileSource::open(tmpl);
  ASSERT_TRUE(rb.ok());
  ContainerWriter w(**sink, rb->get(), (*sink)->size());
  ASSERT_TRUE(w.begin(sample_info()).ok());
  auto s = w.open_section("vmcore", SectionType::kDump);
  ASSERT_TRUE(s.ok());
  auto body = pattern(2 * kCrcChunk + 1, 3);
  // Backwards, in 64 KiB pieces: every MiB must be read back to checksum.
  for (u64 off = body.size(); off > 0;) {
    u64 n = std::min<u64>(off, 65536);
    off -= n;
    ASSERT_TRUE((*s)->write_at(FileOffset(off), std::span<const std::byte>(body).subspan(off, n)).ok());
  }
  ASSERT_TRUE(w.close_section(SectionState::kComplete).ok());
  auto src = FileSource::open(tmpl);
  ASSERT_TRUE(src.ok());
  auto r = ContainerReader::open(**src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->sections().size(), 1u);
  EXPECT_EQ(read_section(*r, r->sections()[0]), body);
  auto rep = r->verify(r->sections()[0]);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->bad_chunks.empty());
  unlink(tmpl);
}

TEST(Container, FullDeviceGivesEnospcAndAnIncompleteSectionStillReads) {
  MemDevice dev(3 << 20);
  ContainerWriter w(dev, &dev, dev.size());
  ASSERT_TRUE(w.begin(sample_info()).ok());
  auto s = w.open_section("vmcore", SectionType::kDump);
  ASSERT_TRUE(s.ok());
  const u64 cap = (*s)->capacity();
  EXPECT_LT(cap, dev.size());
  EXPECT_GT(cap, dev.size() - (64 << 10)) << "only the header, table and CRC table are reserved";
  auto chunk = pattern(1 << 20, 4);
  u64 off = 0;
  Result<void> r = Ok();
  while ((r = (*s)->write_at(FileOffset(off), chunk)).ok()) off += chunk.size();
  EXPECT_EQ(r.error().sys_errno, ENOSPC);
  EXPECT_NE(r.error().message.find("section 'vmcore' is full at " + std::string("0x")), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find(std::to_string(cap - off) + " bytes left on device"), std::string::npos)
      << r.error().message;
  // The rest that fits still goes in.
  ASSERT_TRUE((*s)->write_at(FileOffset(off), std::span<const std::byte>(chunk).first(cap - off)).ok());
  ASSERT_TRUE(w.close_section(SectionState::kIncomplete).ok());
  EXPECT_FALSE(w.open_section("more", SectionType::kOther).ok()) << "no room left for another section";

  auto rd = ContainerReader::open(dev);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  const SectionInfo& v = rd->sections().at(0);
  EXPECT_EQ(v.state, SectionState::kIncomplete);
  EXPECT_TRUE(v.incomplete);
  EXPECT_EQ(v.length, cap);
  auto rep = rd->verify(v);
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_TRUE(rep->bad_chunks.empty());
  auto data = read_section(*rd, v);
  EXPECT_TRUE(std::equal(chunk.begin(), chunk.end(), data.begin()));
}

TEST(Container, BadCrcIsReportedForExactlyThatMiB) {
  MemDevice dev(12 << 20);
  ContainerWriter w(dev, &dev, dev.size());
  ASSERT_TRUE(w.begin(sample_info()).ok());
  auto s = w.open_section("vmcore", SectionType::kDump);
  auto body = pattern(5 * kCrcChunk, 5);
  ASSERT_TRUE((*s)->write_at(FileOffset(0), body).ok());
  ASSERT_TRUE(w.close_section(SectionState::kComplete).ok());
  auto r0 = ContainerReader::open(dev);
  ASSERT_TRUE(r0.ok());
  const u64 base = r0->sections()[0].offset;
  dev.bytes[base + 2 * kCrcChunk + 4321] ^= std::byte{1};
  auto r = ContainerReader::open(dev);
  ASSERT_TRUE(r.ok());
  auto rep = r->verify(r->sections()[0]);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->chunks_checked, 5u);
  EXPECT_EQ(rep->bad_chunks, std::vector<u64>{2});
  // A damaged CRC table is its own error.
  dev.bytes[r->sections()[0].crc_offset] ^= std::byte{1};
  auto rep2 = r->verify(r->sections()[0]);
  ASSERT_FALSE(rep2.ok());
  EXPECT_NE(rep2.error().message.find("CRC table at"), std::string::npos) << rep2.error().message;
}

TEST(Container, GapsBelowTheLengthAreZeroedNotOldBytes) {
  MemDevice dev(4 << 20, std::byte{0xAA});
  ContainerWriter w(dev, &dev, dev.size());
  ASSERT_TRUE(w.begin(sample_info()).ok());
  auto s = w.open_section("vmcore", SectionType::kDump);
  auto a = pattern(4096, 6);
  ASSERT_TRUE((*s)->write_at(FileOffset(0), a).ok());
  ASSERT_TRUE((*s)->write_at(FileOffset(3 * 4096), a).ok());
  ASSERT_TRUE(w.close_section(SectionState::kIncomplete).ok());
  auto r = ContainerReader::open(dev);
  ASSERT_TRUE(r.ok());
  auto data = read_section(*r, r->sections()[0]);
  ASSERT_EQ(data.size(), 4u * 4096);
  for (size_t i = 4096; i < 3 * 4096; ++i) ASSERT_EQ(data[i], std::byte{0}) << i;
  EXPECT_TRUE(r->verify(r->sections()[0])->bad_chunks.empty());
}

TEST(Container, TruncatedTableIsAClearError) {
  MemDevice dev(4 << 20);
  ContainerWriter w(dev, &dev, dev.size());
  ASSERT_TRUE(w.begin(sample_info()).ok());
  MemorySource cut(std::span(dev.bytes).first(kTableOffset + 1000), "cut");
  auto r = ContainerReader::open(cut);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("section table 0x1000..0x3000"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;
}

TEST(Container, GarbageHeadersNameFieldAndOffset) {
  MemDevice dev(4 << 20);
  ContainerWriter w(dev, &dev, dev.size());
  ASSERT_TRUE(w.begin(sample_info()).ok());
  auto good = dev.bytes;

  auto garbage = pattern(8192, 7);
  MemorySource g(garbage, "garbage");
  EXPECT_FALSE(*ContainerReader::probe(g));
  auto r1 = ContainerReader::open(g);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.error().message.find("magic at offset 0x0"), std::string::npos) << r1.error().message;

  u32 v7 = 7;
  std::memcpy(dev.bytes.data() + offsetof(ContainerHeaderDisk, version), &v7, 4);
  auto r2 = ContainerReader::open(dev);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("version at offset 0x10 is 7"), std::string::npos) << r2.error().message;

  dev.bytes = good;
  dev.bytes[offsetof(ContainerHeaderDisk, release)] = std::byte{'7'};
  auto r3 = ContainerReader::open(dev);
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.error().message.find("header_crc at offset 0x3fc"), std::string::npos) << r3.error().message;

  MemorySource tiny{std::span(good).first(100), "tiny"};
  auto r4 = ContainerReader::open(tiny);
  ASSERT_FALSE(r4.ok());
  EXPECT_NE(r4.error().message.find("header needs 1024 bytes"), std::string::npos) << r4.error().message;
}

TEST(Container, StateTransitionsAreInPlaceAndCrashSafe) {
  MemDevice dev(8 << 20);
  ContainerWriter w(dev, &dev, dev.size());
  ASSERT_TRUE(w.begin(sample_info()).ok());
  auto s = w.open_section("vmcore", SectionType::kDump);
  ASSERT_TRUE(s.ok());
  // Opened: writing, nothing vouched for yet.
  auto r = ContainerReader::open(dev);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sections().at(0).state, SectionState::kWriting);
  EXPECT_EQ(r->sections().at(0).length, 0u);
  EXPECT_FALSE(r->verify(r->sections()[0]).ok());
  // A checkpoint records the length, still writing.
  auto body = pattern(kCrcChunk + 5, 8);
  ASSERT_TRUE((*s)->write_at(FileOffset(0), body).ok());
  ASSERT_TRUE((*s)->checkpoint().ok());
  r = ContainerReader::open(dev);
  EXPECT_EQ(r->sections().at(0).state, SectionState::kWriting);
  EXPECT_EQ(r->sections().at(0).length, body.size());
  // Closing: the entry is the last write, after the data is synced.
  int syncs_before = dev.syncs;
  ASSERT_TRUE(w.close_section(SectionState::kIncomplete).ok());
  EXPECT_GE(dev.syncs - syncs_before, 2) << "data synced before the entry, entry synced after";
  r = ContainerReader::open(dev);
  ASSERT_TRUE(r.ok());
  const SectionInfo v = r->sections().at(0);
  EXPECT_EQ(v.state, SectionState::kIncomplete);
  // Saved: the incomplete flag survives, the time is recorded.
  ASSERT_TRUE(r->set_state(dev, v, SectionState::kSaved, 1700001000).ok());
  r = ContainerReader::open(dev);
  EXPECT_EQ(r->sections().at(0).state, SectionState::kSaved);
  EXPECT_TRUE(r->sections().at(0).incomplete);
  EXPECT_EQ(r->sections().at(0).saved_time, 1700001000);
  EXPECT_EQ(read_section(*r, r->sections()[0]), body);
  // A torn entry is detected by its CRC and skipped with a warning.
  dev.bytes[kTableOffset + 40] ^= std::byte{0x10};
  r = ContainerReader::open(dev);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->sections().empty());
  ASSERT_EQ(r->warnings().size(), 1u);
  EXPECT_NE(r->warnings()[0].find("section entry 0 at 0x1000: entry_crc"), std::string::npos) << r->warnings()[0];
}

TEST(Container, WriterMisuseIsAnError) {
  MemDevice dev(4 << 20);
  ContainerWriter w(dev, nullptr, dev.size());
  EXPECT_FALSE(w.open_section("x", SectionType::kOther).ok());
  ASSERT_TRUE(w.begin(sample_info()).ok());
  EXPECT_FALSE(w.open_section("bad/name", SectionType::kOther).ok());
  EXPECT_FALSE(w.open_section(std::string(40, 'a'), SectionType::kOther).ok());
  auto s = w.open_section("trace-0", SectionType::kTrace);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(w.open_section("second", SectionType::kOther).ok()) << "one open section at a time";
  EXPECT_FALSE(w.close_section(SectionState::kSaved).ok());
  // Out of order with no way to read back: the CRC cannot be computed.
  auto a = pattern(8192, 9);
  ASSERT_TRUE((*s)->write_at(FileOffset(4096), std::span<const std::byte>(a).first(4096)).ok());
  ASSERT_TRUE((*s)->write_at(FileOffset(0), std::span<const std::byte>(a).first(4096)).ok());
  auto c = w.close_section(SectionState::kComplete);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("MiB 0 was written out of order"), std::string::npos) << c.error().message;
  MemDevice small(8192);
  ContainerWriter w2(small, &small, small.size());
  EXPECT_FALSE(w2.begin(sample_info()).ok());
}

}  // namespace
}  // namespace salvage

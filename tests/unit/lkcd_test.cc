// SPDX-License-Identifier: GPL-2.0-or-later
// LKCD v9 writer and reader: synthetic dumps into memory, header bytes checked
// at the offsets crash and libkdumpfile read, pages read back (raw and zlib),
// and the reader's checks on damaged streams.
#include <gtest/gtest.h>

#include "formats/format-table.h"
#include "formats/lkcd.h"
#include "tests/unit/elflkcd-fixture.h"

namespace salvage {
namespace {

using testing::MemorySink;
using testing::Synthetic;

std::vector<std::byte> write_lkcd(Synthetic& s, PageEncoding enc, bool complete = true, size_t stop = SIZE_MAX) {
  MemorySink sink;
  auto w = make_lkcd_writer(sink);
  auto r = testing::write_all(*w, s, enc, complete, stop);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return sink.bytes;
}

template <typename T>
T at(const std::vector<std::byte>& f, size_t off) {
  return load_le<T>(f.data() + off);
}

TEST(LkcdWriter, HeaderFieldsAtTheirOffsets) {
  Synthetic s(3);
  auto f = write_lkcd(s, PageEncoding::kZlib);
  testing::maybe_save("synthetic-zlib.lkcd", f);
  EXPECT_EQ(at<u64>(f, 0), lkcd::kDumpMagic);
  EXPECT_EQ(at<u32>(f, 8), 9u);
  EXPECT_EQ(at<u32>(f, 12), 742u);
  EXPECT_EQ(at<u32>(f, 20), 4096u);
  EXPECT_EQ(at<u32>(f, 48), s.kept_pfns.size());
  EXPECT_STREQ(reinterpret_cast<const char*>(f.data() + 52), "sysrq triggered crash");
  EXPECT_EQ(at<u64>(f, 308), 1700000000u);
  EXPECT_STREQ(reinterpret_cast<const char*>(f.data() + 324), "Linux");
  EXPECT_STREQ(reinterpret_cast<const char*>(f.data() + 454), "6.1.0-synthetic");
  EXPECT_STREQ(reinterpret_cast<const char*>(f.data() + 584), "x86_64");
  EXPECT_EQ(at<u64>(f, 714), s.info.panic_task);
  EXPECT_EQ(at<u32>(f, 722), lkcd::kCompressGzip);
  EXPECT_EQ(at<u64>(f, 734), 65536u);
  // Arch header: 192 + 3*192 bytes, dha_smp_regs[cpu].rip/rsp where crash reads them.
  EXPECT_EQ(at<u64>(f, 742), 0xdeaddeadu);
  EXPECT_EQ(at<u32>(f, 742 + 8), 2u);
  EXPECT_EQ(at<u32>(f, 742 + 12), 192u + 3 * 192);
  EXPECT_EQ(at<u32>(f, 742 + 184), 3u);
  EXPECT_EQ(at<i32>(f, 742 + 188), 1);  // first CPU with a task
  for (int cpu = 0; cpu < 3; ++cpu) {
    size_t regs = 742 + 192 + cpu * 168;
    EXPECT_EQ(at<u64>(f, regs + 16 * 8), s.info.cpus[cpu].regs[kRip]);
    EXPECT_EQ(at<u64>(f, regs + 19 * 8), s.info.cpus[cpu].regs[kRsp]);
  }
  // First record at 64 KiB: physical address, zlib-compressed, <= page size.
  EXPECT_EQ(at<u64>(f, 65536), s.kept_pfns[0] * kPageSize);
  EXPECT_LE(at<u32>(f, 65536 + 8), 4096u);
  EXPECT_EQ(at<u32>(f, 65536 + 12), lkcd::kDhCompressed);
  // Ends with the END record.
  EXPECT_EQ(at<u32>(f, f.size() - 4), lkcd::kDhEnd);
  EXPECT_EQ(at<u64>(f, f.size() - 16), 0u);
}

void expect_reads_back(const std::vector<std::byte>& f, Synthetic& s, const char* compression) {
  MemorySource src(f);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  auto& r = **rd;
  EXPECT_EQ(r.metadata().format, "lkcd");
  EXPECT_EQ(r.metadata().compression, compression);
  EXPECT_FALSE(r.metadata().incomplete);
  EXPECT_TRUE(r.metadata().notes_for_user.empty()) << r.metadata().notes_for_user[0];
  ASSERT_EQ(r.notes().size(), s.notes.size());
  EXPECT_EQ(std::memcmp(r.notes().data(), s.notes.data(), s.notes.size()), 0);
  auto id = identify(r.notes());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(id->vmcoreinfo);
  EXPECT_EQ(id->vmcoreinfo->osrelease(), "6.1.0-synthetic");
  EXPECT_EQ(r.max_pfn().value, 0x89cu);
  // RAM = runs of present records: A minus its gap (2 runs), B in 2 runs.
  ASSERT_EQ(r.ram().size(), 4u);
  EXPECT_EQ(r.ram()[0].start.value, 0x1000u);
  EXPECT_EQ(r.ram()[0].size, 0xfu * kPageSize);
  std::vector<std::byte> page(kPageSize);
  for (u64 pfn = 0; pfn < 0x910; ++pfn) {
    auto st = r.read_page(Pfn(pfn), page);
    ASSERT_TRUE(st.ok()) << st.error().message;
    if (s.kept.test(Pfn(pfn))) {
      ASSERT_EQ(*st, PageState::kData) << pfn;
      ASSERT_EQ(page, testing::pattern_page(pfn)) << pfn;
    } else {
      ASSERT_NE(*st, PageState::kData) << pfn;
    }
  }
}

TEST(LkcdWriter, ZlibReadsBack) {
  Synthetic s;
  auto f = write_lkcd(s, PageEncoding::kZlib);
  expect_reads_back(f, s, "zlib");
}

TEST(LkcdWriter, RawReadsBack) {
  Synthetic s;
  auto f = write_lkcd(s, PageEncoding::kRaw);
  testing::maybe_save("synthetic-raw.lkcd", f);
  EXPECT_EQ(at<u32>(f, 722), lkcd::kCompressNone);
  EXPECT_EQ(f.size(), 65536 + s.kept_pfns.size() * (16 + 4096) + 16);
  expect_reads_back(f, s, "none");
}

TEST(LkcdWriter, AcceptsOnlyRawAndZlib) {
  MemorySink sink;
  auto w = make_lkcd_writer(sink);
  EXPECT_TRUE(w->accepts(PageEncoding::kRaw));
  EXPECT_TRUE(w->accepts(PageEncoding::kZlib));
  EXPECT_FALSE(w->accepts(PageEncoding::kLzo));
  EXPECT_FALSE(w->accepts(PageEncoding::kSnappy));
  EXPECT_FALSE(w->accepts(PageEncoding::kZstd));
}

TEST(LkcdWriter, ZeroPagesAreTinyCompressedRecords) {
  Synthetic s;
  s.info.dump_level = 1;
  MemorySink sink;
  auto w = make_lkcd_writer(sink);
  ASSERT_TRUE(w->begin(s.info).ok());
  EXPECT_EQ(at<u32>(sink.bytes, 722), lkcd::kCompressGzip);  // even with raw pages
  for (u64 pfn : s.kept_pfns) {
    auto page = testing::pattern_page(pfn);
    PageRecord rec{Pfn(pfn), PageEncoding::kRaw, page};
    if (pfn % 2) rec = PageRecord{Pfn(pfn), PageEncoding::kRaw, {}, true};
    ASSERT_TRUE(w->write_page(rec).ok());
  }
  ASSERT_TRUE(w->finish(true).ok());
  MemorySource src(sink.bytes);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  EXPECT_EQ((*rd)->metadata().dump_level, 1);
  std::vector<std::byte> page(kPageSize);
  ASSERT_EQ(*(*rd)->read_page(Pfn(0x101), page), PageState::kData);
  EXPECT_EQ(page, std::vector<std::byte>(kPageSize));
  ASSERT_EQ(*(*rd)->read_page(Pfn(0x102), page), PageState::kData);
  EXPECT_EQ(page, testing::pattern_page(0x102));
}

TEST(LkcdWriter, IncompleteKeepsPlannedCount) {
  Synthetic s;
  auto f = write_lkcd(s, PageEncoding::kZlib, /*complete=*/false, /*stop=*/40);
  EXPECT_EQ(at<u32>(f, 48), s.kept_pfns.size());
  MemorySource src(f);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  EXPECT_TRUE((*rd)->metadata().incomplete);
  std::vector<std::byte> page(kPageSize);
  EXPECT_EQ(*(*rd)->read_page(Pfn(s.kept_pfns[39]), page), PageState::kData);
  EXPECT_EQ(*(*rd)->read_page(Pfn(s.kept_pfns[40]), page), PageState::kMissing);
}

TEST(LkcdWriter, NotesThatDoNotFitKeepVmcoreinfo) {
  Synthetic s(400);  // 400 CPUs: arch header alone would pass 64 KiB
  auto f = write_lkcd(s, PageEncoding::kRaw);
  u32 dha = at<u32>(f, 742 + 12);
  EXPECT_LT(742 + dha, 65536u);
  MemorySource src(f);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  auto id = identify((*rd)->notes());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(id->vmcoreinfo);
  EXPECT_EQ(id->vmcoreinfo->osrelease(), "6.1.0-synthetic");
  EXPECT_LT(id->cpus.size(), 400u);
  ASSERT_FALSE((*rd)->metadata().notes_for_user.empty());
  EXPECT_NE((*rd)->metadata().notes_for_user[0].find("PRSTATUS"), std::string::npos);
}

// --- reader checks on damaged streams ---

std::vector<std::byte> small_dump() {
  Synthetic s;
  return write_lkcd(s, PageEncoding::kRaw);
}

std::string open_error(std::vector<std::byte>& f) {
  MemorySource src(f);
  auto rd = open_dump(src);
  return rd.ok() ? "" : rd.error().message;
}

TEST(LkcdReader, RejectsBadHeaderFieldsByName) {
  auto f = small_dump();
  store_le<u32>(f.data() + 8, 4);
  EXPECT_NE(open_error(f).find("dh_version at 0x8"), std::string::npos);
  f = small_dump();
  store_le<u32>(f.data() + 20, 8192);
  EXPECT_NE(open_error(f).find("dh_page_size at 0x14"), std::string::npos);
  f = small_dump();
  store_le<u64>(f.data() + 734, 1ULL << 40);
  EXPECT_NE(open_error(f).find("dh_dump_buffer_size at 0x2de"), std::string::npos);
}

TEST(LkcdReader, RejectsDuplicatePfn) {
  auto f = small_dump();
  const size_t rec = 16 + 4096;
  store_le<u64>(f.data() + 65536 + rec, load_le<u64>(f.data() + 65536));  // record 1 repeats record 0
  auto e = open_error(f);
  EXPECT_NE(e.find("duplicate page record for pfn 0x1"), std::string::npos) << e;
}

TEST(LkcdReader, RejectsBogusFlagsAndSizes) {
  auto f = small_dump();
  store_le<u32>(f.data() + 65536 + 12, 3);
  EXPECT_NE(open_error(f).find("bogus dp_flags 0x3"), std::string::npos);
  f = small_dump();
  store_le<u32>(f.data() + 65536 + 8, 5000);
  EXPECT_NE(open_error(f).find("dp_size 5000"), std::string::npos);
  f = small_dump();
  store_le<u32>(f.data() + 65536 + 8, 100);  // RAW must be a whole page
  EXPECT_NE(open_error(f).find("RAW page with dp_size 100"), std::string::npos);
}

TEST(LkcdReader, TruncatedStreamIsIncomplete) {
  auto f = small_dump();
  f.resize(65536 + 10 * (16 + 4096) + 100);
  MemorySource src(f);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  EXPECT_TRUE((*rd)->metadata().incomplete);
  EXPECT_EQ((*rd)->max_pfn().value, 11u);
}

TEST(LkcdReader, CorruptZlibIsAnErrorNamingThePage) {
  Synthetic s;
  auto f = write_lkcd(s, PageEncoding::kZlib);
  f[65536 + 16 + 4] ^= std::byte{0xff};
  MemorySource src(f);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok());
  std::vector<std::byte> page(kPageSize);
  auto r = (*rd)->read_page(Pfn(1), page);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("pfn 0x1"), std::string::npos);
}

}  // namespace
}  // namespace salvage

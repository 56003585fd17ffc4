// SPDX-License-Identifier: GPL-2.0-or-later
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>

#include "formats/dump-reader.h"
#include "formats/format-table.h"
#include "formats/kdump.h"
#include "tests/unit/kdump-fixture.h"

namespace salvage {
namespace {

using kdumptest::Kind;
using kdumptest::kind_of;
using kdumptest::RecordingSink;
using kdumptest::Synthetic;

constexpr PageEncoding kAll[] = {PageEncoding::kRaw, PageEncoding::kZlib, PageEncoding::kLzo, PageEncoding::kSnappy,
                                 PageEncoding::kZstd};

std::vector<std::byte> write_dump(Synthetic& s, PageEncoding enc, bool complete = true, size_t limit = SIZE_MAX,
                                  const std::vector<u64>* skip = nullptr, RecordingSink* sink_out = nullptr) {
  RecordingSink sink;
  auto w = make_kdump_writer(sink);
  auto r = kdumptest::write_all(*w, s, enc, complete, limit, skip);
  EXPECT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(sink.finished);  // writers leave the sink to its owner
  if (sink_out) *sink_out = sink;
  return sink.bytes;
}

kdump::DiskDumpHeader header_of(const std::vector<std::byte>& f) {
  kdump::DiskDumpHeader h;
  std::memcpy(&h, f.data(), sizeof h);
  return h;
}
kdump::KdumpSubHeader sub_of(const std::vector<std::byte>& f) {
  kdump::KdumpSubHeader h;
  std::memcpy(&h, f.data() + kPageSize, sizeof h);
  return h;
}

// Every pfn below max_pfn reads back with the right state and content.
void check_pages(DumpReader& r, Synthetic& s, size_t written = SIZE_MAX) {
  std::vector<std::byte> page(kPageSize), want(kPageSize);
  size_t kept_seen = 0, bad = 0;
  for (u64 p = 0; p < s.info.max_pfn.value && bad < 5; ++p) {
    auto st = r.read_page(Pfn(p), page);
    ASSERT_TRUE(st.ok()) << "pfn " << p << ": " << st.error().message;
    PageState expect;
    if (!s.present.test(Pfn(p))) expect = PageState::kHole;
    else if (!s.kept.test(Pfn(p))) expect = PageState::kExcluded;
    else expect = kept_seen++ < written ? PageState::kData : PageState::kMissing;
    if (*st != expect) {
      ADD_FAILURE() << "pfn " << p << " is " << page_state_name(*st) << ", expected " << page_state_name(expect);
      ++bad;
      continue;
    }
    if (expect == PageState::kData) kdumptest::fill_page(p, want);
    else std::fill(want.begin(), want.end(), std::byte{0});
    if (page != want) {
      ADD_FAILURE() << "pfn " << p << " content differs";
      ++bad;
    }
  }
}

TEST(Kdump, RoundTripEveryCodec) {
  for (auto enc : kAll) {
    SCOPED_TRACE(encoding_name(enc));
    Synthetic s;
    auto file = write_dump(s, enc);
    MemorySource src(file, "synthetic.kdump");
    auto r = open_dump(src);
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto& d = **r;
    EXPECT_EQ(d.metadata().format, "kdump");
    EXPECT_EQ(d.metadata().dump_level, 31);
    EXPECT_FALSE(d.metadata().incomplete);
    EXPECT_EQ(d.metadata().compression, enc == PageEncoding::kRaw ? "none" : encoding_name(enc));
    EXPECT_EQ(d.max_pfn(), Pfn(5003));
    ASSERT_EQ(d.notes().size(), s.notes.size());
    EXPECT_TRUE(std::equal(s.notes.begin(), s.notes.end(), d.notes().begin()));
    ASSERT_EQ(d.ram().size(), 3u);
    EXPECT_EQ(d.ram()[0].start, PhysAddr(0x1000));
    EXPECT_EQ(d.ram()[0].size, 0x9eu * kPageSize);
    EXPECT_EQ(d.ram()[1].start, PhysAddr(0x100000));
    EXPECT_EQ(d.ram()[2].start, PhysAddr(0x1300000));
    EXPECT_EQ(d.ram()[2].size, (5003u - 0x1300) * kPageSize);
    check_pages(d, s);
    auto id = identify(d.notes());
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(id->cpus.size(), 3u);
    ASSERT_TRUE(id->vmcoreinfo.has_value());
    EXPECT_EQ(id->vmcoreinfo->osrelease(), "6.1.0-kdumptest");
  }
}

// The fields crash, makedumpfile and libkdumpfile are strict about
// (formats.md section 6).
TEST(Kdump, HeaderFieldsFollowTheReference) {
  Synthetic s;
  auto f = write_dump(s, PageEncoding::kZlib);
  auto h = header_of(f);
  auto sh = sub_of(f);
  EXPECT_EQ(std::memcmp(h.signature, "KDUMP   ", 8), 0);
  EXPECT_EQ(h.header_version, 6);
  EXPECT_EQ(h.block_size, 4096);
  EXPECT_EQ(h.status, kdump::kCompressedZlib);
  EXPECT_EQ(h.timestamp.tv_sec, 1700000000);
  EXPECT_EQ(h.timestamp.tv_usec, 0);
  EXPECT_EQ(h.nr_cpus, 3);
  EXPECT_STREQ(h.utsname.machine, "x86_64");
  EXPECT_STREQ(h.utsname.release, "6.1.0-kdumptest");
  EXPECT_EQ(h.sub_hdr_size, static_cast<i32>(div_round_up(104 + s.notes.size(), 4096)));
  EXPECT_EQ(h.bitmap_blocks, 2u * div_round_up(div_round_up(5003, 8), 4096));
  EXPECT_EQ(h.max_mapnr, 5003u);
  EXPECT_EQ(sh.max_mapnr_64, 5003u);
  EXPECT_EQ(sh.dump_level, 31);
  EXPECT_EQ(sh.phys_base, 0x1000000u);
  EXPECT_EQ(sh.split, 0);
  EXPECT_EQ(sh.offset_note, 4096 + 104);
  EXPECT_EQ(sh.size_note, s.notes.size());
  EXPECT_TRUE(std::equal(s.notes.begin(), s.notes.end(), f.begin() + sh.offset_note));
  ASSERT_EQ(sh.size_vmcoreinfo, kdumptest::kVmcoreinfo.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.data() + sh.offset_vmcoreinfo), sh.size_vmcoreinfo),
            kdumptest::kVmcoreinfo);
  // Bitmaps: 1st = RAM, 2nd = kept, both LSB first.
  u64 bm = (1 + h.sub_hdr_size) * 4096ull, half = h.bitmap_blocks / 2 * 4096ull;
  EXPECT_TRUE(std::equal(s.present.bytes().begin(), s.present.bytes().end(), f.begin() + bm));
  EXPECT_TRUE(std::equal(s.kept.bytes().begin(), s.kept.bytes().end(), f.begin() + bm + half));
  // Descriptors: in pfn order, data packed right after them, none at 0.
  u64 desc = bm + 2 * half, n = s.kept.count();
  u64 data_start = desc + n * sizeof(kdump::PageDesc);
  std::vector<kdump::PageDesc> pds(n);
  std::memcpy(pds.data(), f.data() + desc, n * sizeof(kdump::PageDesc));
  u64 expect_next = data_start + kPageSize;  // after pd_zero's page
  for (size_t i = 0; i < n; ++i) {
    const auto& pd = pds[i];
    ASSERT_NE(pd.offset, 0);
    ASSERT_LE(pd.size, 4096u);
    EXPECT_EQ(pd.page_flags, 0u);
    if (kind_of(s.kept_pfns[i]) == Kind::kZero) {
      EXPECT_EQ(pd.offset, static_cast<i64>(data_start));
      continue;
    }
    EXPECT_EQ(static_cast<u64>(pd.offset), expect_next) << "desc " << i;
    expect_next += pd.size;
    if (pd.flags == 0) {
      EXPECT_EQ(pd.size, 4096u);
    } else {
      EXPECT_EQ(pd.flags, kdump::kCompressedZlib);
    }
    if (kind_of(s.kept_pfns[i]) == Kind::kRandom) {
      EXPECT_EQ(pd.flags, 0u);
    }
  }
  EXPECT_EQ(f.size(), expect_next);
  // pd_zero's page is 4096 zero bytes at data_start.
  EXPECT_TRUE(std::all_of(f.begin() + data_start, f.begin() + data_start + 4096, [](std::byte b) { return b == std::byte{0}; }));
}

TEST(Kdump, ZeroPagesStoredWhenLevelLacksBit1) {
  Synthetic s(30);
  auto f = write_dump(s, PageEncoding::kZlib);
  auto h = header_of(f);
  u64 desc = (1 + h.sub_hdr_size + h.bitmap_blocks) * 4096ull, n = s.kept.count();
  std::vector<kdump::PageDesc> pds(n);
  std::memcpy(pds.data(), f.data() + desc, n * sizeof(kdump::PageDesc));
  u64 data_start = desc + n * sizeof(kdump::PageDesc);
  // The first page is real data (no pd_zero), and every offset is distinct.
  EXPECT_EQ(static_cast<u64>(pds[0].offset), data_start);
  EXPECT_NE(kind_of(s.kept_pfns[0]), Kind::kZero);
  for (size_t i = 1; i < n; ++i) EXPECT_GT(pds[i].offset, pds[i - 1].offset);
  MemorySource src(f);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  check_pages(**r, s);
}

TEST(Kdump, WritesAreFewLargeAndNonOverlapping) {
  Synthetic s;
  RecordingSink sink;
  write_dump(s, PageEncoding::kLzo, true, SIZE_MAX, nullptr, &sink);
  // header+sub header, 2 bitmaps (+ padding each), descs, data.
  EXPECT_LE(sink.writes.size(), 12u);
  auto w = sink.writes;
  std::sort(w.begin(), w.end());
  for (size_t i = 1; i < w.size(); ++i) EXPECT_LE(w[i - 1].first + w[i - 1].second, w[i].first);
}

TEST(Kdump, IncompleteDumpMarksStatusAndMissingPages) {
  Synthetic s;
  size_t limit = s.kept_pfns.size() / 2;
  auto f = write_dump(s, PageEncoding::kZstd, false, limit);
  EXPECT_EQ(header_of(f).status, kdump::kCompressedZstd | kdump::kCompressedIncomplete);
  MemorySource src(f);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE((*r)->metadata().incomplete);
  check_pages(**r, s, limit);
}

TEST(Kdump, SkippedPagesReadAsMissing) {
  Synthetic s;
  std::vector<u64> skip = {s.kept_pfns[10], s.kept_pfns[11], s.kept_pfns[3000]};
  auto f = write_dump(s, PageEncoding::kSnappy, true, SIZE_MAX, &skip);
  EXPECT_TRUE(header_of(f).status & kdump::kCompressedIncomplete);
  MemorySource src(f);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::vector<std::byte> page(kPageSize), want(kPageSize);
  for (u64 p : skip) EXPECT_EQ(*(*r)->read_page(Pfn(p), page), PageState::kMissing);
  EXPECT_EQ(*(*r)->read_page(Pfn(s.kept_pfns[12]), page), PageState::kData);
  kdumptest::fill_page(s.kept_pfns[12], want);
  EXPECT_EQ(page, want);
}

TEST(Kdump, WriterRejectsMisuse) {
  Synthetic s;
  RecordingSink sink;
  auto w = make_kdump_writer(sink);
  ASSERT_TRUE(w->begin(s.info).ok());
  std::vector<std::byte> page(kPageSize);
  u64 excluded = 7;  // every 7th pfn is excluded
  auto r = w->write_page(PageRecord{Pfn(excluded), PageEncoding::kRaw, page});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not in the kept bitmap"), std::string::npos);
  ASSERT_TRUE(w->write_page(PageRecord{Pfn(s.kept_pfns[5]), PageEncoding::kRaw, page}).ok());
  r = w->write_page(PageRecord{Pfn(s.kept_pfns[4]), PageEncoding::kRaw, page});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("ascending"), std::string::npos);
  r = w->write_page(PageRecord{Pfn(s.kept_pfns[6]), PageEncoding::kRaw, std::span(page).first(100)});
  EXPECT_FALSE(r.ok());
  // A kept page outside RAM is refused at begin().
  Synthetic bad;
  bad.kept.set(Pfn(0xa0));
  RecordingSink sink2;
  auto w2 = make_kdump_writer(sink2);
  EXPECT_FALSE(w2->begin(bad.info).ok());
}

TEST(Kdump, SinkErrorsCarryContext) {
  Synthetic s;
  RecordingSink sink;
  sink.fail_after = 3;
  auto w = make_kdump_writer(sink);
  auto r = kdumptest::write_all(*w, s, PageEncoding::kZlib);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("No space left on device"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().sys_errno, ENOSPC);
}

// Corrupts one field and expects the reader to name it and its offset.
void expect_rejected(std::vector<std::byte> f, size_t off, const void* val, size_t len, const std::string& needle) {
  std::memcpy(f.data() + off, val, len);
  MemorySource src(f);
  auto r = open_dump(src);
  ASSERT_FALSE(r.ok()) << needle;
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(Kdump, ReaderNamesBadFields) {
  Synthetic s;
  auto f = write_dump(s, PageEncoding::kZlib);
  i32 v7 = 7, bs = 8192, zero = 0;
  u32 tiny = 0;
  expect_rejected(f, 8, &v7, 4, "header_version at 0x8");
  expect_rejected(f, 428, &bs, 4, "block_size at 0x1ac");
  expect_rejected(f, 432, &zero, 4, "sub_hdr_size at 0x1b0");
  expect_rejected(f, 436, &tiny, 4, "bitmap_blocks at 0x1b4");
  u64 huge = 1ull << 40;
  expect_rejected(f, 4096 + 48, &huge, 8, "offset_note at 0x1030");
  u64 zero64 = 0;
  expect_rejected(f, 4096 + 96, &zero64, 8, "max_mapnr_64 at 0x1060");
  // Truncated inside the descriptor table.
  auto h = header_of(f);
  f.resize((1 + h.sub_hdr_size + h.bitmap_blocks) * 4096ull + 100);
  MemorySource src(f);
  auto r = open_dump(src);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("page_desc table"), std::string::npos) << r.error().message;
}

TEST(Kdump, ReaderReportsCorruptPageData) {
  Synthetic s;
  auto f = write_dump(s, PageEncoding::kZlib);
  auto h = header_of(f);
  u64 desc = (1 + h.sub_hdr_size + h.bitmap_blocks) * 4096ull;
  kdump::PageDesc pd;
  std::memcpy(&pd, f.data() + desc + sizeof pd, sizeof pd);  // 2nd kept page: text, zlib
  ASSERT_EQ(pd.flags, kdump::kCompressedZlib);
  std::memset(f.data() + pd.offset, 0xee, 8);
  MemorySource src(f);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok());
  std::vector<std::byte> page(kPageSize);
  auto st = (*r)->read_page(Pfn(s.kept_pfns[1]), page);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("page_desc[1]"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("zlib"), std::string::npos) << st.error().message;
}

// python3-libkdumpfile, an independent implementation, reads what we wrote.
void write_file(const std::string& path, std::span<const std::byte> b) {
  std::ofstream o(path, std::ios::binary);
  o.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
std::string repo_root() {
  std::string f = __FILE__;  // tests/unit/kdump_test.cc, relative to the repo
  auto pos = f.rfind("tests/unit/");
  return pos == std::string::npos || pos == 0 ? "." : f.substr(0, pos - 1);
}
bool have_libkdumpfile() { return std::system("/usr/bin/python3 -c 'import kdumpfile' 2>/dev/null") == 0; }

std::string expected_pages(Synthetic& s, const std::string& dir) {
  std::string path = dir + "/expected.bin";
  std::vector<std::byte> out, page(kPageSize);
  for (u64 p = 0; p < s.info.max_pfn.value; p += (p < 0x600 ? 1 : 5)) {
    if (!s.present.test(Pfn(p))) continue;  // holes: libkdumpfile behaviour not asserted
    u8 kind = s.kept.test(Pfn(p)) ? 1 : 0;
    std::byte rec[9];
    store_le<u64>(rec, p);
    rec[8] = std::byte(kind);
    out.insert(out.end(), rec, rec + 9);
    if (kind) {
      kdumptest::fill_page(p, page);
      out.insert(out.end(), page.begin(), page.end());
    }
  }
  write_file(path, out);
  return path;
}

TEST(Kdump, LibkdumpfileReadsEveryCodec) {
  if (!have_libkdumpfile()) GTEST_SKIP() << "python3-libkdumpfile not installed";
  char tmpl[] = "/tmp/salvage-kdump-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  for (auto enc : kAll) {
    SCOPED_TRACE(encoding_name(enc));
    Synthetic s;
    auto f = write_dump(s, enc);
    std::string dump = dir + "/dump." + encoding_name(enc);
    write_file(dump, f);
    std::string exp = expected_pages(s, dir);
    std::string cmd = "/usr/bin/python3 " + repo_root() + "/tests/readers/tools/kdump-libkdumpfile.py " + dump + " " + exp;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    unlink(dump.c_str());
    unlink(exp.c_str());
  }
  rmdir(dir.c_str());
}

// A device of fixed size: writes past the end fail whole with ENOSPC.
class FullDeviceSink final : public Sink {
 public:
  explicit FullDeviceSink(u64 capacity) : capacity_(capacity) {}
  Result<void> write_at(FileOffset off, std::span<const std::byte> d) override {
    if (off.value + d.size() > capacity_) return Error::from_errno("pwrite dev at " + std::to_string(off.value), ENOSPC);
    if (off.value + d.size() > bytes.size()) bytes.resize(off.value + d.size());
    std::memcpy(bytes.data() + off.value, d.data(), d.size());
    return Ok();
  }
  Result<void> finish() override { return Ok(); }
  std::string name() const override { return "full-device"; }
  std::vector<std::byte> bytes;

 private:
  u64 capacity_;
};

// When the target fills up, every page whose data reached the disk is still
// described (the descriptor table lies before the data), the rest read as
// never written, and the header says incomplete: crash can still read
// what was saved.
TEST(KdumpWriter, FullTargetKeepsEveryPageThatReachedTheDisk) {
  Synthetic s(0);
  FullDeviceSink dev(6u << 20);  // far less than the raw pages need
  auto w = make_kdump_writer(dev);
  auto r = kdumptest::write_all(*w, s, PageEncoding::kRaw);
  if (r.ok()) FAIL() << "a 6 MiB device cannot hold the dump";
  (void)w->finish(false);  // what the pipeline does after a write error
  MemorySource src(dev.bytes);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  EXPECT_TRUE((*rd)->metadata().incomplete);
  std::vector<std::byte> page(kPageSize), want(kPageSize);
  u64 data = 0, missing = 0;
  bool seen_missing = false;
  for (u64 p : s.kept_pfns) {
    auto st = (*rd)->read_page(Pfn(p), page);
    ASSERT_TRUE(st.ok()) << st.error().message;
    if (*st == PageState::kData) {
      EXPECT_FALSE(seen_missing) << "pfn " << p << ": data after a missing page (pages are written in pfn order)";
      kdumptest::fill_page(p, want);
      ASSERT_EQ(page, want) << "pfn " << p;
      ++data;
    } else {
      ASSERT_EQ(*st, PageState::kMissing) << "pfn " << p;
      seen_missing = true;
      ++missing;
    }
  }
  // All but the last, unwritten chunk (1 MiB) of what fitted is readable.
  EXPECT_GT(data * kPageSize, (4u << 20));
  EXPECT_GT(missing, 0u);
}

// Priority passes as the capture agent gives them: "kernel" pages (here every
// 4th pfn) in a first ascending pass, the rest in a second. `after_first`
// runs between the passes.
Result<void> write_in_passes(DumpWriter& w, Synthetic& s, PageEncoding enc,
                             const std::function<void()>& after_first) {
  s.info.encoding = enc;
  TRY(w.begin(s.info));
  auto codec = make_codec(enc);
  std::vector<std::byte> page(kPageSize), scratch(codec->bound(kPageSize));
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) after_first();
    TRY(w.begin_pass());
    for (u64 pfn : s.kept_pfns) {
      if ((pfn % 4 == 0) != (pass == 0)) continue;
      kdumptest::fill_page(pfn, page);
      ASSIGN_OR_RETURN(auto ep, compress_page(codec.get(), page, scratch));
      TRY(w.write_page(PageRecord{Pfn(pfn), ep.encoding, ep.data, false}));
    }
  }
  return w.finish(true);
}

// Two passes give the same pages as one: descriptors land at their pfn's
// rank in the 2nd bitmap, data in the order written.
TEST(KdumpWriter, PriorityPassesWriteEveryPage) {
  Synthetic s(0);
  FullDeviceSink dev(1u << 30);
  auto w = make_kdump_writer(dev);
  ASSERT_TRUE(w->accepts_passes());
  auto r = write_in_passes(*w, s, PageEncoding::kZlib, [] {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  MemorySource src(dev.bytes);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  EXPECT_FALSE((*rd)->metadata().incomplete);
  std::vector<std::byte> page(kPageSize), want(kPageSize);
  for (u64 p : s.kept_pfns) {
    auto st = (*rd)->read_page(Pfn(p), page);
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_EQ(*st, PageState::kData) << "pfn " << p;
    kdumptest::fill_page(p, want);
    ASSERT_EQ(page, want) << "pfn " << p;
  }
}

TEST(KdumpWriter, PassesRejectAPageBroughtTwice) {
  Synthetic s(0);
  FullDeviceSink dev(1u << 30);
  auto w = make_kdump_writer(dev);
  ASSERT_TRUE(w->begin(s.info).ok());
  std::vector<std::byte> page(kPageSize);
  const u64 pfn = s.kept_pfns[3];
  ASSERT_TRUE(w->begin_pass().ok());
  ASSERT_TRUE(w->write_page(PageRecord{Pfn(pfn), PageEncoding::kRaw, page, false}).ok());
  ASSERT_TRUE(w->begin_pass().ok());
  EXPECT_FALSE(w->write_page(PageRecord{Pfn(pfn), PageEncoding::kRaw, page, false}).ok());
}

// The promise: a full target keeps the kernel's pages. The device
// holds an old dump's bytes (0xab); it fills during the second (user) pass:
// every first-pass page is readable, the user pages that did not fit read as
// missing (never as the old bytes), and the header says incomplete.
TEST(KdumpWriter, FullTargetInPassesKeepsTheKernelPass) {
  Synthetic s(0);
  u64 first_pass_end = 0;
  {
    FullDeviceSink probe(1u << 30);
    auto w = make_kdump_writer(probe);
    ASSERT_TRUE(write_in_passes(*w, s, PageEncoding::kRaw, [&] { first_pass_end = probe.bytes.size(); }).ok());
    ASSERT_GT(probe.bytes.size(), first_pass_end + (6u << 20)) << "the user pass must not fit in the room left";
  }
  const u64 capacity = first_pass_end + (3u << 20);
  FullDeviceSink dev(capacity);
  dev.bytes.assign(capacity, std::byte{0xab});
  auto w = make_kdump_writer(dev);
  auto r = write_in_passes(*w, s, PageEncoding::kRaw, [] {});
  if (r.ok()) FAIL() << "the device cannot hold the user pass";
  (void)w->finish(false);  // what the pipeline does after a write error
  MemorySource src(dev.bytes);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  EXPECT_TRUE((*rd)->metadata().incomplete);
  std::vector<std::byte> page(kPageSize), want(kPageSize);
  u64 user_data = 0, user_missing = 0;
  for (u64 p : s.kept_pfns) {
    auto st = (*rd)->read_page(Pfn(p), page);
    ASSERT_TRUE(st.ok()) << "pfn " << p << ": " << st.error().message;
    if (p % 4 == 0) {
      ASSERT_EQ(*st, PageState::kData) << "kernel-pass pfn " << p;
    }
    if (*st == PageState::kData) {
      kdumptest::fill_page(p, want);
      ASSERT_EQ(page, want) << "pfn " << p;
      user_data += p % 4 != 0;
    } else {
      ASSERT_EQ(*st, PageState::kMissing) << "pfn " << p;
      ++user_missing;
    }
  }
  EXPECT_GT(user_data * kPageSize, 1u << 20);  // what fitted of the user pass is kept too
  EXPECT_GT(user_missing, 0u);
}

}  // namespace
}  // namespace salvage

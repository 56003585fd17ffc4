// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/flattened.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "formats/dump-reader.h"
#include "formats/endian.h"
#include "formats/format-table.h"
#include "formats/kdump.h"
#include "tests/unit/kdump-fixture.h"

namespace salvage {
namespace {

using kdumptest::RecordingSink;
using kdumptest::Synthetic;

struct Outputs {
  std::vector<std::byte> direct, stream;
};

Outputs write_both(PageEncoding enc, bool complete = true, size_t limit = SIZE_MAX) {
  Outputs o;
  {
    Synthetic s;
    RecordingSink sink;
    auto w = make_kdump_writer(sink);
    auto r = kdumptest::write_all(*w, s, enc, complete, limit);
    EXPECT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(sink.finish().ok());  // the sink's owner finishes it, not the writer
    o.direct = sink.bytes;
  }
  {
    Synthetic s;
    RecordingSink out;
    FlattenedSink flat(out);
    auto w = make_kdump_writer(flat);
    auto r = kdumptest::write_all(*w, s, enc, complete, limit);
    EXPECT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(flat.finish().ok());
    EXPECT_TRUE(out.finished);
    // The stream is appended strictly sequentially.
    u64 pos = 0;
    for (auto [off, len] : out.writes) {
      EXPECT_EQ(off, pos);
      pos += len;
    }
    o.stream = out.bytes;
  }
  return o;
}

struct Rec {
  i64 off, size;
  u64 pos;
};
std::vector<Rec> records(const std::vector<std::byte>& s) {
  std::vector<Rec> v;
  u64 pos = flat::kHeaderSize;
  while (pos + 16 <= s.size()) {
    Rec r{load_be64(s.data() + pos), load_be64(s.data() + pos + 8), pos};
    v.push_back(r);
    if (r.off < 0) break;
    pos += 16 + static_cast<u64>(r.size);
  }
  return v;
}

std::vector<std::byte> rebuild(std::vector<std::byte>& stream) {
  MemorySource src(stream);
  auto idx = index_flattened(src);
  EXPECT_TRUE(idx.ok()) << idx.error().message;
  FlattenedView view(src, std::move(*idx));
  std::vector<std::byte> out(view.size());
  EXPECT_TRUE(view.read_at(FileOffset(0), out).ok());
  return out;
}

TEST(Flattened, StreamLayoutFollowsMakedumpfile) {
  auto o = write_both(PageEncoding::kZlib);
  const auto& s = o.stream;
  ASSERT_GE(s.size(), flat::kHeaderSize + 16);
  EXPECT_EQ(std::memcmp(s.data(), "makedumpfile\0\0\0\0", 16), 0);
  EXPECT_EQ(load_be64(s.data() + 16), 1);
  EXPECT_EQ(load_be64(s.data() + 24), 1);
  EXPECT_TRUE(std::all_of(s.begin() + 32, s.begin() + flat::kHeaderSize, [](std::byte b) { return b == std::byte{0}; }));
  auto recs = records(s);
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.back().off, -1);
  EXPECT_EQ(recs.back().size, -1);
  EXPECT_EQ(recs.back().pos + 16, s.size());  // terminator is last
  recs.pop_back();
  // Coalesced: a handful of records, none empty, none overlapping.
  EXPECT_LE(recs.size(), 10u);
  std::sort(recs.begin(), recs.end(), [](const Rec& a, const Rec& b) { return a.off < b.off; });
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_GT(recs[i].size, 0);
    if (i) {
      EXPECT_LE(recs[i - 1].off + recs[i - 1].size, recs[i].off);
    }
  }
}

TEST(Flattened, RebuildsTheDirectOutputAndReadsThrough) {
  for (auto enc : {PageEncoding::kRaw, PageEncoding::kZlib, PageEncoding::kZstd}) {
    SCOPED_TRACE(encoding_name(enc));
    auto o = write_both(enc);
    EXPECT_EQ(rebuild(o.stream), o.direct);
    MemorySource src(o.stream, "synthetic.flat");
    auto r = open_dump(src);
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto& d = **r;
    EXPECT_EQ(d.metadata().format, "flattened");
    EXPECT_FALSE(d.metadata().incomplete);
    EXPECT_EQ(d.metadata().dump_level, 31);
    Synthetic s;
    std::vector<std::byte> page(kPageSize), want(kPageSize);
    for (u64 p : s.kept_pfns) {
      auto st = d.read_page(Pfn(p), page);
      ASSERT_TRUE(st.ok()) << st.error().message;
      ASSERT_EQ(*st, PageState::kData) << p;
      kdumptest::fill_page(p, want);
      ASSERT_EQ(page, want) << p;
    }
    EXPECT_EQ(*d.read_page(Pfn(7), page), PageState::kExcluded);
    EXPECT_EQ(*d.read_page(Pfn(0xa0), page), PageState::kHole);
  }
}

TEST(Flattened, IncompleteHeaderRewriteWins) {
  auto o = write_both(PageEncoding::kLzo, false, 100);
  auto rebuilt = rebuild(o.stream);
  EXPECT_EQ(rebuilt, o.direct);
  kdump::DiskDumpHeader h;
  std::memcpy(&h, rebuilt.data(), sizeof h);
  EXPECT_TRUE(h.status & kdump::kCompressedIncomplete);
}

std::vector<std::byte> stream_of(std::initializer_list<std::pair<i64, std::string>> recs, bool terminate = true) {
  std::vector<std::byte> s(flat::kHeaderSize);
  std::memcpy(s.data(), flat::kSignature, 16);
  store_be64(s.data() + 16, 1);
  store_be64(s.data() + 24, 1);
  for (auto& [off, data] : recs) {
    std::byte h[16];
    store_be64(h, off);
    store_be64(h + 8, static_cast<i64>(data.size()));
    s.insert(s.end(), h, h + 16);
    auto b = std::as_bytes(std::span(data.data(), data.size()));
    s.insert(s.end(), b.begin(), b.end());
  }
  if (terminate) s.insert(s.end(), 16, std::byte{0xff});
  return s;
}

TEST(Flattened, OverlapsLaterRecordWinsGapsAreZero) {
  auto s = stream_of({{0, "aaaaaaaa"}, {20, "bbbb"}, {2, "XY"}, {6, "ZZZZ"}});
  auto out = rebuild(s);
  std::string got(reinterpret_cast<const char*>(out.data()), out.size());
  EXPECT_EQ(got, std::string("aaXYaaZZZZ") + std::string(10, '\0') + "bbbb");
}

TEST(Flattened, BadStreamsAreNamed) {
  auto s = stream_of({{0, "abc"}, {-5, "x"}});
  MemorySource src(s);
  auto idx = index_flattened(src);
  ASSERT_FALSE(idx.ok());
  EXPECT_NE(idx.error().message.find("record at 0x1013"), std::string::npos) << idx.error().message;

  auto t = stream_of({{0, "abc"}});
  t[16 + 7] = std::byte{2};  // type 2
  MemorySource src2(t);
  auto idx2 = index_flattened(src2);
  ASSERT_FALSE(idx2.ok());
  EXPECT_NE(idx2.error().message.find("type at 0x10"), std::string::npos);

  auto u = stream_of({{0, "abc"}}, false);
  MemorySource src3(u);
  auto idx3 = index_flattened(src3);
  ASSERT_TRUE(idx3.ok());
  EXPECT_FALSE(idx3->terminated);
  // Payload longer than the stream.
  auto v = stream_of({{0, "abcdef"}}, false);
  v.resize(v.size() - 2);
  MemorySource src4(v);
  EXPECT_FALSE(index_flattened(src4).ok());
}

void write_file(const std::string& path, std::span<const std::byte> b) {
  std::ofstream o(path, std::ios::binary);
  o.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
std::string repo_root() {
  std::string f = __FILE__;
  auto pos = f.rfind("tests/unit/");
  return pos == std::string::npos || pos == 0 ? "." : f.substr(0, pos - 1);
}

// makedumpfile -R (the reference rebuild) gives the same bytes as our direct
// output, complete and incomplete (overlapping header rewrite).
TEST(Flattened, MakedumpfileRebuildIsIdentical) {
  if (std::system("command -v makedumpfile >/dev/null") != 0) GTEST_SKIP() << "makedumpfile not installed";
  char tmpl[] = "/tmp/salvage-flat-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  for (bool complete : {true, false}) {
    auto o = write_both(PageEncoding::kZlib, complete, complete ? SIZE_MAX : 500);
    write_file(dir + "/stream", o.stream);
    write_file(dir + "/direct", o.direct);
    std::string cmd = repo_root() + "/tests/readers/tools/flattened-rebuild.sh " + dir + "/stream " + dir + "/direct";
    int rc = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd;
  }
  unlink((dir + "/stream").c_str());
  unlink((dir + "/direct").c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace salvage

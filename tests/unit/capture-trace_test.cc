// SPDX-License-Identifier: GPL-2.0-or-later
// The trace files, their sections in the dump container, and the warm-reset
// save at boot, against a region written by the test-side writer and a file
// standing in for /dev/mem.
#include "agent/capture-trace.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <cstring>

#include "agent/file-source.h"
#include "agent/file-util.h"
#include "agent/save-device.h"
#include "agent/commands.h"
#include "tests/fuzz/synth-vmcore.h"
#include "tests/tools/relayres-writer.h"

namespace salvage {
namespace {

constexpr u64 kPhys = 0x5000000;

class CaptureTrace : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/capture-trace-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    testing::RelayresGeometry g;
    g.nr_cpus = 3;
    w_ = std::make_unique<testing::RelayresWriter>(g);
    for (u64 i = 0; i < 300; ++i)
      for (u32 c = 0; c < 2; ++c)  // cpu 2 stays idle
        w_->write(c, RELAYRES_EV_TEST, 5000 + i * 10 + c, testing::relayres_test_payload(i, c));
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string write_file(const std::string& name, const std::string& text) {
    const std::string p = dir_ + "/" + name;
    FILE* f = std::fopen(p.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return p;
  }
  std::string dev_mem() {
    const std::string p = dir_ + "/mem";
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_EQ(::pwrite(fd, w_->region.data(), w_->region.size(), kPhys), static_cast<ssize_t>(w_->region.size()));
    ::close(fd);
    return p;
  }
  RelayresSpec spec() const { return RelayresSpec{w_->region.size(), kPhys, "flightrec.relayres"}; }
  std::string dir_;
  std::unique_ptr<testing::RelayresWriter> w_;
};

const TraceFile* find(const std::vector<TraceFile>& fs, const std::string& name) {
  for (const auto& f : fs)
    if (f.name == name) return &f;
  return nullptr;
}

// Walks a trace file's framed records (8-byte aligned).
std::vector<relayres_record> frames(const std::vector<std::byte>& b) {
  std::vector<relayres_record> out;
  for (size_t off = 0; off + sizeof(relayres_record) <= b.size();) {
    relayres_record r;
    std::memcpy(&r, b.data() + off, sizeof r);
    out.push_back(r);
    off += (r.len + 7) & ~7u;
  }
  return out;
}

TEST_F(CaptureTrace, FilesHoldPerCpuMergedPrivateAndSummary) {
  auto ch = parse_relayres(w_->region, kPhys);
  ASSERT_TRUE(ch.ok());
  auto files = trace_files_from(w_->region, *ch, "test");
  ASSERT_NE(find(files, "cpu0.bin"), nullptr);
  ASSERT_NE(find(files, "cpu1.bin"), nullptr);
  EXPECT_EQ(find(files, "cpu2.bin"), nullptr) << "an idle CPU has no file";
  const auto c0 = frames(find(files, "cpu0.bin")->data);
  ASSERT_EQ(c0.size(), ch->cpus[0].records.size());
  for (size_t i = 1; i < c0.size(); ++i) EXPECT_EQ(c0[i].seq, c0[i - 1].seq + 1);
  EXPECT_EQ(c0.back().seq, 299u);
  const auto m = frames(find(files, "merged.bin")->data);
  EXPECT_EQ(m.size(), ch->total_records());
  for (size_t i = 1; i < m.size(); ++i) EXPECT_LE(m[i - 1].ts, m[i].ts);
  const auto& priv = find(files, "private.bin")->data;
  ASSERT_EQ(priv.size(), 4096u);
  EXPECT_EQ(std::memcmp(priv.data(), w_->region.data() + w_->private_off(), 4096), 0);
  ASSERT_NE(find(files, "header.bin"), nullptr);
  const auto& sum = find(files, "summary.txt")->data;
  const std::string text(reinterpret_cast<const char*>(sum.data()), sum.size());
  EXPECT_NE(text.find("read from: test"), std::string::npos);
  EXPECT_NE(text.find("cpu 2: 0 records"), std::string::npos) << text;
}

TEST_F(CaptureTrace, SectionsInTheContainerAndConsumedAfterwards) {
  const std::string mem = dev_mem();
  auto t = recover_trace(spec(), RelayresReadPaths{"", mem});
  ASSERT_TRUE(t.ok()) << t.error().message;
  const std::string devpath = dir_ + "/dev";
  int fd = ::open(devpath.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_EQ(::ftruncate(fd, 8 << 20), 0);
  ::close(fd);
  auto sink = DeviceSink::open(devpath);
  auto rb = FileSource::open(devpath);
  ASSERT_TRUE(sink.ok() && rb.ok());
  ContainerWriter w(**sink, rb->get(), (*sink)->size());
  ASSERT_TRUE(w.begin(ContainerInfo{}).ok());
  save_trace_to_container(w, &*t);
  EXPECT_TRUE(t->marked_consumed);
  auto src = FileSource::open(devpath);
  auto c = ContainerReader::open(**src);
  ASSERT_TRUE(c.ok());
  std::vector<std::string> names;
  for (const auto& s : c->sections()) {
    EXPECT_EQ(s.type, SectionType::kTrace);
    EXPECT_EQ(s.state, SectionState::kComplete);
    names.push_back(s.name);
    EXPECT_FALSE(trace_file_for_section(s.name).empty());
  }
  const std::vector<std::string> want = {"trace-cpu0.bin", "trace-cpu1.bin", "trace-merged.bin",
                                         "trace-private.bin", "trace-header.bin", "trace-summary.txt"};
  EXPECT_EQ(names, want);
  EXPECT_EQ(trace_file_for_section("trace-merged.bin"), "merged.bin");
  EXPECT_EQ(trace_file_for_section("dmesg"), "");
  EXPECT_EQ(trace_file_for_section("trace-../x"), "");
  // The flag is set in "memory".
  auto again = recover_trace(spec(), RelayresReadPaths{"", mem});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->was_consumed);
}

TEST_F(CaptureTrace, SalvageSaveCopiesTheSectionsBackToTraceFiles) {
  const std::string mem = dev_mem();
  auto t = recover_trace(spec(), RelayresReadPaths{"", mem});
  ASSERT_TRUE(t.ok()) << t.error().message;
  const std::string devpath = dir_ + "/dev";
  int fd = ::open(devpath.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_EQ(::ftruncate(fd, 16 << 20), 0);
  ::close(fd);
  {
    auto sink = DeviceSink::open(devpath);
    auto rb = FileSource::open(devpath);
    ASSERT_TRUE(sink.ok() && rb.ok());
    ContainerWriter w(**sink, rb->get(), (*sink)->size());
    ContainerInfo ci;
    ci.crash_time = 1700000000;
    ci.hostname = "unit-host";
    ASSERT_TRUE(w.begin(ci).ok());
    save_trace_to_container(w, &*t);
    auto s = w.open_section("vmcore", SectionType::kDump);
    ASSERT_TRUE(s.ok());
    synth::Spec sp = synth::minimal_spec();
    for (auto& l : sp.loads) l.filesz = l.memsz;
    auto b = synth::build(sp);
    ASSERT_TRUE((*s)->write_at(FileOffset(0), std::as_bytes(std::span(b))).ok());
    ASSERT_TRUE(w.close_section(SectionState::kComplete).ok());
  }
  std::vector<std::string> args = {"save", "--device", devpath, "--crash-dir", dir_ + "/crash", "--min-free", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ASSERT_EQ(cmd_save(static_cast<int>(argv.size()), argv.data()), 0);
  const std::string out = dir_ + "/crash/unit-host/20231114-221320/trace/";
  // What the region holds, rebuilt in memory (the capture streamed it).
  auto inmem = parse_relayres(w_->region, kPhys);
  ASSERT_TRUE(inmem.ok());
  const auto files = trace_files_from(w_->region, *inmem, t->via);
  ASSERT_EQ(files.size(), 6u);
  for (const auto& f : files) {
    std::ifstream in(out + f.name, std::ios::binary);
    ASSERT_TRUE(in.good()) << out + f.name;
    const std::string got((std::istreambuf_iterator<char>(in)), {});
    ASSERT_EQ(got.size(), f.data.size()) << f.name;
    EXPECT_EQ(std::memcmp(got.data(), f.data.data(), got.size()), 0) << f.name;
  }
}

TEST_F(CaptureTrace, WarmResetSaveAtBootWritesTheFilesOnce) {
  BootTracePaths p;
  p.cmdline = write_file("cmdline", "root=/dev/vda1 memmap=1M$0x5000000 flightrec.relayres=" +
                                        std::to_string(w_->region.size() / 1024) + "K@0x5000000\n");
  p.boot_id = write_file("boot_id", "aaaaaaaa-0000-0000-0000-000000000000\n");
  p.dev_mem = dev_mem();
  const Log log(0);
  auto d = save_boot_trace_to(dir_ + "/crash", p, log);
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_FALSE(d->empty());
  struct stat st {};
  ASSERT_EQ(::stat((*d + "/trace/merged.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_GT(st.st_size, 0);
  ASSERT_EQ(::stat((*d + "/trace/cpu1.bin").c_str(), &st), 0);
  // Marked consumed: the next boot saves nothing.
  auto d2 = save_boot_trace_to(dir_ + "/crash", p, log);
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(*d2, "");
}

TEST_F(CaptureTrace, WarmResetSaveSkipsThisBootsLiveChannelAndEmptyRegions) {
  BootTracePaths p;
  p.cmdline = write_file("cmdline", "relayres=" + std::to_string(w_->region.size() / 4096 * 4) + "K@0x5000000");
  p.boot_id = write_file("boot_id", "10111213-1415-1617-1819-1a1b1c1d1e1f\n");  // the writer's
  p.dev_mem = dev_mem();
  const Log log(0);
  auto d = save_boot_trace_to(dir_ + "/crash", p, log);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(*d, "");
  std::fill(w_->region.begin(), w_->region.end(), std::byte{0});
  p.dev_mem = dev_mem();
  p.boot_id = write_file("boot_id", "x");
  d = save_boot_trace_to(dir_ + "/crash", p, log);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(*d, "");
  p.cmdline = write_file("cmdline", "root=/dev/vda1");
  d = save_boot_trace_to(dir_ + "/crash", p, log);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "");
}

TEST_F(CaptureTrace, ABadRegionInTheCaptureIsSaidAndIgnored) {
  w_->region[40] = std::byte{0x7};  // subbuf_size, header crc now wrong
  const std::string mem = dev_mem();
  EXPECT_EQ(recover_capture_trace("flightrec.relayres=" + std::to_string(w_->region.size() / 1024) + "K@0x5000000",
                                  RelayresReadPaths{"", mem}),
            nullptr);
  EXPECT_EQ(recover_capture_trace("root=/dev/vda1", RelayresReadPaths{"", mem}), nullptr);
  EXPECT_EQ(recover_capture_trace("relayres=1M@0x80000000", RelayresReadPaths{"", mem}), nullptr);
  // Null traces are no-ops for the targets.
  save_trace_to_dir(dir_, nullptr, dir_);
  struct stat st {};
  EXPECT_NE(::stat((dir_ + "/trace").c_str(), &st), 0);
}

// ---- Streaming: each file in order, at consecutive offsets, in bounded
// writes, from bounded reads; the bytes are the records' frames.

class CountingSource final : public ByteSource {
 public:
  explicit CountingSource(std::span<const std::byte> d) : mem_(d) {}
  Result<void> read_at(FileOffset off, std::span<std::byte> out) override {
    max_read = std::max<u64>(max_read, out.size());
    return mem_.read_at(off, out);
  }
  u64 size() const override { return mem_.size(); }
  std::string name() const override { return "counting"; }
  u64 max_read = 0;

 private:
  MemorySource mem_;
};

// Records every call; checks the streaming contract as it goes.
class RecordingTarget final : public TraceTarget {
 public:
  struct File {
    std::string name;
    u64 size = 0;
    std::vector<std::byte> data;
    bool closed = false, complete = false;
  };
  class FileSinkRec final : public Sink {
   public:
    explicit FileSinkRec(RecordingTarget& t) : t_(t) {}
    Result<void> write_at(FileOffset off, std::span<const std::byte> d) override {
      File& f = t_.files.back();
      EXPECT_FALSE(f.closed);
      EXPECT_EQ(off.value, f.data.size()) << f.name << ": writes at consecutive offsets";
      t_.max_write = std::max<u64>(t_.max_write, d.size());
      ++t_.writes;
      f.data.insert(f.data.end(), d.begin(), d.end());
      return Ok();
    }
    Result<void> finish() override { return Ok(); }
    std::string name() const override { return "rec"; }

   private:
    RecordingTarget& t_;
  };
  Result<Sink*> open(const std::string& file, u64 size) override {
    if (!files.empty()) {
      EXPECT_TRUE(files.back().closed) << "one file at a time";
    }
    files.push_back(File{file, size, {}, false, false});
    sink_ = std::make_unique<FileSinkRec>(*this);
    return sink_.get();
  }
  Result<void> close(bool complete) override {
    files.back().closed = true;
    files.back().complete = complete;
    return Ok();
  }
  std::vector<File> files;
  u64 max_write = 0, writes = 0;

 private:
  std::unique_ptr<FileSinkRec> sink_;
};

void append_frame(std::vector<std::byte>& out, std::span<const std::byte> region, const RelayresRecordRef& r) {
  const auto b = relayres_record_bytes(region, r);
  out.insert(out.end(), b.begin(), b.end());
  out.resize(out.size() + (((r.len + 7) & ~7u) - r.len), std::byte{0});
}

TEST(CaptureTraceStream, FilesStreamInOrderFromBoundedReadsWithTheRecordsBytes) {
  testing::RelayresGeometry g;
  g.nr_cpus = 4;
  g.subbuf_size = 65536;
  g.n_subbufs = 8;
  testing::RelayresWriter w(g);
  for (u64 i = 0; i < 16000; ++i)  // ~1600 records a sub-buffer: wraps
    for (u32 c = 0; c < 4; ++c) w.write(c, RELAYRES_EV_TEST, 7000 + i * 10 + (c * 3) % 10, testing::relayres_test_payload(i, c));
  CountingSource src(w.region);
  auto ch = parse_relayres(src, g.phys);
  ASSERT_TRUE(ch.ok()) << ch.error().message;
  RecordingTarget out;
  auto st = write_trace_files(src, *ch, "test", out);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_LE(src.max_read, g.subbuf_size) << "the region is never read whole";
  EXPECT_LE(out.max_write, 256u << 10) << "writes are staged in bounded chunks";
  std::vector<std::string> names;
  for (const auto& f : out.files) {
    names.push_back(f.name);
    EXPECT_TRUE(f.closed && f.complete) << f.name;
    EXPECT_EQ(f.data.size(), f.size) << f.name << ": the announced size is what arrives";
  }
  EXPECT_EQ(names, trace_file_names(*ch));
  EXPECT_EQ(st->files, names.size());
  // The bytes: what the in-memory reader's record lists say.
  auto mem = parse_relayres(w.region, g.phys);
  ASSERT_TRUE(mem.ok());
  u64 total = 0;
  for (u32 c = 0; c < 4; ++c) {
    std::vector<std::byte> want;
    for (const auto& r : mem->cpus[c].records) append_frame(want, w.region, r);
    ASSERT_EQ(out.files[c].name, "cpu" + std::to_string(c) + ".bin");
    EXPECT_TRUE(out.files[c].data == want) << "cpu " << c;
    total += want.size();
  }
  std::vector<std::byte> merged;
  for (const auto& r : merge_relayres(*mem)) append_frame(merged, w.region, r);
  EXPECT_EQ(merged.size(), total);
  EXPECT_TRUE(out.files[4].data == merged) << "merged.bin";
  EXPECT_GT(out.writes, 4 * 2u) << "a multi-MiB stream is not one write";
  // The in-memory helper writes the same bytes.
  auto files = trace_files_from(w.region, *mem, "test");
  ASSERT_EQ(files.size(), out.files.size());
  for (size_t i = 0; i < files.size(); ++i) EXPECT_TRUE(files[i].data == out.files[i].data) << files[i].name;
}

TEST_F(CaptureTrace, ArtifactsAreNamedTraceSlashFileCountedAndConsumedAfterwards) {
  const std::string mem = dev_mem();
  auto t = recover_trace(spec(), RelayresReadPaths{"", mem});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->channel.cpus[0].records.empty()) << "the capture holds no record list";
  RecordingTarget rec;
  std::vector<std::string> opened;
  TraceArtifactTarget target{
      [&](const std::string& name) -> Result<Sink*> {
        opened.push_back(name);
        return rec.open(name, 0);
      },
      [&](bool complete) { return rec.close(complete); }};
  const u64 bytes = save_trace_as_artifacts(&*t, target);
  const std::vector<std::string> want = {"trace/cpu0.bin", "trace/cpu1.bin", "trace/merged.bin",
                                         "trace/private.bin", "trace/header.bin", "trace/summary.txt"};
  EXPECT_EQ(opened, want);
  u64 sum = 0;
  for (const auto& f : rec.files) {
    EXPECT_TRUE(f.complete);
    sum += f.data.size();
  }
  EXPECT_EQ(bytes, sum) << "the caller subtracts these from its dump byte count";
  EXPECT_TRUE(t->marked_consumed);
  // A target that fails: nothing counted, the channel not marked again.
  auto t2 = recover_trace(spec(), RelayresReadPaths{"", mem});
  ASSERT_TRUE(t2.ok());
  TraceArtifactTarget broken{[](const std::string&) -> Result<Sink*> { return make_error("collector gone"); },
                             [](bool) { return Result<void>(Ok()); }};
  EXPECT_EQ(save_trace_as_artifacts(&*t2, broken), 0u);
  EXPECT_FALSE(t2->marked_consumed);
  EXPECT_EQ(save_trace_as_artifacts(nullptr, target), 0u);
}

}  // namespace
}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// The capture agent's container on a device (a file here): a complete
// dump opens from the 'vmcore' section, a 'summary' section follows, and
// a device too small for the dump still closes the section incomplete.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "agent/capture-write.h"
#include "agent/file-source.h"
#include "formats/container.h"
#include "tests/fuzz/synth-vmcore.h"

namespace salvage {
namespace {

std::string temp_file(const char* tag, const synth::Bytes* content, u64 size = 0) {
  char tmpl[64];
  std::snprintf(tmpl, sizeof tmpl, "/tmp/salvage-capture-%s-XXXXXX", tag);
  int fd = mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  if (content) {
    EXPECT_EQ(write(fd, content->data(), content->size()), static_cast<ssize_t>(content->size()));
  }
  if (size) {
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
  }
  close(fd);
  return tmpl;
}

std::string synthetic_vmcore() {
  synth::Spec s = synth::minimal_spec();
  for (auto& l : s.loads) l.filesz = l.memsz;
  synth::Bytes b = synth::build(s);
  return temp_file("vmcore", &b);
}

ConvertSettings zlib_settings() {
  ConvertSettings s;
  s.dump_level = 0;
  s.encoding = PageEncoding::kZlib;
  return s;
}

TEST(CaptureWrite, ContainerHoldsAnOpenableDumpAndASummary) {
  const std::string in = synthetic_vmcore();
  const std::string dev = temp_file("dev", nullptr, 8 << 20);
  const Log log(0);
  auto src = open_capture_source(in, 0, log);
  ASSERT_TRUE(src.ok()) << src.error().message;
  EXPECT_EQ((*src)->info.release, "6.1.0-synthetic");
  auto r = capture_to_device(dev, "/dev/test", **src, zlib_settings(), log);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->complete);
  EXPECT_GT(r->dump_bytes, 0u);
  EXPECT_NE(r->summary.find("completeness: complete"), std::string::npos) << r->summary;

  auto file = FileSource::open(dev);
  ASSERT_TRUE(file.ok());
  auto c = ContainerReader::open(**file);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->info().release, "6.1.0-synthetic");
  const SectionInfo* vm = c->find("vmcore");
  const SectionInfo* sum = c->find("summary");
  ASSERT_NE(vm, nullptr);
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(vm->state, SectionState::kComplete);
  EXPECT_EQ(vm->length, r->dump_bytes);
  auto crcs = c->verify(*vm);
  ASSERT_TRUE(crcs.ok()) << crcs.error().message;
  EXPECT_TRUE(crcs->bad_chunks.empty());
  auto data = c->section_data(*vm);
  auto dump = open_dump(*data);
  ASSERT_TRUE(dump.ok()) << dump.error().message;
  EXPECT_EQ((*dump)->metadata().format, "kdump");
  unlink(in.c_str());
  unlink(dev.c_str());
}

TEST(CaptureWrite, DeviceTooSmallClosesTheDumpIncomplete) {
  const std::string in = synthetic_vmcore();
  // Room for the container's header and table and a few blocks only.
  const std::string dev = temp_file("small", nullptr, 12288 + 5 * 4096);
  const Log log(0);
  auto src = open_capture_source(in, 0, log);
  ASSERT_TRUE(src.ok()) << src.error().message;
  ConvertSettings raw = zlib_settings();
  raw.encoding = PageEncoding::kRaw;
  auto r = capture_to_device(dev, "/dev/test", **src, raw, log);
  if (r.ok()) {
    EXPECT_FALSE(r->complete);
    EXPECT_FALSE(r->incomplete_reason.empty());
    auto file = FileSource::open(dev);
    ASSERT_TRUE(file.ok());
    auto c = ContainerReader::open(**file);
    ASSERT_TRUE(c.ok()) << c.error().message;
    const SectionInfo* vm = c->find("vmcore");
    ASSERT_NE(vm, nullptr);
    EXPECT_EQ(vm->state, SectionState::kIncomplete);
  } else {
    // Not even the dump header fitted: the error says so, and the next target is tried.
    EXPECT_NE(r.error().message.find("nothing of the dump"), std::string::npos) << r.error().message;
  }
  unlink(in.c_str());
  unlink(dev.c_str());
}

}  // namespace
}  // namespace salvage

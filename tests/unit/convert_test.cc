// SPDX-License-Identifier: GPL-2.0-or-later
// salvage convert end to end on synthetic vmcores: degradations are honest
// (said on stderr, recorded as the dump level), output does not depend on
// the thread count, and errors name what failed.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/commands.h"
#include "agent/file-source.h"
#include "formats/dump-reader.h"
#include "tests/fuzz/synth-vmcore.h"

namespace salvage {
namespace {

std::string temp_path(const char* tag) {
  char tmpl[64];
  std::snprintf(tmpl, sizeof tmpl, "/tmp/salvage-convert-%s-XXXXXX", tag);
  int fd = mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  close(fd);
  return tmpl;
}

void write_file(const std::string& path, const synth::Bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

// Runs `salvage convert ARGS...` in-process; returns the exit status and stderr.
std::pair<int, std::string> convert(std::vector<std::string> args) {
  args.insert(args.begin(), "convert");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::string err_path = temp_path("stderr");
  fflush(stderr);
  int saved = dup(2);
  int fd = open(err_path.c_str(), O_WRONLY | O_TRUNC);
  dup2(fd, 2);
  close(fd);
  int rc = cmd_convert(static_cast<int>(argv.size()), argv.data());
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  auto bytes = read_file(err_path);
  unlink(err_path.c_str());
  return {rc, std::string(bytes.begin(), bytes.end())};
}

synth::Spec spec_with_ram() {
  synth::Spec s = synth::minimal_spec();
  for (auto& l : s.loads) l.filesz = l.memsz;
  return s;
}

TEST(Convert, MissingMemMapKeysFallBackToLevelOneAndSaySo) {
  std::string in = temp_path("in"), out = temp_path("out");
  write_file(in, synth::build(spec_with_ram()));
  auto [rc, err] = convert({"-d", "31", "-c", in, out});
  ASSERT_EQ(rc, 0) << err;
  EXPECT_NE(err.find("not applied"), std::string::npos) << err;  // says which bits were dropped and why
  auto src = FileSource::open(out);
  ASSERT_TRUE(src.ok());
  auto dump = open_dump(**src);
  ASSERT_TRUE(dump.ok()) << dump.error().message;
  EXPECT_EQ((*dump)->metadata().format, "kdump");
  EXPECT_EQ((*dump)->metadata().dump_level, 1) << "the dump must record the level actually applied";
  unlink(in.c_str());
  unlink(out.c_str());
}

TEST(Convert, GarbageVmcoreinfoStillGivesAnHonestDump) {
  synth::Spec s = spec_with_ram();
  s.vmcoreinfo = "OSRELEASE=6.1.0-synthetic\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=zzzz\nNUMBER(phys_base)=-x\n"
                 "no equals sign here\nSYMBOL(mem_section)=\n";
  std::string in = temp_path("in"), out = temp_path("out");
  write_file(in, synth::build(s));
  auto [rc, err] = convert({"-d", "31", in, out});
  ASSERT_EQ(rc, 0) << err;
  EXPECT_NE(err.find("NUMBER(phys_base)=\"-x\""), std::string::npos) << err;  // names the bad key and value
  auto src = FileSource::open(out);
  auto dump = open_dump(**src);
  ASSERT_TRUE(dump.ok()) << dump.error().message;
  EXPECT_EQ((*dump)->metadata().dump_level, 1);
  // Every RAM page of the source is in the output, byte for byte.
  auto isrc = FileSource::open(in);
  auto idump = open_dump(**isrc);
  ASSERT_TRUE(idump.ok());
  std::vector<std::byte> a(kPageSize), b(kPageSize);
  u64 compared = 0;
  for (const auto& r : (*idump)->ram())
    for (u64 pa = round_up(r.start.value, kPageSize); pa + kPageSize <= r.start.value + r.size; pa += kPageSize) {
      auto sa = (*idump)->read_page(Pfn(pa >> kPageShift), a);
      auto sb = (*dump)->read_page(Pfn(pa >> kPageShift), b);
      ASSERT_TRUE(sa.ok() && sb.ok());
      ASSERT_EQ(a, b) << "pfn " << (pa >> kPageShift);
      ++compared;
    }
  EXPECT_GT(compared, 0u);
  unlink(in.c_str());
  unlink(out.c_str());
}

TEST(Convert, OutputIsIdenticalForAnyThreadCount) {
  std::string in = temp_path("in"), o1 = temp_path("j1"), o3 = temp_path("j3");
  write_file(in, synth::build(spec_with_ram()));
  for (const char* codec : {"-c", "-l", "-p", "-z"}) {
    ASSERT_EQ(convert({"-d", "1", codec, "-j", "1", in, o1}).first, 0);
    ASSERT_EQ(convert({"-d", "1", codec, "-j3", in, o3}).first, 0);
    EXPECT_EQ(read_file(o1), read_file(o3)) << codec;
  }
  unlink(in.c_str());
  unlink(o1.c_str());
  unlink(o3.c_str());
}

TEST(Convert, ErrorsNameWhatFailed) {
  auto [rc, err] = convert({"/nonexistent/vmcore", "/tmp/x"});
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("/nonexistent/vmcore"), std::string::npos) << err;
  std::string in = temp_path("in");
  write_file(in, synth::build(spec_with_ram()));
  auto [rc2, err2] = convert({in, "/nonexistent-dir/out"});
  EXPECT_NE(rc2, 0);
  EXPECT_NE(err2.find("/nonexistent-dir/out"), std::string::npos) << err2;
  auto [rc3, err3] = convert({"-d", "99", in, "/tmp/x"});
  EXPECT_EQ(rc3, 2);
  EXPECT_NE(err3.find("dump level"), std::string::npos) << err3;
  auto [rc4, err4] = convert({"-E", "-c", in, "/tmp/x"});
  EXPECT_EQ(rc4, 2);
  unlink(in.c_str());
}

TEST(Convert, EveryFormatRoundTripsThroughOurReaders) {
  std::string in = temp_path("in"), out = temp_path("out");
  write_file(in, synth::build(spec_with_ram()));
  struct Case {
    std::vector<std::string> flags;
    const char* format;
  };
  for (const Case& c : {Case{{"-c"}, "kdump"}, Case{{"-E"}, "elf"}, Case{{"--lkcd", "-c"}, "lkcd"},
                        Case{{"-F", "-z"}, "flattened"}}) {
    std::vector<std::string> args = c.flags;
    args.push_back(in);
    args.push_back(out);
    auto [rc, err] = convert(args);
    ASSERT_EQ(rc, 0) << err;
    auto src = FileSource::open(out);
    auto dump = open_dump(**src);
    ASSERT_TRUE(dump.ok()) << c.format << ": " << dump.error().message;
    EXPECT_EQ((*dump)->metadata().format, c.format);
    auto id = identify((*dump)->notes());
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(id->vmcoreinfo.has_value()) << c.format;
    EXPECT_EQ(id->vmcoreinfo->osrelease(), "6.1.0-synthetic");
  }
  unlink(in.c_str());
  unlink(out.c_str());
}

}  // namespace
}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// Finding the flight recorder's region on a command line, carrying it over
// to the capture kernel, reading it through a vmcore's PT_LOADs or /dev/mem
// (a file standing in for both), and marking it consumed.
#include "agent/relayres-source.h"

#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "agent/cmdline.h"
#include "tests/tools/relayres-writer.h"

namespace salvage {
namespace {

TEST(RelayresSpec, ParsesSizeAtAddrWithSuffixes) {
  auto s = parse_relayres_spec("1M@0x5000000");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->size, 1u << 20);
  EXPECT_EQ(s->phys, 0x5000000u);
  EXPECT_EQ(s->to_string(), "1M@0x5000000");
  s = parse_relayres_spec("4096K@80M");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->size, 4u << 20);
  EXPECT_EQ(s->phys, 80u << 20);
  s = parse_relayres_spec("1G@0x100000000");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->size, 1u << 30);
  for (const char* bad : {"1M", "1M@0x5000001", "0@0x5000000", "1X@0x5000000", "3000@0x5000000", "1M@", "@0x1000",
                          "1M@0x5000000x", "-1M@0x1000"})
    EXPECT_FALSE(parse_relayres_spec(bad).ok()) << bad;
}

TEST(RelayresSpec, FoundOnTheCommandLineLastOneWins) {
  auto s = relayres_from_cmdline("root=/dev/vda1 memmap=1M$0x5000000 flightrec.relayres=1M@0x5000000 quiet");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->param, "flightrec.relayres");
  EXPECT_EQ((*s)->phys, 0x5000000u);
  s = relayres_from_cmdline("relayres=1M@0x1000000 relayres=2M@0x2000000");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->param, "relayres");
  EXPECT_EQ((*s)->size, 2u << 20);
  s = relayres_from_cmdline("root=/dev/vda1 relayres_other=1 norelayres=3");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->has_value());
  auto bad = relayres_from_cmdline("flightrec.relayres=1M");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("flightrec.relayres"), std::string::npos) << bad.error().message;
}

TEST(RelayresSpec, SalvageLoadCarriesTheRegionOverToTheCaptureKernel) {
  const std::string running =
      "BOOT_IMAGE=/vmlinuz root=/dev/vda1 memmap=1M$0x5000000 flightrec.relayres=1M@0x5000000 relayres=4M@0x6000000";
  auto capture = build_capture_cmdline(running, CaptureCmdlineOptions{});
  ASSERT_TRUE(capture.ok());
  EXPECT_NE(capture->find("flightrec.relayres=1M@0x5000000"), std::string::npos) << *capture;
  EXPECT_NE(capture->find(" relayres=4M@0x6000000"), std::string::npos) << *capture;
  EXPECT_EQ(capture->find("memmap="), std::string::npos) << "memmap= is not passed on: " << *capture;
  auto s = relayres_from_cmdline(*capture);
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->phys, 0x6000000u);
}

class RelayresRead : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/relayres-source-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  // A sparse file where offset = physical address: a stand-in for /dev/mem.
  std::string fake_dev_mem(const std::vector<std::byte>& region, u64 phys) {
    const std::string p = dir_ + "/mem";
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::pwrite(fd, region.data(), region.size(), static_cast<off_t>(phys)), static_cast<ssize_t>(region.size()));
    ::close(fd);
    return p;
  }
  std::string dir_;
};

TEST_F(RelayresRead, ThroughDevMemAndMarkConsumed) {
  testing::RelayresWriter w(testing::RelayresGeometry{});
  for (int i = 0; i < 50; ++i) w.write(i % 2, RELAYRES_EV_TEST, 1000 + i, testing::relayres_test_payload(i / 2, i % 2));
  const std::string mem = fake_dev_mem(w.region, 0x5000000);
  RelayresSpec spec{w.region.size(), 0x5000000, "flightrec.relayres"};
  auto rb = read_relayres_region(spec, RelayresReadPaths{dir_ + "/no-vmcore", mem});
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(rb->via, mem);
  EXPECT_EQ(rb->bytes, w.region);
  auto ch = parse_relayres(rb->bytes, spec.phys);
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->priv.consumed, 0u);
  ASSERT_TRUE(mark_relayres_consumed(spec, ch->header, mem).ok());
  auto again = read_relayres_region(spec, RelayresReadPaths{"", mem});
  ASSERT_TRUE(again.ok());
  auto ch2 = parse_relayres(again->bytes, spec.phys);
  ASSERT_TRUE(ch2.ok());
  EXPECT_EQ(ch2->priv.consumed, 1u);
  EXPECT_EQ(ch2->total_records(), 50u) << "marking touches only the flag";
}

TEST_F(RelayresRead, RegionOutsideMemoryIsAClearError) {
  testing::RelayresWriter w(testing::RelayresGeometry{});
  const std::string mem = fake_dev_mem(w.region, 0x5000000);
  RelayresSpec spec{w.region.size(), 0x40000000, "relayres"};
  auto rb = read_relayres_region(spec, RelayresReadPaths{"", mem});
  ASSERT_FALSE(rb.ok());
  const std::string& m = rb.error().message;
  EXPECT_NE(m.find("is not in a vmcore and reading"), std::string::npos) << m;
  EXPECT_NE(m.find("at 0x40000000"), std::string::npos) << m;
  EXPECT_NE(m.find("outside memory"), std::string::npos) << m;
}

TEST_F(RelayresRead, ThroughTheVmcoresPtLoadsWhenTheyCoverIt) {
  testing::RelayresWriter w(testing::RelayresGeometry{});
  for (int i = 0; i < 10; ++i) w.write(0, RELAYRES_EV_TEST, 1000 + i, testing::relayres_test_payload(i, 0));
  // ELF core: two PT_LOADs, the region split across them at 16 KiB.
  const u64 phys = 0x5000000, split = 16384, data = 4096;
  std::vector<std::byte> core(data + w.region.size());
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_CORE;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof eh;
  eh.e_ehsize = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 3;
  Elf64_Phdr ph[3]{};
  ph[2].p_type = PT_NOTE;  // empty: the reader wants one
  ph[2].p_offset = data;
  ph[0].p_type = ph[1].p_type = PT_LOAD;
  ph[0].p_offset = data;
  ph[0].p_paddr = phys;
  ph[0].p_filesz = ph[0].p_memsz = split;
  ph[1].p_offset = data + split;
  ph[1].p_paddr = phys + split;
  ph[1].p_filesz = ph[1].p_memsz = w.region.size() - split;
  std::memcpy(core.data(), &eh, sizeof eh);
  std::memcpy(core.data() + sizeof eh, ph, sizeof ph);
  std::memcpy(core.data() + data, w.region.data(), w.region.size());
  const std::string vmcore = dir_ + "/vmcore";
  FILE* f = std::fopen(vmcore.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(core.data(), 1, core.size(), f), core.size());
  std::fclose(f);
  RelayresSpec spec{w.region.size(), phys, "relayres"};
  auto rb = read_relayres_region(spec, RelayresReadPaths{vmcore, dir_ + "/no-dev-mem"});
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_EQ(rb->via, vmcore + " (PT_LOAD 0,1)");
  EXPECT_EQ(rb->bytes, w.region);
  // Not covered by the PT_LOADs: /dev/mem is tried, and its absence named.
  RelayresSpec elsewhere{w.region.size(), 0x7000000, "relayres"};
  auto rb2 = read_relayres_region(elsewhere, RelayresReadPaths{vmcore, dir_ + "/no-dev-mem"});
  ASSERT_FALSE(rb2.ok());
  EXPECT_NE(rb2.error().message.find("PT_LOADs and open " + dir_ + "/no-dev-mem"), std::string::npos)
      << rb2.error().message;
}

}  // namespace
}  // namespace salvage

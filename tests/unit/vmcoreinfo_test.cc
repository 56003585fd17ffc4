// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/vmcoreinfo.h"

#include <gtest/gtest.h>

using salvage::Vmcoreinfo;

TEST(Vmcoreinfo, ParsesTypedKeys) {
  auto vi = Vmcoreinfo::parse(
      "OSRELEASE=6.1.0-test\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff8a00a000\n"
      "OFFSET(page.flags)=0\nSIZE(page)=64\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\n"
      "KERNELOFFSET=9000000\nCRASHTIME=1700000000\n");
  EXPECT_EQ(vi.osrelease(), "6.1.0-test");
  EXPECT_EQ(*vi.symbol("init_top_pgt"), 0xffffffff8a00a000ULL);
  EXPECT_EQ(*vi.size("page"), 64u);
  EXPECT_EQ(*vi.offset("page.flags"), 0u);
  EXPECT_EQ(*vi.number("PAGE_BUDDY_MAPCOUNT_VALUE"), -129);
  EXPECT_EQ(vi.kernel_offset(), 0x9000000u);
  EXPECT_EQ(*vi.decimal("CRASHTIME"), 1700000000);
  EXPECT_TRUE(vi.warnings().empty());
}

TEST(Vmcoreinfo, GarbageIsReportedNotFatal) {
  auto vi = Vmcoreinfo::parse("OSRELEASE=6.1\nthis line has no equals\nSIZE(page)=sixty-four\n");
  ASSERT_EQ(vi.warnings().size(), 1u);
  EXPECT_NE(vi.warnings()[0].find("line 2"), std::string::npos);
  auto r = vi.size("page");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("SIZE(page)"), std::string::npos);
  EXPECT_FALSE(vi.symbol("missing").ok());
}

TEST(Vmcoreinfo, StopsAtNul) {
  std::string s("PAGESIZE=4096\n\0JUNK=1\n", 23);
  auto vi = Vmcoreinfo::parse(s);
  EXPECT_TRUE(vi.has("PAGESIZE"));
  EXPECT_FALSE(vi.has("JUNK"));
}

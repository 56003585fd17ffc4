// SPDX-License-Identifier: GPL-2.0-or-later
// page-filter and mem-map against a synthetic kernel: a mem_section root
// array, one mem_section page and a vmemmap mem_map in fake virtual memory,
// laid out as x86_64 6.1 does (VMCOREINFO values from the Debian 6.1 cloud
// kernel). Each test pins one makedumpfile 1.7.2 rule.
#include "agent/page-filter.h"

#include <gtest/gtest.h>

#include <map>

#include "formats/endian.h"

using namespace salvage;

namespace {

constexpr u64 kRoot = 0xffff888000010000ULL;     // root array (SYMBOL(mem_section))
constexpr u64 kSections = 0xffff888000020000ULL; // mem_section[0..255]
constexpr u64 kPtr = 0xffff888000030000ULL;      // a pointer to kRoot (extreme v2 -x case)
constexpr u64 kVmemmap = 0xffffea0000000000ULL;
constexpr u64 kPerSection = 32768;               // 1 << (27 - 12)
constexpr u64 kMax = 40000;                      // 2 sections, the 2nd partial

const char* kVmcoreinfo =
    "OSRELEASE=6.1.0-test\nPAGESIZE=4096\n"
    "SYMBOL(mem_section)=ffff888000010000\nLENGTH(mem_section)=2048\nSIZE(mem_section)=16\n"
    "OFFSET(mem_section.section_mem_map)=0\nNUMBER(SECTION_SIZE_BITS)=27\nNUMBER(MAX_PHYSMEM_BITS)=46\n"
    "SIZE(page)=64\nOFFSET(page.flags)=0\nOFFSET(page._refcount)=52\nOFFSET(page.mapping)=24\n"
    "OFFSET(page.lru)=8\nOFFSET(page._mapcount)=48\nOFFSET(page.private)=40\nOFFSET(page.compound_dtor)=16\n"
    "OFFSET(page.compound_order)=17\nOFFSET(page.compound_head)=8\nLENGTH(zone.free_area)=11\n"
    "NUMBER(PG_lru)=4\nNUMBER(PG_private)=13\nNUMBER(PG_swapcache)=10\nNUMBER(PG_swapbacked)=19\n"
    "NUMBER(PG_slab)=9\nNUMBER(PG_head_mask)=65536\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\n"
    "NUMBER(HUGETLB_PAGE_DTOR)=2\nNUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-257\n";

constexpr u64 kLru = 1 << 4, kPrivate = 1 << 13, kSwapcache = 1 << 10, kSwapbacked = 1 << 19, kSlab = 1 << 9,
              kHead = 65536, kHwpoison = 1 << 23;

class FakeKernel {
 public:
  FakeKernel() {
    put64(kRoot, kSections);
    put64(kPtr, kRoot);
    // section_mem_map holds mem_map - section_start_pfn (in struct pages):
    // with vmemmap that is kVmemmap for every section, plus flag bits
    // PRESENT|HAS_MEM_MAP|ONLINE|EARLY.
    put64(kSections + 0 * 16, kVmemmap | 0xf);
    put64(kSections + 1 * 16, kVmemmap | 0xf);
    for (u64 a = kVmemmap; a < kVmemmap + kMax * 64; a += kPageSize) page(a);
  }
  void put64(u64 va, u64 v) { store_le<u64>(byte(va), v); }
  void put32(u64 va, u32 v) { store_le<u32>(byte(va), v); }
  void put8(u64 va, u8 v) { *byte(va) = std::byte{v}; }
  void drop_page(u64 va) { mem_.erase(va & ~(kPageSize - 1)); }

  struct Page {
    u64 flags = 0, mapping = 0, priv = 0, head = 0;
    i32 mapcount = -1;
  };
  void set(u64 pfn, const Page& p) {
    u64 a = kVmemmap + pfn * 64;
    put64(a + 0, p.flags);
    put64(a + 8, p.head);
    put64(a + 24, p.mapping);
    put64(a + 40, p.priv);
    put32(a + 48, static_cast<u32>(p.mapcount));
  }
  // A compound page: head flag, page[1] order/dtor, tails point at the head.
  void compound(u64 pfn, unsigned order, u8 dtor, u64 head_mapping) {
    set(pfn, {kHead, head_mapping, 0, 0, -1});
    for (u64 i = 1; i < (1ULL << order); ++i) set(pfn + i, {0, 0, 0, (kVmemmap + pfn * 64) | 1, -1});
    put8(kVmemmap + (pfn + 1) * 64 + 16, dtor);
    put8(kVmemmap + (pfn + 1) * 64 + 17, static_cast<u8>(order));
  }

  VirtReader reader() {
    return [this](VirtAddr va, std::span<std::byte> out) -> Result<void> {
      u64 v = va.value;
      for (size_t done = 0; done < out.size();) {
        auto it = mem_.find(v & ~(kPageSize - 1));
        if (it == mem_.end()) return make_error("virtual address " + std::to_string(v) + " is not mapped");
        size_t n = std::min<size_t>(out.size() - done, kPageSize - (v & (kPageSize - 1)));
        std::memcpy(out.data() + done, it->second.data() + (v & (kPageSize - 1)), n);
        done += n;
        v += n;
      }
      return Ok();
    };
  }

 private:
  std::vector<std::byte>& page(u64 va) {
    auto& p = mem_[va & ~(kPageSize - 1)];
    if (p.empty()) p.assign(kPageSize, std::byte{0});
    return p;
  }
  std::byte* byte(u64 va) { return &page(va)[va & (kPageSize - 1)]; }
  std::map<u64, std::vector<std::byte>> mem_;
};

std::vector<LoadRange> all_ram() { return {{0, kMax * kPageSize, kMax * kPageSize}}; }

FilterResult run(FakeKernel& k, int level, const std::string& extra = "", const std::string& vmcoreinfo = kVmcoreinfo) {
  auto vi = Vmcoreinfo::parse(vmcoreinfo + extra);
  auto r = filter_memory(k.reader(), vi, all_ram(), Pfn(kMax), level, Bitmap1Rule::kCyclicBuffer);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(*r) : FilterResult{};
}

u64 cls(const FilterResult& r, ExcludeClass c) { return r.excluded_by_class[static_cast<size_t>(c)]; }

std::string without(std::string s, const std::string& line) {
  auto p = s.find(line);
  if (p != std::string::npos) s.erase(p, line.size() + 1);
  return s;
}

}  // namespace

TEST(PageFilter, PresentBitmapEdgesFollowMakedumpfileMode) {
  // x86 low RAM often ends at 0x9fc00: the partial page 0x9f is in the 1st
  // bitmap only in makedumpfile's bitmap-file (non-cyclic) mode.
  std::vector<LoadRange> l{{0x1000, 0x9fc00, 0x9fc00}, {0x100800, 0x200000, 0x200000}};
  auto cyc = build_present(l, Pfn(0x200), Bitmap1Rule::kCyclicBuffer);
  auto file = build_present(l, Pfn(0x200), Bitmap1Rule::kBitmapFile);
  EXPECT_FALSE(cyc.test(Pfn(0)));
  EXPECT_TRUE(cyc.test(Pfn(1)));
  EXPECT_TRUE(cyc.test(Pfn(0x9e)));
  EXPECT_FALSE(cyc.test(Pfn(0x9f)));
  EXPECT_TRUE(file.test(Pfn(0x9f)));
  EXPECT_FALSE(file.test(Pfn(0xa0)));
  EXPECT_TRUE(cyc.test(Pfn(0x100)));  // start rounded down in both modes
  EXPECT_TRUE(file.test(Pfn(0x100)));
  EXPECT_EQ(cyc.count(), 0x9eu + 0x100u);
  // Non-cyclic only when max_mapnr*2/8 bytes hold both bitmaps exactly.
  EXPECT_EQ(makedumpfile_bitmap1_rule(Pfn(0x3ffdd)), Bitmap1Rule::kCyclicBuffer);
  EXPECT_EQ(makedumpfile_bitmap1_rule(Pfn(0x40000)), Bitmap1Rule::kBitmapFile);
  EXPECT_EQ(makedumpfile_bitmap1_rule(Pfn(1ULL << 26)), Bitmap1Rule::kCyclicBuffer);  // > 4 MiB buffer
}

TEST(PageFilter, FreePagesUseBuddyOrder) {
  FakeKernel k;
  k.set(64, {0, 0, 3, 0, -129});          // order-3 buddy: 8 pages
  k.set(128, {kSlab, 0, 1, 0, -129});     // slab pages are never buddy
  k.set(256, {0, 0, 11, 0, -129});        // order >= LENGTH(zone.free_area): kept
  auto r = run(k, kDlFree);
  EXPECT_EQ(r.effective_dump_level, kDlFree);
  for (u64 p = 64; p < 72; ++p) EXPECT_FALSE(r.kept.test(Pfn(p))) << p;
  EXPECT_TRUE(r.kept.test(Pfn(72)));
  EXPECT_TRUE(r.kept.test(Pfn(128)));
  EXPECT_TRUE(r.kept.test(Pfn(256)));
  EXPECT_EQ(cls(r, ExcludeClass::kFree), 8u);
  ASSERT_FALSE(r.degradations.empty());
  EXPECT_NE(r.degradations[0].find("order 11"), std::string::npos);
  EXPECT_TRUE(run(k, kDlMax & ~kDlFree).kept.test(Pfn(64)));
}

TEST(PageFilter, CacheRules) {
  FakeKernel k;
  k.set(10, {kLru, 0x1000, 0, 0, -1});                     // file cache
  k.set(11, {kLru | kPrivate, 0x1000, 0, 0, -1});          // private cache (buffer heads)
  k.set(12, {kSwapcache, 0x1000, 0, 0, -1});               // swapcache without swapbacked: not cache
  k.set(13, {kSwapcache | kSwapbacked, 0x1000, 0, 0, -1}); // swap cache
  k.set(14, {kLru, 0x1001, 0, 0, 0});                      // anon on the LRU: user data, not cache
  auto l2 = run(k, kDlCache);
  EXPECT_FALSE(l2.kept.test(Pfn(10)));
  EXPECT_TRUE(l2.kept.test(Pfn(11)));
  EXPECT_TRUE(l2.kept.test(Pfn(12)));
  EXPECT_FALSE(l2.kept.test(Pfn(13)));
  EXPECT_TRUE(l2.kept.test(Pfn(14)));
  EXPECT_EQ(cls(l2, ExcludeClass::kCache), 2u);
  auto l4 = run(k, kDlCachePrivate);
  EXPECT_FALSE(l4.kept.test(Pfn(11)));
  EXPECT_EQ(cls(l4, ExcludeClass::kCachePrivate), 1u);
  EXPECT_EQ(cls(l4, ExcludeClass::kCache), 2u);
  auto l8 = run(k, kDlUser);
  EXPECT_FALSE(l8.kept.test(Pfn(14)));
  EXPECT_TRUE(l8.kept.test(Pfn(10)));
  EXPECT_EQ(cls(l8, ExcludeClass::kUser), 1u);
}

TEST(PageFilter, CompoundPagesGoWithTheirHead) {
  FakeKernel k;
  k.compound(512, 9, 2, 0x1000);       // hugetlb (dtor 2), file mapping: user data at -d 8
  k.compound(2048, 2, 0, 0x2001);      // anon THP-like order 2
  k.set(4096, {0, 0x3001, 0, (kVmemmap + 4000 * 64) | 1, -1});  // a tail: never looked at alone
  k.set(1535, {kHead, 0x1000, 0, 0, -1});  // head in the last window slot: page[1] not read
  k.put8(kVmemmap + 1536 * 64 + 16, 2);
  auto r = run(k, kDlUser);
  for (u64 p = 512; p < 1024; ++p) ASSERT_FALSE(r.kept.test(Pfn(p))) << p;
  for (u64 p = 2048; p < 2052; ++p) EXPECT_FALSE(r.kept.test(Pfn(p))) << p;
  EXPECT_TRUE(r.kept.test(Pfn(1024)));
  EXPECT_TRUE(r.kept.test(Pfn(4096)));
  EXPECT_TRUE(r.kept.test(Pfn(1535)));
  EXPECT_EQ(cls(r, ExcludeClass::kUser), 512u + 4u);
  EXPECT_EQ(run(k, kDlCache | kDlCachePrivate | kDlFree).kept.count(), kMax);
}

TEST(PageFilter, HwpoisonAndOfflineOnlyWhenTheWalkRuns) {
  FakeKernel k;
  k.set(20, {0, 0, 0, 0, -257});           // logically offline (balloon)
  k.set(21, {kSlab, 0, 0, 0, -257});       // slab: not offline
  k.set(22, {kHwpoison, 0, 0, 0, -1});
  // Without NUMBER(PG_hwpoison) -d 0 does not walk mem_map at all.
  EXPECT_EQ(run(k, 0).kept.count(), kMax);
  EXPECT_FALSE(run(k, kDlUser).kept.test(Pfn(20)));
  auto r = run(k, 0, "NUMBER(PG_hwpoison)=23\n");
  EXPECT_FALSE(r.kept.test(Pfn(20)));
  EXPECT_TRUE(r.kept.test(Pfn(21)));
  EXPECT_FALSE(r.kept.test(Pfn(22)));
  EXPECT_EQ(cls(r, ExcludeClass::kOffline), 1u);
  EXPECT_EQ(cls(r, ExcludeClass::kHwpoison), 1u);
}

TEST(PageFilter, UnreadableMemMapKeepsPagesAndSaysWhere) {
  FakeKernel k;
  for (u64 p = 2048; p < 2200; ++p) k.set(p, {0, 0x5001, 0, 0, 0});  // anon
  k.drop_page(kVmemmap + 2048 * 64);  // struct pages of pfns 2048..2111
  auto r = run(k, kDlUser);
  EXPECT_TRUE(r.kept.test(Pfn(2048)));
  EXPECT_TRUE(r.kept.test(Pfn(2111)));
  EXPECT_FALSE(r.kept.test(Pfn(2112)));
  EXPECT_EQ(cls(r, ExcludeClass::kUser), 2200u - 2112u);
  ASSERT_EQ(r.degradations.size(), 1u);
  EXPECT_NE(r.degradations[0].find("0xffffea0000020000"), std::string::npos) << r.degradations[0];
  EXPECT_NE(r.degradations[0].find("64 pfns from 0x800"), std::string::npos) << r.degradations[0];
}

TEST(PageFilter, MissingKeysLowerTheLevel) {
  FakeKernel k;
  k.set(64, {0, 0, 3, 0, -129});
  auto r = run(k, kDlMax, "", without(kVmcoreinfo, "SIZE(page)=64"));
  EXPECT_EQ(r.effective_dump_level, kDlZero);
  EXPECT_EQ(r.kept.count(), kMax);
  ASSERT_FALSE(r.degradations.empty());
  EXPECT_NE(r.degradations[0].find("SIZE(page)"), std::string::npos);
  auto nb = run(k, kDlMax, "", without(kVmcoreinfo, "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129"));
  EXPECT_EQ(nb.effective_dump_level, kDlMax & ~kDlFree);
  EXPECT_TRUE(nb.kept.test(Pfn(64)));
  EXPECT_EQ(run(k, 0, "", without(kVmcoreinfo, "SIZE(page)=64")).degradations.size(), 0u);
}

TEST(PageFilter, RejectsBadLevel) {
  FakeKernel k;
  auto vi = Vmcoreinfo::parse(kVmcoreinfo);
  EXPECT_FALSE(filter_memory(k.reader(), vi, all_ram(), Pfn(kMax), 32, Bitmap1Rule::kCyclicBuffer).ok());
}

TEST(MemMap, DecodesSectionsAndFallsBackToPointer) {
  FakeKernel k;
  auto keys = sparse_keys(Vmcoreinfo::parse(kVmcoreinfo));
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->extreme());
  EXPECT_EQ(keys->sections_per_root(), 256u);
  std::vector<std::string> notes;
  auto s = read_mem_sections(k.reader(), *keys, Pfn(kMax), notes);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].mem_map, kVmemmap);  // flag bits masked off
  EXPECT_EQ((*s)[1].mem_map, kVmemmap + kPerSection * 64);
  EXPECT_EQ((*s)[1].pfn_end, Pfn(kMax));
  // SYMBOL(mem_section) naming a pointer to the root array (vmlinux symbol).
  keys->mem_section = kPtr;
  auto p = read_mem_sections(k.reader(), *keys, Pfn(kMax), notes);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ((*p)[1].mem_map, kVmemmap + kPerSection * 64);
  keys->mem_section = 0xffff888000040000ULL;  // unmapped
  EXPECT_FALSE(read_mem_sections(k.reader(), *keys, Pfn(kMax), notes).ok());
}

TEST(MemMap, MaxMapnrTrimmedToLastSectionWithMemMap) {
  FakeKernel k;
  k.put64(kSections + 16, 0);  // section 1 not present ("mem=" kernel)
  auto r = run(k, kDlFree);
  EXPECT_EQ(r.present.max_pfn(), Pfn(kPerSection));
  EXPECT_EQ(r.kept.max_pfn(), Pfn(kPerSection));
}

TEST(PageFilter, FieldsForDiagnostics) {
  FakeKernel k;
  k.compound(512, 9, 2, 0x1000);
  auto f = read_page_fields(k.reader(), Vmcoreinfo::parse(kVmcoreinfo), Pfn(512), Pfn(kMax));
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->compound_order, 9u);
  EXPECT_EQ(f->compound_dtor, 2u);
  EXPECT_NE(describe(*f).find("flags=0x10000"), std::string::npos);
}

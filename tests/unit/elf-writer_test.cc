// SPDX-License-Identifier: GPL-2.0-or-later
// ELF writer: synthetic dumps written into memory and read back with our ELF
// reader; byte-level checks of what crash/gdb/drgn rely on (formats.md 4.6).
#include <elf.h>
#include <gtest/gtest.h>

#include <map>

#include "formats/elf-vmcore.h"
#include "formats/format-table.h"
#include "tests/unit/elflkcd-fixture.h"

namespace salvage {
namespace {

using testing::MemorySink;
using testing::Synthetic;

std::vector<Elf64_Phdr> phdrs(const std::vector<std::byte>& f) {
  Elf64_Ehdr eh;
  std::memcpy(&eh, f.data(), sizeof eh);
  u64 n = eh.e_phnum;
  if (n == PN_XNUM) n = load_le<u32>(f.data() + eh.e_shoff + offsetof(Elf64_Shdr, sh_info));
  std::vector<Elf64_Phdr> out(n);
  std::memcpy(out.data(), f.data() + eh.e_phoff, n * sizeof(Elf64_Phdr));
  return out;
}

TEST(ElfWriter, LayoutFollowsMakedumpfileAndCrashRules) {
  Synthetic s;
  MemorySink sink;
  auto w = make_elf_writer(sink);
  ASSERT_TRUE(w->drops_zero_pages());
  ASSERT_TRUE(w->accepts(PageEncoding::kRaw));
  ASSERT_FALSE(w->accepts(PageEncoding::kZlib));
  auto r = testing::write_all(*w, s, PageEncoding::kRaw);
  ASSERT_TRUE(r.ok()) << r.error().message;
  testing::maybe_save("synthetic.elf", sink.bytes);
  const auto& f = sink.bytes;

  Elf64_Ehdr eh;
  std::memcpy(&eh, f.data(), sizeof eh);
  EXPECT_EQ(eh.e_type, ET_CORE);
  EXPECT_EQ(eh.e_machine, EM_X86_64);
  EXPECT_EQ(eh.e_flags, 0u);
  EXPECT_EQ(eh.e_phoff, 64u);
  auto ph = phdrs(f);
  // PT_NOTE + image(2: split at the 300-page run) + A(1) + B(2).
  ASSERT_EQ(ph.size(), 6u);
  EXPECT_EQ(ph[0].p_type, PT_NOTE);
  EXPECT_EQ(ph[0].p_align, 0u);
  EXPECT_EQ(ph[0].p_offset, 64u + 6 * 56);
  ASSERT_EQ(ph[0].p_filesz, s.notes.size());
  EXPECT_EQ(std::memcmp(f.data() + ph[0].p_offset, s.notes.data(), s.notes.size()), 0);
  u64 min_load_off = ~0ULL;
  for (size_t i = 1; i < ph.size(); ++i) {
    EXPECT_EQ(ph[i].p_type, PT_LOAD);
    EXPECT_EQ(ph[i].p_align, 0u);
    EXPECT_NE(ph[i].p_offset, 0u);
    EXPECT_EQ(ph[i].p_offset % kPageSize, ph[i].p_paddr % kPageSize);
    EXPECT_LE(ph[i].p_filesz, ph[i].p_memsz);
    EXPECT_LE(ph[i].p_offset + ph[i].p_filesz, f.size());
    min_load_off = std::min<u64>(min_load_off, ph[i].p_offset);
  }
  // All notes precede every PT_LOAD's data (crash parses notes from [0, min p_offset)).
  EXPECT_GE(min_load_off, ph[0].p_offset + ph[0].p_filesz);

  // Image first, p_vaddr in __START_KERNEL_map, split like the direct map.
  EXPECT_EQ(ph[1].p_vaddr, testing::kTextVaddr);
  EXPECT_EQ(ph[1].p_paddr, testing::kImagePaddr);
  EXPECT_EQ(ph[1].p_filesz, 0x100 * kPageSize);       // 0x300..0x400
  EXPECT_EQ(ph[1].p_memsz, (0x100 + 300) * kPageSize);  // + the excluded run
  EXPECT_EQ(ph[2].p_paddr, 0x52cu * kPageSize);
  EXPECT_EQ(ph[2].p_vaddr, testing::kTextVaddr + (0x52c - 0x300) * kPageSize);
  EXPECT_EQ(ph[2].p_filesz, ph[2].p_memsz);
  // Range A: one PT_LOAD, the 5-page gap stays in p_filesz.
  EXPECT_EQ(ph[3].p_paddr, 0x1000u);
  EXPECT_EQ(ph[3].p_vaddr, testing::kDirectMap + 0x1000);
  EXPECT_EQ(ph[3].p_filesz, 0x9eu * kPageSize);
  // Range B: split at 0x400; the excluded tail only in p_memsz.
  EXPECT_EQ(ph[4].p_paddr, 0x100000u);
  EXPECT_EQ(ph[4].p_filesz, 0x300u * kPageSize);
  EXPECT_EQ(ph[4].p_memsz, (0x300u + 300) * kPageSize);
  EXPECT_EQ(ph[5].p_paddr, 0x52cu * kPageSize);
  EXPECT_EQ(ph[5].p_vaddr, testing::kDirectMap + 0x52c * kPageSize);
  EXPECT_EQ(ph[5].p_filesz, (0x89cu - 0x52c) * kPageSize);
  EXPECT_EQ(ph[5].p_memsz, (0x900u - 0x52c) * kPageSize);
  // The image shares the direct map's bytes instead of repeating them.
  EXPECT_EQ(ph[1].p_offset, ph[4].p_offset + (0x300 - 0x100) * kPageSize);
  EXPECT_EQ(ph[2].p_offset, ph[5].p_offset);
  EXPECT_EQ(f.size(), ph[5].p_offset + ph[5].p_filesz);
}

TEST(ElfWriter, ReadsBackThroughOurReader) {
  Synthetic s;
  MemorySink sink;
  auto w = make_elf_writer(sink);
  ASSERT_TRUE(testing::write_all(*w, s, PageEncoding::kRaw).ok());
  MemorySource src(sink.bytes);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  auto& reader = **rd;
  EXPECT_FALSE(reader.metadata().incomplete);
  ASSERT_EQ(reader.notes().size(), s.notes.size());
  auto id = identify(reader.notes());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(id->vmcoreinfo.has_value());
  EXPECT_EQ(id->vmcoreinfo->kernel_offset(), testing::kKernelOffset);
  ASSERT_EQ(id->cpus.size(), 2u);
  EXPECT_EQ(id->cpus[1].pid, 4242);

  std::vector<std::byte> page(kPageSize);
  std::map<PageState, int> states;
  for (u64 pfn = 0; pfn < s.info.max_pfn.value + 4; ++pfn) {
    auto st = reader.read_page(Pfn(pfn), page);
    ASSERT_TRUE(st.ok()) << st.error().message;
    states[*st]++;
    if (s.kept.test(Pfn(pfn)) || (*st == PageState::kData && w->pages_to_write()->test(Pfn(pfn)))) {
      // Kept pages, and excluded pages inside a short gap, hold their real contents.
      ASSERT_EQ(*st, PageState::kData) << pfn;
      ASSERT_EQ(page, testing::pattern_page(pfn)) << "pfn " << pfn;
    } else {
      ASSERT_EQ(page, std::vector<std::byte>(kPageSize)) << "pfn " << pfn << " should read as zeros";
    }
  }
  EXPECT_EQ(states[PageState::kData], static_cast<int>(s.kept_pfns.size() + 5));  // short gap: real data
  EXPECT_EQ(states[PageState::kZero], 400);  // long run + tail: p_memsz only
}

TEST(ElfWriter, IncompleteSetsFlagAndKeepsFileConsistent) {
  Synthetic s;
  MemorySink sink;
  auto w = make_elf_writer(sink);
  ASSERT_TRUE(testing::write_all(*w, s, PageEncoding::kRaw, /*complete=*/false, /*stop_after=*/100).ok());
  Elf64_Ehdr eh;
  std::memcpy(&eh, sink.bytes.data(), sizeof eh);
  EXPECT_EQ(eh.e_flags & 1u, 1u);  // DUMP_ELF_INCOMPLETE
  MemorySource src(sink.bytes);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;  // PT_LOADs still lie within the file
  EXPECT_TRUE((*rd)->metadata().incomplete);
  std::vector<std::byte> page(kPageSize);
  ASSERT_TRUE((*rd)->read_page(Pfn(s.kept_pfns[50]), page).ok());
  EXPECT_EQ(page, testing::pattern_page(s.kept_pfns[50]));
}

TEST(ElfWriter, CompleteWithMissingPagesIsAnError) {
  Synthetic s;
  MemorySink sink;
  auto w = make_elf_writer(sink);
  auto r = testing::write_all(*w, s, PageEncoding::kRaw, /*complete=*/true, /*stop_after=*/10);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("were kept"), std::string::npos);
}

TEST(ElfWriter, RejectsPagesOutsideRam) {
  Synthetic s;
  s.info.ram.pop_back();  // range B gone, its kept pages have nowhere to go
  s.info.extra_loads.clear();
  MemorySink sink;
  auto w = make_elf_writer(sink);
  auto r = w->begin(s.info);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("pfn 0x100"), std::string::npos) << r.error().message;
}

TEST(ElfWriter, ImageOutsideRamGetsItsOwnBytes) {
  Synthetic s;
  // Range A is only reachable through the "image" mapping: its pages need
  // file space of their own.
  s.info.ram.erase(s.info.ram.begin());
  s.info.extra_loads = {{PhysAddr(0x1000), 0x9e * kPageSize, VirtAddr(testing::kTextVaddr)}};
  MemorySink sink;
  auto w = make_elf_writer(sink);
  auto r = testing::write_all(*w, s, PageEncoding::kRaw);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto ph = phdrs(sink.bytes);
  ASSERT_EQ(ph.size(), 4u);  // note, image, B(2)
  EXPECT_EQ(ph[1].p_filesz, 0x9eu * kPageSize);
  EXPECT_GT(ph[1].p_offset, ph[3].p_offset);  // own bytes after the direct map's
  MemorySource src(sink.bytes);
  auto rd = open_dump(src);
  ASSERT_TRUE(rd.ok()) << rd.error().message;
  std::vector<std::byte> page(kPageSize);
  for (u64 pfn : {1, 0x20, 0x9e, 0x150}) {
    ASSERT_EQ(*(*rd)->read_page(Pfn(pfn), page), PageState::kData);
    EXPECT_EQ(page, testing::pattern_page(pfn)) << pfn;
  }
}

// A sink that keeps only the first bytes (headers) and the file extent, for
// layouts whose data would be hundreds of MiB.
class HeaderSink final : public Sink {
 public:
  explicit HeaderSink(u64 keep) : keep_(keep) {}
  Result<void> write_at(FileOffset off, std::span<const std::byte> d) override {
    extent = std::max<u64>(extent, off.value + d.size());
    if (off.value < keep_) {
      u64 n = std::min<u64>(d.size(), keep_ - off.value);
      if (head.size() < off.value + n) head.resize(off.value + n);
      std::memcpy(head.data() + off.value, d.data(), n);
    }
    return Ok();
  }
  Result<void> finish() override { return Ok(); }
  std::string name() const override { return "header-sink"; }
  std::vector<std::byte> head;
  u64 extent = 0;

 private:
  u64 keep_;
};

class ZeroTailSource final : public ByteSource {
 public:
  ZeroTailSource(const std::vector<std::byte>& head, u64 size) : head_(head), size_(size) {}
  Result<void> read_at(FileOffset off, std::span<std::byte> out) override {
    if (off.value + out.size() > size_) return make_error("past end");
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = off.value + i < head_.size() ? head_[off.value + i] : std::byte{0};
    return Ok();
  }
  u64 size() const override { return size_; }
  std::string name() const override { return "zero-tail"; }

 private:
  const std::vector<std::byte>& head_;
  u64 size_;
};

TEST(ElfWriter, PnXnumWhenProgramHeadersOverflow) {
  // 0x10000 kept pages each followed by 256 excluded ones: 65536 PT_LOADs.
  const u64 n = 0x10000, stride = 257;
  Pfn max(n * stride);
  PageBitmap present(max), kept(max);
  present.set_range(Pfn(0), max.value, true);
  for (u64 i = 0; i < n; ++i) kept.set(Pfn(i * stride));
  DumpHeaderInfo info;
  auto notes = testing::make_notes(1, testing::vmcoreinfo_text());
  info.notes = notes;
  info.max_pfn = max;
  info.present = &present;
  info.kept = &kept;
  info.ram.push_back({PhysAddr(0), max.value * kPageSize, VirtAddr(testing::kDirectMap)});
  HeaderSink sink(8 << 20);
  auto w = make_elf_writer(sink);
  ASSERT_TRUE(w->begin(info).ok());
  auto page = testing::pattern_page(0);
  for (u64 i = 0; i < n; ++i) ASSERT_TRUE(w->write_page({Pfn(i * stride), PageEncoding::kRaw, page}).ok());
  ASSERT_TRUE(w->finish(true).ok());
  Elf64_Ehdr eh;
  std::memcpy(&eh, sink.head.data(), sizeof eh);
  EXPECT_EQ(eh.e_phnum, PN_XNUM);
  EXPECT_EQ(eh.e_shnum, 1);
  EXPECT_EQ(eh.e_shoff, 64u + (n + 1) * 56);
  ZeroTailSource src(sink.head, sink.extent);
  auto layout = parse_elf_vmcore_layout(src);
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  ASSERT_EQ(layout->loads.size(), n);
  EXPECT_EQ(layout->note_offset.value, 64u + (n + 1) * 56 + 64);
  EXPECT_EQ(layout->loads[1].paddr.value, stride * kPageSize);
  EXPECT_EQ(layout->loads[1].filesz, kPageSize);
  EXPECT_EQ(layout->loads[1].memsz, stride * kPageSize);
}

}  // namespace
}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "tests/fuzz/fuzz-common.h"

#include <string>
#include <vector>

#include "agent/kernel-memory.h"
#include "formats/endian.h"

namespace salvage::fuzz {

namespace {
std::string inner(const std::string& key, const char* prefix) {
  size_t n = std::char_traits<char>::length(prefix);
  if (key.size() > n + 1 && key.compare(0, n, prefix) == 0 && key.back() == ')')
    return key.substr(n, key.size() - n - 1);
  return {};
}
}  // namespace

void exercise_vmcoreinfo(const Vmcoreinfo& vi) {
  (void)vi.osrelease();
  (void)vi.kernel_offset();
  for (const char* k : {"PAGESIZE", "CRASHTIME", "KERNELOFFSET", "OSRELEASE"}) {
    (void)vi.decimal(k);
    (void)vi.hex(k);
    (void)vi.string(k);
  }
  (void)vi.symbol("init_top_pgt");
  (void)vi.number("phys_base");
  for (const auto& [key, value] : vi.entries()) {
    FUZZ_CHECK(!key.empty());
    FUZZ_CHECK(vi.has(key));
    FUZZ_CHECK(vi.string(key) == value);
    (void)vi.hex(key);
    (void)vi.decimal(key);
    if (auto s = inner(key, "SYMBOL("); !s.empty()) FUZZ_CHECK(vi.symbol(s).ok() == vi.hex(key).ok());
    if (auto s = inner(key, "SIZE("); !s.empty()) (void)vi.size(s);
    if (auto s = inner(key, "OFFSET("); !s.empty()) (void)vi.offset(s);
    if (auto s = inner(key, "LENGTH("); !s.empty()) (void)vi.length(s);
    if (auto s = inner(key, "NUMBER("); !s.empty()) (void)vi.number(s);
  }
  for (const auto& w : vi.warnings()) FUZZ_CHECK(!w.empty());
}

void exercise_reader(DumpReader& r, std::span<const std::byte> input) {
  const DumpMetadata& m = r.metadata();
  FUZZ_CHECK(!m.format.empty());
  auto notes = r.notes();
  if (!notes.empty()) {
    // Touch every byte so ASan sees a dangling or short span.
    volatile unsigned sum = 0;
    for (std::byte b : notes) sum = sum + static_cast<unsigned>(b);
  }
  auto id = identify(notes);

  const Pfn max = r.max_pfn();
  const auto& ram = r.ram();
  for (size_t i = 1; i < ram.size(); ++i)
    FUZZ_CHECK(ram[i - 1].start.value + ram[i - 1].size <= ram[i].start.value);  // sorted, disjoint

  std::vector<u64> pfns = {0, 1, max.value ? max.value - 1 : 0, max.value, max.value + 1};
  for (size_t i = 0; i < ram.size() && i < 4; ++i) {
    pfns.push_back(ram[i].start.value >> kPageShift);
    pfns.push_back((ram[i].start.value + ram[i].size - 1) >> kPageShift);
  }
  if (input.size() >= 16) {  // pfns steered by the input's last bytes
    const u64 span = max.value + 2;  // 0 only if max_pfn is absurd
    const u64 steer = load_le<u32>(input.data() + input.size() - 4);
    pfns.push_back(span ? steer % span : steer);
    pfns.push_back(load_le<u32>(input.data() + input.size() - 8) & 0xffff);
  }
  std::vector<std::byte> page(kPageSize);
  for (u64 pfn : pfns) {
    auto st = r.read_page(Pfn(pfn), page);
    if (st.ok() && *st != PageState::kData) {
      for (std::byte b : page) FUZZ_CHECK(b == std::byte{0});  // non-data states zero the page
    }
    (void)(st.ok() ? page_state_name(*st) : st.error().message.c_str());
  }

  if (id.ok() && id->vmcoreinfo) {
    exercise_vmcoreinfo(*id->vmcoreinfo);
    auto km = KernelMemory::create(r, *id->vmcoreinfo);
    if (km.ok()) {
      u64 addrs[] = {0xffffffff81000000ULL, 0xffff888000000000ULL, 0xffffc90000000000ULL,
                     id->vmcoreinfo->symbol("init_top_pgt").ok() ? *id->vmcoreinfo->symbol("init_top_pgt") : 0};
      for (u64 a : addrs) {
        (void)km->read_u64(VirtAddr(a));
        (void)km->read_u32(VirtAddr(a + 4094));  // straddles a page
      }
    }
  }
}

}  // namespace salvage::fuzz

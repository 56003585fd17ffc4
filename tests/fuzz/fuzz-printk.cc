// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the kernel log decoder. Input: [flags u8][n u16 LE][n bytes of
// VMCOREINFO text][memory image]; the memory image is the crashed kernel's
// memory at virtual address kMemBase, every other address is unreadable.
// flags bit 0 = DmesgOptions::partial, bit 1 = caller_id. make-seeds.cc
// writes a valid printk_ringbuffer and a valid printk_log seed.
#include <cstring>

#include "formats/printk.h"
#include "tests/fuzz/fuzz-common.h"

using namespace salvage;

namespace {
constexpr u64 kMemBase = 0xffff888000000000ULL;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const u8 flags = data[0];
  size_t n = data[1] | (size_t{data[2]} << 8);
  if (n > size - 3) n = size - 3;
  Vmcoreinfo vi = Vmcoreinfo::parse(std::string_view(reinterpret_cast<const char*>(data + 3), n));
  auto mem = fuzz::as_bytes(data + 3 + n, size - 3 - n);
  VirtReader read = [mem](VirtAddr va, std::span<std::byte> out) -> Result<void> {
    u64 off = va.value - kMemBase;
    if (va.value < kMemBase || off > mem.size() || out.size() > mem.size() - off)
      return make_error("virtual address outside the fuzz image");
    if (!out.empty()) std::memcpy(out.data(), mem.data() + off, out.size());
    return Ok();
  };
  DmesgOptions opt;
  opt.partial = flags & 1;
  opt.caller_id = flags & 2;
  auto log = extract_dmesg(vi, read, opt);
  if (log.ok()) {
    FUZZ_CHECK(log->layout == "printk_ringbuffer" || log->layout == "printk_log");
    FUZZ_CHECK(log->records == 0 || !log->text.empty());
  } else {
    FUZZ_CHECK(!log.error().message.empty());
  }
  return 0;
}

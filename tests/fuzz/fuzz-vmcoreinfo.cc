// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes VMCOREINFO text parsing and every typed getter.
#include <string_view>

#include "formats/vmcoreinfo.h"
#include "tests/fuzz/fuzz-common.h"

using namespace salvage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Vmcoreinfo vi = Vmcoreinfo::parse(text);
  FUZZ_CHECK(vi.raw().size() <= size);
  FUZZ_CHECK(vi.raw().find('\0') == std::string::npos);
  fuzz::exercise_vmcoreinfo(vi);
  return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the ELF vmcore reader directly (layout parse, open, page reads,
// identify and the page-table walker on top).
#include "formats/elf-vmcore.h"
#include "tests/fuzz/fuzz-common.h"

using namespace salvage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::as_bytes(data, size);
  MemorySource src(in, "fuzz");
  auto layout = parse_elf_vmcore_layout(src);
  if (layout.ok()) {
    FUZZ_CHECK(layout->note_offset.value <= size && layout->note_size <= size - layout->note_offset.value);
    for (const auto& s : layout->loads) {
      FUZZ_CHECK(s.filesz <= s.memsz);
      FUZZ_CHECK(s.filesz == 0 || (s.offset.value <= size && s.filesz <= size - s.offset.value));
    }
  }
  auto r = ElfVmcoreReader::open(src);
  FUZZ_CHECK(r.ok() == layout.ok());
  if (r.ok()) fuzz::exercise_reader(**r, in);
  return 0;
}

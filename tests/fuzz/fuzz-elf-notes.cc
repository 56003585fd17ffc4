// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the ELF note walker, PRSTATUS decoding and identify(): the input is
// a note section as it appears in /proc/vmcore's PT_NOTE.
#include <cstring>

#include "formats/dump-reader.h"
#include "formats/elf-notes.h"
#include "tests/fuzz/fuzz-common.h"

using namespace salvage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::as_bytes(data, size);
  auto notes = parse_elf_notes(in);
  if (notes.ok()) {
    u64 prev_end = 0;
    for (const auto& n : *notes) {
      FUZZ_CHECK(n.offset >= prev_end);
      FUZZ_CHECK(n.desc_offset >= n.offset + 12);
      FUZZ_CHECK(n.desc_offset <= size && n.desc_size <= size - n.desc_offset);
      prev_end = n.desc_offset + n.desc_size;
    }
    if (auto vi = find_vmcoreinfo_note(*notes)) FUZZ_CHECK(vi->name == "VMCOREINFO" && vi->type == 0);
    (void)parse_prstatus(in, *notes);
    // Round trip: a note rebuilt from what was parsed parses back the same.
    if (!notes->empty()) {
      const ElfNote& n = notes->front();
      auto built = make_elf_note(n.name, n.type, in.subspan(n.desc_offset, n.desc_size));
      auto again = parse_elf_notes(built);
      FUZZ_CHECK(again.ok() && again->size() == 1);
      FUZZ_CHECK((*again)[0].name == n.name && (*again)[0].type == n.type && (*again)[0].desc_size == n.desc_size);
      FUZZ_CHECK(std::memcmp(built.data() + (*again)[0].desc_offset, in.data() + n.desc_offset, n.desc_size) == 0);
    }
  }
  auto id = identify(in);
  FUZZ_CHECK(id.ok() == notes.ok() || !id.ok());
  if (id.ok() && id->vmcoreinfo) fuzz::exercise_vmcoreinfo(*id->vmcoreinfo);
  return 0;
}

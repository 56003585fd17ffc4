// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes format probing and every reader behind open_dump (ELF, kdump,
// flattened, LKCD): open, a handful of pages, identify(notes()).
#include "formats/dump-reader.h"
#include "tests/fuzz/fuzz-common.h"

using namespace salvage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::as_bytes(data, size);
  MemorySource src(in, "fuzz");
  auto r = open_dump(src);
  if (!r.ok()) {
    FUZZ_CHECK(!r.error().message.empty());
    return 0;
  }
  fuzz::exercise_reader(**r, in);
  return 0;
}

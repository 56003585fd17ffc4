// SPDX-License-Identifier: GPL-2.0-or-later
// Helpers shared by the libFuzzer targets. FUZZ_CHECK turns a violated
// property into a crash so libFuzzer records the input; a parser that
// returns an error is fine, one that returns nonsense is not.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "formats/dump-reader.h"

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace salvage::fuzz {

inline std::span<const std::byte> as_bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

// Every typed VMCOREINFO getter on every key the text defines, plus the keys
// the agent asks for. Results are discarded: only crashes and UB matter.
void exercise_vmcoreinfo(const Vmcoreinfo& vi);

// Opened reader: metadata, notes, RAM list and a handful of pages (first,
// second, last, one past the end, each RAM range's edges, and pfns chosen
// by the input), then KernelMemory on top if VMCOREINFO allows it.
void exercise_reader(DumpReader& r, std::span<const std::byte> input);

}  // namespace salvage::fuzz

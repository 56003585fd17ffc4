// SPDX-License-Identifier: GPL-2.0-or-later
// "0x1a3" for error messages: every parser names offsets and addresses.
#pragma once

#include <cinttypes>
#include <cstdio>
#include <string>

#include "formats/types.h"

namespace salvage {

inline std::string hex(u64 v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

}  // namespace salvage

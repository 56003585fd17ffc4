// SPDX-License-Identifier: GPL-2.0-or-later
// Temporary: commands whose implementation lands in later commits.
#include <cstdio>

#include "agent/commands.h"

namespace salvage {
int cmd_convert(int, char**) { std::fprintf(stderr, "salvage convert: not implemented yet\n"); return 2; }
}  // namespace salvage

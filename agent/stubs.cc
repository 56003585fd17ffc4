// SPDX-License-Identifier: GPL-2.0-or-later
// Temporary: commands whose implementation lands in later commits.
#include <cstdio>

#include "agent/commands.h"

namespace salvage {
}  // namespace salvage

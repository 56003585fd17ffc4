// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder until the lkcd writer lands.
#include "formats/format-table.h"

namespace salvage {
std::unique_ptr<DumpWriter> make_lkcd_writer(Sink&) { return nullptr; }
}  // namespace salvage

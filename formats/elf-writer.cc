// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder until the elf writer lands.
#include "formats/format-table.h"

namespace salvage {
std::unique_ptr<DumpWriter> make_elf_writer(Sink&) { return nullptr; }
}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// Placeholder until the kdump reader lands.
#include "formats/format-table.h"

namespace salvage {
Result<std::unique_ptr<DumpReader>> open_kdump_reader(ByteSource& src) {
  return make_error(src.name() + ": reading kdump dumps is not implemented yet");
}
}  // namespace salvage

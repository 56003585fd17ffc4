// SPDX-License-Identifier: GPL-2.0-or-later
// Reads a whole (small) file into memory: configs, modules.dep, kernel
// modules, the salvage binary. max_size stops a corrupt or endless input
// (a device node, a bad stream) from eating the capture kernel's memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/result.h"

namespace salvage {

Result<std::string> read_file(const std::string& path, size_t max_size = SIZE_MAX);

}  // namespace salvage

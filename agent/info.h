// SPDX-License-Identifier: GPL-2.0-or-later
// What `salvage info` prints about a dump, for other commands to reuse
// (`salvage save` puts it in summary.txt).
#pragma once

#include <cstdio>
#include <string>

#include "formats/dump-reader.h"

namespace salvage {

// Format, level, completeness, identity, and the exact crash command line
// for the dump at `path` with the kernel's debug `vmlinux`.
void print_dump_info(std::FILE* out, const std::string& path, DumpReader& d, const std::string& vmlinux);

}  // namespace salvage

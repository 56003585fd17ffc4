// SPDX-License-Identifier: GPL-2.0-or-later
// Constructors of each format's reader and writer. Only the two tables
// (dump-reader.cc, dump-writer.cc) call these.
#pragma once

#include "formats/dump-reader.h"
#include "formats/dump-writer.h"

namespace salvage {

Result<std::unique_ptr<DumpReader>> open_elf_reader(ByteSource& src);
Result<std::unique_ptr<DumpReader>> open_kdump_reader(ByteSource& src);
Result<std::unique_ptr<DumpReader>> open_flattened_reader(ByteSource& src);
Result<std::unique_ptr<DumpReader>> open_lkcd_reader(ByteSource& src);

std::unique_ptr<DumpWriter> make_kdump_writer(Sink& sink);
std::unique_ptr<DumpWriter> make_elf_writer(Sink& sink);
std::unique_ptr<DumpWriter> make_lkcd_writer(Sink& sink);

}  // namespace salvage

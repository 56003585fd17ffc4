// SPDX-License-Identifier: GPL-2.0-or-later
// The writer table: the only place that maps a DumpFormat to its writer.
#include "formats/dump-writer.h"

#include "formats/format-table.h"

namespace salvage {

namespace {
struct WriterEntry {
  DumpFormat format;
  const char* name;
  std::unique_ptr<DumpWriter> (*make)(Sink&);
};
constexpr WriterEntry kWriters[] = {
    {DumpFormat::kKdump, "kdump-compressed", &make_kdump_writer},
    {DumpFormat::kElf, "ELF", &make_elf_writer},
    {DumpFormat::kLkcd, "LKCD v9", &make_lkcd_writer},
};
}  // namespace

Result<std::unique_ptr<DumpWriter>> make_dump_writer(DumpFormat format, Sink& sink) {
  for (const auto& w : kWriters)
    if (w.format == format) {
      auto writer = w.make(sink);
      if (!writer) return make_error(std::string("the ") + w.name + " writer is not available in this build");
      return writer;
    }
  return make_error("unknown dump format");
}

}  // namespace salvage

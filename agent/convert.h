// SPDX-License-Identifier: GPL-2.0-or-later
// The conversion pipeline of `salvage convert`, in two halves so that other
// commands (`salvage save --format`) run exactly the same steps: prepare
// (identify the kernel, translate addresses, filter pages) and write (pick
// the writer, header, pages, trailer) into any Sink.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/kernel-memory.h"
#include "agent/log.h"
#include "agent/page-filter.h"
#include "agent/write-pages.h"
#include "formats/dump-writer.h"

namespace salvage {

struct ConvertSettings {
  int dump_level = 0;
  PageEncoding encoding = PageEncoding::kRaw;
  DumpFormat format = DumpFormat::kKdump;
  unsigned threads = 1;
  const PageProgress* progress = nullptr;  // optional, see write_pages
  // Kernel pages first, user/cache/free pages last (agent/priority-passes.h),
  // where the writer accepts passes; convert and save keep pfn order.
  bool priority_passes = false;
};

// What prepare_conversion found; stays at one address (KernelMemory and the
// header point into it).
struct PreparedDump {
  DumpIdentity id;
  std::optional<KernelMemory> mem;
  FilterResult filtered;
  std::vector<std::string> degradations;
};

// Steps 1-4: notes, address translation, page filter. Warnings go to log.
Result<std::unique_ptr<PreparedDump>> prepare_conversion(DumpReader& dump, int dump_level, const Log& log);

// Steps 5-7: writer for `sink`, header, pages, trailer, sink finish. A
// failure while writing pages leaves the output marked incomplete.
Result<WriteStats> write_conversion(DumpReader& dump, PreparedDump& p, Sink& sink, const ConvertSettings& s,
                                    const Log& log);

}  // namespace salvage

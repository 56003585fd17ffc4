// SPDX-License-Identifier: GPL-2.0-or-later
// The page loop shared by every output: read kept pages in pfn order, spot
// zero pages, compress in parallel, and hand each page to the writer in order.
#pragma once

#include <functional>

#include "agent/log.h"
#include "agent/parallel.h"
#include "formats/dump-reader.h"
#include "formats/dump-writer.h"

namespace salvage {

struct WriteStats {
  u64 pages_written = 0;   // page records handed to the writer
  u64 zero_pages = 0;      // of those, shared zero pages
  u64 compressed = 0;      // stored compressed
  u64 raw = 0;             // stored raw (compression did not help, or none asked)
  u64 input_bytes = 0;
};

// Called after each batch with pages handed to the writer so far and the
// total to write (the capture agent's console progress line). Optional.
using PageProgress = std::function<void(u64 done, u64 total)>;

// Clears all-zero pages from `kept` (for writers that drop them, such as
// ELF, whose program headers must be known before the first page).
Result<u64> drop_zero_pages(DumpReader& dump, PageBitmap& kept, ParallelFor& pool, const Log& log);

// Writes every page set in `kept` through `writer`. zero_sharing: mark
// all-zero pages so the writer can share one stored copy (dump level bit 1).
Result<WriteStats> write_pages(DumpReader& dump, const PageBitmap& kept, DumpWriter& writer,
                               PageEncoding encoding, bool zero_sharing, ParallelFor& pool, const Log& log,
                               const PageProgress* progress = nullptr);

bool is_zero_page(const std::byte* p);

}  // namespace salvage

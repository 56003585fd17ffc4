// SPDX-License-Identifier: GPL-2.0-or-later
// Priority order for a target that may fill up (issue 3): the writer's
// begin() puts the header, notes (VMCOREINFO) and bitmaps first; then the
// kernel's own pages; user pages, page cache and free pages last. A dump cut
// short keeps what crash needs for bt and log. Only writers that accept
// passes (DumpWriter::accepts_passes, the kdump format) are written this way;
// ELF and LKCD lay pages out by address and stay in one pass.
#pragma once

#include "agent/convert.h"
#include "agent/parallel.h"
#include "agent/write-pages.h"

namespace salvage {

// Dump level bits whose pages go to the last pass: page cache (2, 4), user
// data (8) and free pages (16). What -d 31 keeps, minus zero pages, is the
// kernel's own data.
inline constexpr int kLastPassClasses = kDlCache | kDlCachePrivate | kDlUser | kDlFree;

// The first pass: pages of `kept` that dump level (L | kLastPassClasses)
// also keeps. Filters a second time (~10 ms on the lab vmcore); needs the
// mem_map, so fails without address translation (then: one pass).
Result<PageBitmap> first_pass_pages(DumpReader& dump, PreparedDump& p, const PageBitmap& kept, const Log& log);

// write_pages in two passes, first_pass then the rest of kept, each in
// ascending pfn order after writer.begin_pass(). Stats and progress cover
// both passes as one.
Result<WriteStats> write_pages_in_passes(DumpReader& dump, const PageBitmap& kept, const PageBitmap& first_pass,
                                         DumpWriter& writer, PageEncoding encoding, bool zero_sharing,
                                         ParallelFor& pool, const Log& log, const PageProgress* progress);

}  // namespace salvage

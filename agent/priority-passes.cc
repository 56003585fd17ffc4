// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/priority-passes.h"

namespace salvage {

Result<PageBitmap> first_pass_pages(DumpReader& dump, PreparedDump& p, const PageBitmap& kept, const Log& log) {
  if (!p.mem || !p.id.vmcoreinfo) return make_error("no address translation: pages cannot be classified");
  const int level = p.filtered.effective_dump_level | kLastPassClasses;
  ASSIGN_OR_RETURN(FilterResult f, filter_pages(dump, *p.mem, *p.id.vmcoreinfo, level, log));
  if (f.kept.max_pfn() != kept.max_pfn()) return make_error("the second filter saw a different max_pfn");
  // The second filter's pages are a subset of the first's; intersect anyway
  // (a page the first pass brings must be one the writer was told about).
  auto out = f.kept.bytes();
  auto in = kept.bytes();
  for (size_t i = 0; i < out.size(); ++i) out[i] &= in[i];
  return std::move(f.kept);
}

Result<WriteStats> write_pages_in_passes(DumpReader& dump, const PageBitmap& kept, const PageBitmap& first_pass,
                                         DumpWriter& writer, PageEncoding encoding, bool zero_sharing,
                                         ParallelFor& pool, const Log& log, const PageProgress* progress) {
  PageBitmap rest = kept;
  auto r = rest.bytes();
  auto f = first_pass.bytes();
  for (size_t i = 0; i < r.size(); ++i) r[i] &= ~f[i];
  const u64 total = kept.count();
  WriteStats sum;
  for (const PageBitmap* pass : {&first_pass, static_cast<const PageBitmap*>(&rest)}) {
    TRY(writer.begin_pass());
    const u64 before = sum.pages_written;
    PageProgress overall;
    if (progress) overall = [&](u64 done, u64) { (*progress)(before + done, total); };
    ASSIGN_OR_RETURN(WriteStats s, write_pages(dump, *pass, writer, encoding, zero_sharing, pool, log,
                                               progress ? &overall : nullptr));
    sum.pages_written += s.pages_written;
    sum.zero_pages += s.zero_pages;
    sum.compressed += s.compressed;
    sum.raw += s.raw;
    sum.input_bytes += s.input_bytes;
  }
  return sum;
}

}  // namespace salvage

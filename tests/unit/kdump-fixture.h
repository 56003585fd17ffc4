// SPDX-License-Identifier: GPL-2.0-or-later
// Synthetic input for the kdump and flattened tests: a note section with
// PRSTATUS per CPU and VMCOREINFO, a memory map with holes spanning more
// than one 4096-pfn bitmap section, and pages that are compressible, random
// (stored raw) or all zero (shared pd_zero).
#pragma once

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/dump-writer.h"
#include "formats/elf-notes.h"
#include "formats/endian.h"

namespace salvage::kdumptest {

// Records every write so tests can check chunking and overlap.
class RecordingSink final : public Sink {
 public:
  Result<void> write_at(FileOffset off, std::span<const std::byte> d) override {
    if (fail_after && writes.size() >= *fail_after) return Error::from_errno("pwrite test at 0x0", ENOSPC);
    if (off.value + d.size() > bytes.size()) bytes.resize(off.value + d.size());
    std::memcpy(bytes.data() + off.value, d.data(), d.size());
    writes.push_back({off.value, d.size()});
    return Ok();
  }
  Result<void> finish() override {
    finished = true;
    return Ok();
  }
  std::string name() const override { return "recording-sink"; }
  std::vector<std::byte> bytes;
  std::vector<std::pair<u64, u64>> writes;
  std::optional<size_t> fail_after;
  bool finished = false;
};

inline const std::string kVmcoreinfo =
    "OSRELEASE=6.1.0-kdumptest\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffffffff82a0a000\n"
    "SYMBOL(_stext)=ffffffff81000000\nNUMBER(phys_base)=0\nKERNELOFFSET=0\n"
    "NUMBER(pgtable_l5_enabled)=0\nCRASHTIME=1700000000\n";

inline std::vector<std::byte> make_notes(int ncpus) {
  std::vector<std::byte> notes;
  for (int i = 0; i < ncpus; ++i) {
    std::vector<std::byte> desc(kPrstatusSize);
    store_le<i32>(desc.data() + kPrstatusPidOffset, i + 1);
    for (size_t r = 0; r < kPrstatusNumRegs; ++r)
      store_le<u64>(desc.data() + kPrstatusRegOffset + 8 * r, 0x1000ULL * (i + 1) + r);
    auto n = make_elf_note("CORE", kNtPrstatus, desc);
    notes.insert(notes.end(), n.begin(), n.end());
  }
  auto v = make_elf_note("VMCOREINFO", 0, std::as_bytes(std::span(kVmcoreinfo.data(), kVmcoreinfo.size())));
  notes.insert(notes.end(), v.begin(), v.end());
  return notes;
}

enum class Kind { kText, kRandom, kZero };
inline Kind kind_of(u64 pfn) {
  if (pfn % 11 == 0) return Kind::kZero;
  if (pfn % 13 == 0) return Kind::kRandom;
  return Kind::kText;
}

inline void fill_page(u64 pfn, std::span<std::byte> p) {
  std::memset(p.data(), 0, p.size());
  switch (kind_of(pfn)) {
    case Kind::kZero: return;
    case Kind::kRandom: {
      std::mt19937_64 rng(pfn);
      for (size_t i = 0; i < p.size(); i += 8) store_le<u64>(p.data() + i, rng());
      return;
    }
    case Kind::kText:
      for (size_t i = 0; i < p.size(); i += 32) {
        store_le<u64>(p.data() + i, pfn);
        store_le<u64>(p.data() + i + 8, 0xffff888000000000ULL + i * 64);
      }
      return;
  }
}

// max_pfn 5003: not a multiple of 8, two bitmap sections. RAM: [1, 0x9f),
// [0x100, 0x1200), [0x1300, 5003). Excluded: every 7th pfn and 0x500..0x5ff.
struct Synthetic {
  std::vector<std::byte> notes = make_notes(3);
  PageBitmap present, kept;
  DumpHeaderInfo info;
  std::vector<u64> kept_pfns;

  explicit Synthetic(int dump_level = 31) {
    Pfn max(5003);
    present = PageBitmap(max);
    present.set_range(Pfn(1), 0x9e, true);
    present.set_range(Pfn(0x100), 0x1100, true);
    present.set_range(Pfn(0x1300), 5003 - 0x1300, true);
    kept = present;
    for (u64 p = 0; p < max.value; p += 7) kept.set(Pfn(p), false);
    kept.set_range(Pfn(0x500), 0x100, false);
    for (u64 p = 0; p < max.value; ++p)
      if (kept.test(Pfn(p))) kept_pfns.push_back(p);
    info.notes = notes;
    info.uts.nodename = "kdumptest";
    info.uts.release = "6.1.0-kdumptest";
    info.uts.version = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0";
    info.crash_time = 1700000000;
    info.phys_base = 0x1000000;
    info.dump_level = dump_level;
    info.max_pfn = max;
    info.present = &present;
    info.kept = &kept;
  }
  Synthetic(const Synthetic&) = delete;
};

// Drives a writer the way the pipeline does: zero pages flagged, pages
// compressed with compress_page. Writes the first `limit` kept pages, then
// finish(complete).
inline Result<void> write_all(DumpWriter& w, Synthetic& s, PageEncoding enc, bool complete = true,
                              size_t limit = SIZE_MAX, const std::vector<u64>* skip = nullptr) {
  s.info.encoding = enc;
  TRY(w.begin(s.info));
  auto codec = make_codec(enc);
  std::vector<std::byte> page(kPageSize), scratch(codec->bound(kPageSize));
  bool share = s.info.dump_level & 1;
  size_t n = 0;
  for (u64 pfn : s.kept_pfns) {
    if (n++ == limit) break;
    if (skip && std::find(skip->begin(), skip->end(), pfn) != skip->end()) continue;
    fill_page(pfn, page);
    if (share && kind_of(pfn) == Kind::kZero) {
      TRY(w.write_page(PageRecord{Pfn(pfn), PageEncoding::kRaw, {}, true}));
      continue;
    }
    ASSIGN_OR_RETURN(auto ep, compress_page(codec.get(), page, scratch));
    TRY(w.write_page(PageRecord{Pfn(pfn), ep.encoding, ep.data, false}));
  }
  return w.finish(complete);
}

}  // namespace salvage::kdumptest

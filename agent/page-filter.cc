// SPDX-License-Identifier: GPL-2.0-or-later
// Rules follow makedumpfile 1.7.2 (git tag v1.7.2, commit 9fefc68),
// makedumpfile.c: create_bitmap_from_memhole, create_1st_bitmap_file,
// create_2nd_bitmap, __exclude_unnecessary_pages, is_cache_page, isHugetlb,
// isOffline, page_is_buddy_v2/v3, setup_page_is_buddy; makedumpfile.h
// test_bit, isAnon. Nothing is copied; behaviour is reimplemented.
#include "formats/hex.h"
#include "agent/page-filter.h"

#include <cinttypes>
#include <cstdio>

#include "formats/endian.h"

namespace salvage {

namespace {


template <typename T>
std::optional<T> opt(Result<T> r) {
  return r.ok() ? std::optional<T>(*r) : std::nullopt;
}

// makedumpfile reads struct pages in windows of PGMM_CACHED entries aligned
// to pfn % PGMM_CACHED; a compound head in the last slot of a window does not
// get its page[1] looked at (order and dtor stay 0).
constexpr u64 kPgmmCached = 512;

// Everything the rules need from VMCOREINFO about struct page.
struct PageRules {
  u64 size = 0, off_flags = 0, off_refcount = 0, off_mapping = 0;
  std::optional<u64> off_mapcount, off_private, off_order, off_dtor, off_head;
  bool narrow_order = true;  // u8 compound_order/dtor since Linux 4.16, u16 before
  std::optional<i64> pg_lru, pg_private, pg_swapcache, pg_swapbacked, pg_slab, pg_hwpoison, pg_head_mask, pg_buddy,
      buddy_mapcount, offline_mapcount, hugetlb_dtor;
  std::optional<u64> free_huge_page, free_area_len;

  bool has_buddy() const {  // setup_page_is_buddy()
    if (!off_private) return false;
    if (pg_buddy) return true;
    return buddy_mapcount && off_mapcount;
  }
};

Result<PageRules> page_rules(const Vmcoreinfo& vi) {
  PageRules r;
  // get_mem_type() needs these four; without them there is no mem_map walk.
  ASSIGN_OR_RETURN(r.size, vi.size("page"));
  ASSIGN_OR_RETURN(r.off_flags, vi.offset("page.flags"));
  ASSIGN_OR_RETURN(r.off_refcount, vi.offset("page._refcount"));
  ASSIGN_OR_RETURN(r.off_mapping, vi.offset("page.mapping"));
  r.off_mapcount = opt(vi.offset("page._mapcount"));
  r.off_private = opt(vi.offset("page.private"));
  r.off_order = opt(vi.offset("page.compound_order"));
  r.off_dtor = opt(vi.offset("page.compound_dtor"));
  r.off_head = opt(vi.offset("page.compound_head"));
  for (auto o : {r.off_flags, r.off_refcount, r.off_mapping})
    if (o + 8 > r.size) return make_error("a struct page OFFSET lies outside SIZE(page)=" + std::to_string(r.size));
  for (auto o : {r.off_mapcount, r.off_private, r.off_order, r.off_dtor, r.off_head})
    if (o && *o + 8 > r.size) return make_error("a struct page OFFSET lies outside SIZE(page)=" + std::to_string(r.size));
  unsigned major = 0, minor = 0;
  if (std::sscanf(vi.osrelease().c_str(), "%u.%u", &major, &minor) == 2)
    r.narrow_order = major > 4 || (major == 4 && minor >= 16);
  r.pg_lru = opt(vi.number("PG_lru"));
  r.pg_private = opt(vi.number("PG_private"));
  r.pg_swapcache = opt(vi.number("PG_swapcache"));
  r.pg_swapbacked = opt(vi.number("PG_swapbacked"));
  r.pg_slab = opt(vi.number("PG_slab"));
  r.pg_hwpoison = opt(vi.number("PG_hwpoison"));
  r.pg_head_mask = opt(vi.number("PG_head_mask"));
  r.pg_buddy = opt(vi.number("PG_buddy"));
  r.buddy_mapcount = opt(vi.number("PAGE_BUDDY_MAPCOUNT_VALUE"));
  r.offline_mapcount = opt(vi.number("PAGE_OFFLINE_MAPCOUNT_VALUE"));
  r.hugetlb_dtor = opt(vi.number("HUGETLB_PAGE_DTOR"));
  r.free_huge_page = opt(vi.symbol("free_huge_page"));
  r.free_area_len = opt(vi.length("zone.free_area"));
  return r;
}

// makedumpfile.h test_bit(): an int mask of bit (nr & 31), which sign-extends
// when and-ed with the unsigned long flags.
bool test_bit(i64 nr, u64 flags) {
  i32 mask = static_cast<i32>(1u << (static_cast<u64>(nr) & 31));
  return (static_cast<u64>(static_cast<i64>(mask)) & flags) != 0;
}
bool bit_set(const std::optional<i64>& nr, u64 flags) {  // flags & (1UL << NUMBER(x))
  return nr && *nr >= 0 && *nr < 64 && (flags >> *nr) & 1;
}

bool is_cache_page(const PageRules& r, u64 flags) {
  if (test_bit(*r.pg_lru, flags)) return true;
  // PG_swapcache counts only with PG_swapbacked (or kernels without it, < 4.10).
  return (!r.pg_swapbacked || test_bit(*r.pg_swapbacked, flags)) && test_bit(*r.pg_swapcache, flags);
}
bool is_buddy(const PageRules& r, const PageFields& f) {
  if (r.pg_buddy) return bit_set(r.pg_buddy, f.flags);  // v2: up to 2.6.37
  if (bit_set(r.pg_slab, f.flags)) return false;         // v3
  return static_cast<i32>(f.mapcount) == static_cast<i32>(*r.buddy_mapcount);
}
bool is_offline(const PageRules& r, const PageFields& f) {
  if (!r.offline_mapcount || bit_set(r.pg_slab, f.flags)) return false;
  return static_cast<i32>(f.mapcount) == static_cast<i32>(*r.offline_mapcount);
}
bool is_hugetlb(const PageRules& r, u64 dtor) {
  return (r.hugetlb_dtor && static_cast<u64>(*r.hugetlb_dtor) == dtor) || (r.free_huge_page && *r.free_huge_page == dtor);
}

PageFields decode(const PageRules& r, const std::byte* p) {
  PageFields f;
  f.flags = load_le<u64>(p + r.off_flags);
  f.refcount = load_le<u32>(p + r.off_refcount);
  f.mapping = load_le<u64>(p + r.off_mapping);
  if (r.off_head) f.compound_head = load_le<u64>(p + *r.off_head);
  if (r.off_mapcount) f.mapcount = load_le<u32>(p + *r.off_mapcount);
  if (r.off_private) f.private_ = load_le<u64>(p + *r.off_private);
  return f;
}
void decode_tail(const PageRules& r, const std::byte* p1, PageFields& f) {
  if (r.off_order) f.compound_order = r.narrow_order ? load_le<u8>(p1 + *r.off_order) : load_le<u16>(p1 + *r.off_order);
  if (r.off_dtor) f.compound_dtor = r.narrow_order ? load_le<u8>(p1 + *r.off_dtor) : load_le<u16>(p1 + *r.off_dtor);
}

// Is the page at pfn inside a PT_LOAD's file data (makedumpfile is_in_segs)?
class SegIndex {
 public:
  explicit SegIndex(const std::vector<LoadRange>& loads) : loads_(loads) {}
  bool contains(Pfn pfn) {
    u64 pa = pfn.value << kPageShift;
    if (last_ < loads_.size() && pa >= loads_[last_].start && pa < loads_[last_].file_end) return true;
    for (size_t i = 0; i < loads_.size(); ++i)
      if (pa >= loads_[i].start && pa < loads_[i].file_end) {
        last_ = i;
        return true;
      }
    return false;
  }

 private:
  const std::vector<LoadRange>& loads_;
  size_t last_ = 0;
};

// One PGMM_CACHED-aligned window of struct pages, read once; entries whose
// memory could not be read are marked invalid.
struct Window {
  u64 first = ~0ULL;  // pfn of slot 0
  std::vector<std::byte> data;
  std::vector<bool> valid;
};

class Walker {
 public:
  Walker(const VirtReader& read, const PageRules& r, int level, FilterResult& out, SegIndex& segs)
      : read_(read), r_(r), level_(level), out_(out), segs_(segs) {}

  void section(const SectionMemMap& s) {
    for (u64 pfn = s.pfn_start.value; pfn < s.pfn_end.value; ++pfn) {
      if (!segs_.contains(Pfn(pfn))) continue;
      const u64 idx = pfn % kPgmmCached;
      if (win_.first != pfn - idx) load(s, pfn - idx);
      if (!win_.valid[idx]) continue;  // unreadable struct page: keep the page
      PageFields f = decode(r_, &win_.data[idx * r_.size]);
      // page[1] is only looked at inside the window and section (see kPgmmCached).
      bool head = r_.pg_head_mask && (f.flags & static_cast<u64>(*r_.pg_head_mask));
      if (idx + 1 < kPgmmCached && head && pfn + 1 < s.pfn_end.value && win_.valid[idx + 1]) {
        decode_tail(r_, &win_.data[(idx + 1) * r_.size], f);
        if (f.compound_order >= 64 || (pfn & ((1ULL << f.compound_order) - 1)) != 0) f.compound_order = 0;
      }
      u64 nr = classify(f, pfn);
      if (nr > 1) pfn += nr - 1;
    }
  }

 private:
  // Returns how many pages (from pfn) were handled.
  u64 classify(const PageFields& f, u64 pfn) {
    u64 nr = 1ULL << f.compound_order;
    ExcludeClass c;
    const bool anon = f.mapping & 1;  // PAGE_MAPPING_ANON (KSM pages too)
    if (f.compound_head & 1) return 1;  // tail: excluded with its head, if at all
    if ((level_ & kDlFree) && is_buddy(r_, f)) {
      if (r_.free_area_len && f.private_ >= *r_.free_area_len) {
        note("pfn " + hex(pfn) + " looks free but has order " + std::to_string(f.private_) + " >= LENGTH(zone.free_area)=" +
             std::to_string(*r_.free_area_len) + "; kept, as makedumpfile does");
        return 1;
      }
      if (f.private_ >= 64) return 1;  // without LENGTH(zone.free_area): nonsense order, keep
      nr = 1ULL << f.private_;
      c = ExcludeClass::kFree;
    } else if ((level_ & kDlCache) && is_cache_page(r_, f.flags) && !test_bit(*r_.pg_private, f.flags) && !anon) {
      c = ExcludeClass::kCache;
    } else if ((level_ & kDlCachePrivate) && is_cache_page(r_, f.flags) && !anon) {
      c = test_bit(*r_.pg_private, f.flags) ? ExcludeClass::kCachePrivate : ExcludeClass::kCache;
    } else if ((level_ & kDlUser) && (anon || is_hugetlb(r_, f.compound_dtor))) {
      c = ExcludeClass::kUser;
    } else if (r_.pg_hwpoison && test_bit(*r_.pg_hwpoison, f.flags)) {
      c = ExcludeClass::kHwpoison;
    } else if (is_offline(r_, f)) {
      c = ExcludeClass::kOffline;
    } else {
      return 1;
    }
    const u64 max = out_.kept.max_pfn().value;
    const u64 end = nr >= max - std::min(pfn, max) ? max : pfn + nr;
    u64 n = 0;
    for (u64 p = pfn; p < end; ++p)
      if (out_.kept.test(Pfn(p))) {
        out_.kept.set(Pfn(p), false);
        ++n;
      }
    out_.excluded_by_class[static_cast<size_t>(c)] += n;
    return nr;
  }

  void load(const SectionMemMap& s, u64 first) {
    win_.first = first;
    const u64 lo = std::max(first, s.pfn_start.value);
    const u64 hi = std::min(first + kPgmmCached, s.pfn_end.value);
    win_.data.assign(kPgmmCached * r_.size, std::byte{0});
    win_.valid.assign(kPgmmCached, false);
    auto at = [&](u64 pfn) { return VirtAddr(s.mem_map + (pfn - s.pfn_start.value) * r_.size); };
    auto buf = [&](u64 pfn, u64 n) { return std::span<std::byte>(&win_.data[(pfn - first) * r_.size], n * r_.size); };
    if (read_(at(lo), buf(lo, hi - lo)).ok()) {
      for (u64 p = lo; p < hi; ++p) win_.valid[p - first] = true;
      return;
    }
    // Part of the window is unreadable: go entry by entry so that one bad
    // vmemmap page costs only the pfns it describes.
    u64 bad_lo = 0, bad_n = 0;
    std::string why;
    for (u64 p = lo; p < hi; ++p) {
      auto r = read_(at(p), buf(p, 1));
      if (r.ok()) {
        win_.valid[p - first] = true;
        continue;
      }
      if (!bad_n) {
        bad_lo = p;
        why = r.error().message;
      }
      ++bad_n;
    }
    if (bad_n)
      note("struct page for " + std::to_string(bad_n) + " pfns from " + hex(bad_lo) + " (vmemmap " +
           hex(at(bad_lo).value) + ") is unreadable (" + why + "); those pages are kept unfiltered");
  }

  void note(std::string msg) {
    if (++notes_ <= kMaxNotes) out_.degradations.push_back(std::move(msg));
    else if (notes_ == kMaxNotes + 1) out_.degradations.push_back("further filtering degradations not listed");
  }

  static constexpr int kMaxNotes = 20;
  const VirtReader& read_;
  const PageRules& r_;
  int level_;
  FilterResult& out_;
  SegIndex& segs_;
  Window win_;
  int notes_ = 0;
};

}  // namespace

const char* exclude_class_name(ExcludeClass c) {
  switch (c) {
    case ExcludeClass::kFree: return "free";
    case ExcludeClass::kCache: return "cache";
    case ExcludeClass::kCachePrivate: return "cache-private";
    case ExcludeClass::kUser: return "user";
    case ExcludeClass::kHwpoison: return "hwpoison";
    case ExcludeClass::kOffline: return "offline";
  }
  return "?";
}

std::string describe(const PageFields& f) {
  char b[256];
  std::snprintf(b, sizeof b,
                "flags=0x%" PRIx64 " mapping=0x%" PRIx64 " private=0x%" PRIx64 " compound_head=0x%" PRIx64
                " _mapcount=%d _refcount=%d compound_order=%u compound_dtor=%" PRIu64,
                f.flags, f.mapping, f.private_, f.compound_head, static_cast<i32>(f.mapcount),
                static_cast<i32>(f.refcount), f.compound_order, f.compound_dtor);
  return b;
}

Bitmap1Rule makedumpfile_bitmap1_rule(Pfn max_mapnr) {
  const u64 bitmap_size = max_mapnr.value * 2 / 8;
  if (bitmap_size <= (4u << 20) && bitmap_size * 8 >= max_mapnr.value * 2) return Bitmap1Rule::kBitmapFile;
  return Bitmap1Rule::kCyclicBuffer;
}

PageBitmap build_present(const std::vector<LoadRange>& loads, Pfn max_mapnr, Bitmap1Rule rule) {
  PageBitmap bm(max_mapnr);
  for (const auto& l : loads) {
    u64 first = l.start >> kPageShift;
    u64 last = l.end >> kPageShift;  // exclusive
    if (rule == Bitmap1Rule::kBitmapFile && (l.end & (kPageSize - 1))) ++last;
    last = std::min(last, max_mapnr.value);
    for (u64 p = first; p < last; ++p) bm.set(Pfn(p));
  }
  return bm;
}

Result<FilterResult> filter_memory(const VirtReader& read, const Vmcoreinfo& vi, const std::vector<LoadRange>& loads,
                                   Pfn max_mapnr, int dump_level, Bitmap1Rule rule) {
  if (dump_level < 0 || dump_level > kDlMax)
    return make_error("dump level " + std::to_string(dump_level) + " is not in 0..31");
  FilterResult out;
  int level = dump_level;
  auto drop = [&](int bits, const std::string& why) {
    if (!(level & bits)) return;
    level &= ~bits;
    out.degradations.push_back("dump level bits " + std::to_string(bits & dump_level) + " not applied: " + why);
  };

  // mem_map and struct page layout (makedumpfile get_mem_map; it also runs at
  // -d 0/1 because it trims max_mapnr to the last section with a mem_map).
  std::vector<SectionMemMap> sections;
  auto rules = page_rules(vi);
  auto keys = sparse_keys(vi);
  if (!rules.ok()) drop(kDlMax & ~kDlZero, rules.error().message);
  else if (!keys.ok()) drop(kDlMax & ~kDlZero, keys.error().message);
  if (rules.ok() && keys.ok()) {
    auto s = read_mem_sections(read, *keys, max_mapnr, out.degradations);
    if (!s.ok()) drop(kDlMax & ~kDlZero, "cannot locate mem_map: " + s.error().message);
    else sections = std::move(*s);
  }
  u64 top = 0;
  for (const auto& s : sections)
    if (s.mem_map) top = std::max(top, s.pfn_end.value);
  if (top && top < max_mapnr.value) max_mapnr = Pfn(top);  // "mem=" on the crashed kernel

  if (rules.ok()) {
    const PageRules& r = *rules;
    if (!r.pg_lru || !r.pg_private || !r.pg_swapcache)
      drop(kDlCache | kDlCachePrivate, "VMCOREINFO lacks NUMBER(PG_lru), NUMBER(PG_private) or NUMBER(PG_swapcache)");
    if (!r.has_buddy())
      drop(kDlFree,
           "VMCOREINFO lacks NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)/OFFSET(page._mapcount)/OFFSET(page.private); "
           "makedumpfile would walk the free lists, salvage keeps free pages");
    if (!r.pg_head_mask && (level & ~kDlZero))
      out.degradations.push_back("VMCOREINFO lacks NUMBER(PG_head_mask): compound pages are filtered page by page");
  }

  out.present = build_present(loads, max_mapnr, rule);
  out.kept = out.present;  // create_2nd_bitmap starts from the holes
  out.effective_dump_level = level;

  // create_2nd_bitmap(): the mem_map walk runs for levels 2/4/8, for free
  // pages via buddy, and always when the kernel exports PG_hwpoison.
  const bool walk = !sections.empty() && rules.ok() &&
                    ((level & (kDlCache | kDlCachePrivate | kDlUser)) || rules->pg_hwpoison ||
                     ((level & kDlFree) && rules->has_buddy()));
  if (!walk) return out;
  SegIndex segs(loads);
  Walker w(read, *rules, level, out, segs);
  for (const auto& s : sections)
    if (s.mem_map) w.section(s);
  return out;
}

Result<FilterResult> filter_pages(DumpReader& dump, KernelMemory& mem, const Vmcoreinfo& vi, int dump_level,
                                  const Log& log) {
  StepTimer t(log, "filter pages");
  std::vector<LoadRange> loads;
  // ram() merges adjacent PT_LOADs; the union of makedumpfile's per-load pfn
  // ranges is the same (docs/formats/filtering.md). p_filesz == p_memsz in
  // /proc/vmcore, so the file end is the range end.
  for (const auto& r : dump.ram()) loads.push_back({r.start.value, r.start.value + r.size, r.start.value + r.size});
  VirtReader read = [&mem](VirtAddr va, std::span<std::byte> out) { return mem.read_virt(va, out); };
  auto res = filter_memory(read, vi, loads, dump.max_pfn(), dump_level, makedumpfile_bitmap1_rule(dump.max_pfn()));
  if (!res.ok()) return std::move(res).error().with_context("filtering pages");
  for (const auto& d : res->degradations) log.warn("%s", d.c_str());
  return res;
}

Result<PageFields> read_page_fields(const VirtReader& read, const Vmcoreinfo& vi, Pfn pfn, Pfn max_mapnr) {
  ASSIGN_OR_RETURN(PageRules r, page_rules(vi));
  ASSIGN_OR_RETURN(SparseKeys k, sparse_keys(vi));
  std::vector<std::string> notes;
  ASSIGN_OR_RETURN(auto sections, read_mem_sections(read, k, max_mapnr, notes));
  for (const auto& s : sections) {
    if (pfn < s.pfn_start || !(pfn < s.pfn_end)) continue;
    if (!s.mem_map) return make_error("pfn " + hex(pfn.value) + " has no mem_map");
    std::vector<std::byte> b(2 * r.size);
    VirtAddr va(s.mem_map + (pfn.value - s.pfn_start.value) * r.size);
    TRY_CTX(read(va, std::span(b).first(r.size)), "struct page of pfn " + hex(pfn.value));
    PageFields f = decode(r, b.data());
    if (r.pg_head_mask && (f.flags & static_cast<u64>(*r.pg_head_mask)) && read(va + r.size, std::span(b).subspan(r.size)).ok())
      decode_tail(r, b.data() + r.size, f);
    return f;
  }
  return make_error("pfn " + hex(pfn.value) + " is beyond the last section");
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// Reads kdump-compressed dumps (header_version 1..6) from makedumpfile,
// salvage or anything else that follows diskdump_mod.h. Every header field a
// reader depends on is checked up front and a bad one is reported by name and
// file offset. Pages are located as crash and makedumpfile do (pfn_to_pos):
// descriptor index = rank of the pfn in the 2nd bitmap, with the rank of each
// 4096-pfn section cached so a lookup costs at most 64 word popcounts.
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "formats/hex.h"
#include "formats/endian.h"
#include "formats/format-table.h"
#include "formats/kdump.h"

namespace salvage {

namespace {

using namespace kdump;


Error bad_field(const char* field, u64 off, const std::string& why) {
  return make_error(std::string(field) + " at " + hex(off) + " " + why);
}

std::string compression_name(u32 status) {
  std::string s;
  const std::pair<u32, const char*> names[] = {
      {kCompressedZlib, "zlib"}, {kCompressedLzo, "lzo"}, {kCompressedSnappy, "snappy"}, {kCompressedZstd, "zstd"}};
  for (auto [bit, name] : names)
    if (status & bit) s += (s.empty() ? "" : ",") + std::string(name);
  return s.empty() ? "none" : s;
}

constexpr size_t kDescCache = 512;  // descriptors read per ByteSource call

class KdumpReader final : public DumpReader {
 public:
  explicit KdumpReader(ByteSource& src) : src_(src) {}

  Result<void> open() {
    // --- disk_dump_header (block 0) ---
    DiskDumpHeader h{};
    if (src_.size() < sizeof h) return make_error("file of " + std::to_string(src_.size()) + " bytes is shorter than disk_dump_header");
    TRY_CTX(src_.read_at(FileOffset(0), std::as_writable_bytes(std::span(&h, 1))), "reading disk_dump_header");
    if (std::memcmp(h.signature, kSignature, sizeof kSignature) != 0)
      return bad_field("signature", 0, "is not \"KDUMP   \"");
    if (h.header_version < 1 || h.header_version > kHeaderVersion)
      return bad_field("header_version", offsetof(DiskDumpHeader, header_version),
                       "is " + std::to_string(h.header_version) + ", expected 1..6");
    if (h.block_size != static_cast<i32>(kPageSize))
      return bad_field("block_size", offsetof(DiskDumpHeader, block_size),
                       "is " + std::to_string(h.block_size) + ", expected the x86_64 page size 4096");
    block_ = kPageSize;
    if (h.sub_hdr_size <= 0)
      return bad_field("sub_hdr_size", offsetof(DiskDumpHeader, sub_hdr_size),
                       "is " + std::to_string(h.sub_hdr_size) + ", expected > 0");
    if (h.status & ~kKnownStatus)
      meta_.notes_for_user.push_back("unknown status flags " + hex(h.status & ~kKnownStatus) + " in disk_dump_header");
    if (h.nr_cpus <= 0) meta_.notes_for_user.push_back("nr_cpus is " + std::to_string(h.nr_cpus));
    status_ = h.status;

    // --- kdump_sub_header (block 1) ---
    KdumpSubHeader sh{};
    TRY_CTX(src_.read_at(FileOffset(block_), std::as_writable_bytes(std::span(&sh, 1))),
            "reading kdump_sub_header at " + hex(block_));
    max_mapnr_ = h.header_version >= 6 ? sh.max_mapnr_64 : h.max_mapnr;
    if (h.header_version >= 6 && sh.max_mapnr_64 < UINT32_MAX && sh.max_mapnr_64 != h.max_mapnr)
      meta_.notes_for_user.push_back("max_mapnr " + std::to_string(h.max_mapnr) + " differs from max_mapnr_64 " +
                                     std::to_string(sh.max_mapnr_64) + "; using max_mapnr_64");
    if (max_mapnr_ == 0)
      return bad_field(h.header_version >= 6 ? "max_mapnr_64" : "max_mapnr",
                       h.header_version >= 6 ? block_ + offsetof(KdumpSubHeader, max_mapnr_64)
                                             : offsetof(DiskDumpHeader, max_mapnr),
                       "is 0");
    // (The upper bound on max_mapnr needs bitmap_blocks: see below.)
    if (h.header_version >= 2 && sh.split)
      meta_.notes_for_user.push_back("this is one file of a --split dump (pfns " + hex(sh.start_pfn_64) + ".." +
                                     hex(sh.end_pfn_64) + "); pages of the others read as excluded");
    meta_.format = "kdump";
    meta_.dump_level = sh.dump_level;
    meta_.incomplete = (status_ & kCompressedIncomplete) != 0;
    meta_.compression = compression_name(status_);
    if (meta_.incomplete) meta_.notes_for_user.push_back("the dump is marked incomplete (DUMP_DH_COMPRESSED_INCOMPLETE)");
    TRY(read_notes(h.header_version, sh));

    // --- bitmaps ---
    u64 bm_off = (1 + static_cast<u64>(h.sub_hdr_size)) * block_;
    u64 bm_len = static_cast<u64>(h.bitmap_blocks) * block_;
    // max_mapnr can be no larger than the pfns the bitmap area describes.
    // Checked before any arithmetic on it: near 2^64 the rounding in
    // bitmap_blocks_one() wraps to 0 and every later size check would pass.
    // The bound is one whole bitmap, not half of the area, because a legacy
    // diskdump file has a single bitmap (crash dump_is_partial()).
    const char* mapnr_field = h.header_version >= 6 ? "max_mapnr_64" : "max_mapnr";
    const u64 mapnr_off = h.header_version >= 6 ? block_ + offsetof(KdumpSubHeader, max_mapnr_64)
                                                 : offsetof(DiskDumpHeader, max_mapnr);
    if (max_mapnr_ > bm_len * 8)
      return bad_field(mapnr_field, mapnr_off,
                       "is " + std::to_string(max_mapnr_) + ", more than the " + std::to_string(bm_len * 8) +
                           " pfns that bitmap_blocks at " + hex(offsetof(DiskDumpHeader, bitmap_blocks)) + " (" +
                           std::to_string(h.bitmap_blocks) + ") can describe");
    const u64 one = bitmap_blocks_one(max_mapnr_, block_);  // <= bitmap_blocks, by the check above
    if (bm_off + bm_len > src_.size())
      return bad_field("bitmap_blocks", offsetof(DiskDumpHeader, bitmap_blocks),
                       "puts the bitmaps at " + hex(bm_off) + ".." + hex(bm_off + bm_len) + ", past the end of the file (" +
                           hex(src_.size()) + ")");
    u64 bm_bytes = div_round_up(max_mapnr_, 8);
    ASSIGN_OR_RETURN(bitmap1_, read_bytes(src_, FileOffset(bm_off), bm_bytes));
    // crash dump_is_partial(): both bitmaps present only if bitmap_blocks
    // covers two; legacy diskdump files have one bitmap used for both.
    if (h.bitmap_blocks >= 2 * one) {
      ASSIGN_OR_RETURN(bitmap2_, read_bytes(src_, FileOffset(bm_off + bm_len / 2), bm_bytes));
    } else {
      bitmap2_ = bitmap1_;
    }
    // Clear bits past max_mapnr in the last byte, then pad to whole u64
    // words (plus one) for the popcount loops.
    if (max_mapnr_ & 7) {
      auto mask = std::byte((1u << (max_mapnr_ & 7)) - 1);
      bitmap1_[bm_bytes - 1] &= mask;
      bitmap2_[bm_bytes - 1] &= mask;
    }
    bitmap1_.resize(round_up(bm_bytes, 8) + 8);
    bitmap2_.resize(round_up(bm_bytes, 8) + 8);
    // Section rank cache.
    u64 sections = div_round_up(max_mapnr_, kBitmapSectPfns);
    sect_rank_.resize(sections + 1);
    u64 total = 0;
    for (u64 s = 0; s < sections; ++s) {
      sect_rank_[s] = total;
      total += popcount_words(s * kBitmapSectPfns / 64, (s + 1) * kBitmapSectPfns / 64);
    }
    sect_rank_[sections] = total;
    n_desc_ = total;

    desc_start_ = bm_off + bm_len;
    u64 desc_end = desc_start_ + n_desc_ * sizeof(PageDesc);
    if (desc_end > src_.size()) {
      if (!meta_.incomplete)
        return make_error("page_desc table at " + hex(desc_start_) + ".." + hex(desc_end) + " (" +
                          std::to_string(n_desc_) + " entries) runs past the end of the file (" + hex(src_.size()) + ")");
      meta_.notes_for_user.push_back("page_desc table is cut short; pages past the end read as missing");
    }
    build_ram();
    scratch_.resize(block_);
    return Ok();
  }

  const DumpMetadata& metadata() const override { return meta_; }
  std::span<const std::byte> notes() const override { return notes_; }
  Pfn max_pfn() const override { return Pfn(max_mapnr_); }
  const std::vector<MemoryRange>& ram() const override { return ram_; }

  bool has_page(Pfn pfn) const override {
    return pfn.value < max_mapnr_ && bit(bitmap1_, pfn.value) && bit(bitmap2_, pfn.value);
  }

  Result<PageState> read_page(Pfn pfn, std::span<std::byte> out) override {
    if (out.size() != kPageSize) return make_error("read_page: buffer is not one page");
    std::memset(out.data(), 0, out.size());
    u64 p = pfn.value;
    if (p >= max_mapnr_ || !bit(bitmap1_, p)) return PageState::kHole;
    if (!bit(bitmap2_, p)) return PageState::kExcluded;
    u64 idx = rank(p);
    ASSIGN_OR_RETURN(PageDesc pd, desc(idx));
    if (pd.offset == 0) return PageState::kMissing;
    // Built only on error paths: no allocation per page read.
    auto where = [&] {
      return "pfn " + hex(p) + ": page_desc[" + std::to_string(idx) + "] at " + hex(desc_start_ + idx * sizeof(PageDesc));
    };
    if (pd.size > block_ || pd.size == 0)
      return make_error(where() + ": size " + std::to_string(pd.size) + " is not in 1..block_size");
    if (pd.offset < 0 || static_cast<u64>(pd.offset) + pd.size > src_.size())
      return make_error(where() + ": data at " + hex(static_cast<u64>(pd.offset)) + "+" + std::to_string(pd.size) +
                        " lies past the end of the file");
    u32 comp = pd.flags & kCompressionMask;
    if (comp == 0) {
      // libkdumpfile rejects raw pages of another size; so do we.
      if (pd.size != block_) return make_error(where() + ": raw page of " + std::to_string(pd.size) + " bytes");
      TRY_CTX(src_.read_at(FileOffset(static_cast<u64>(pd.offset)), out), where());
      return PageState::kData;
    }
    PageEncoding e;
    switch (comp) {
      case kCompressedZlib: e = PageEncoding::kZlib; break;
      case kCompressedLzo: e = PageEncoding::kLzo; break;
      case kCompressedSnappy: e = PageEncoding::kSnappy; break;
      case kCompressedZstd: e = PageEncoding::kZstd; break;
      default: return make_error(where() + ": flags " + hex(pd.flags) + " name more than one codec");
    }
    auto& codec = codecs_[static_cast<size_t>(e)];
    if (!codec) codec = make_codec(e);
    auto in = std::span(scratch_).first(pd.size);
    TRY_CTX(src_.read_at(FileOffset(static_cast<u64>(pd.offset)), in), where());
    TRY_CTX(codec->decompress(in, out), where());
    return PageState::kData;
  }

 private:
  // [off, off+len) lies inside the file; written so that a garbage len near
  // 2^64 cannot wrap the sum back into range.
  bool within_file(i64 off, u64 len) const {
    return off >= 0 && static_cast<u64>(off) <= src_.size() && len <= src_.size() - static_cast<u64>(off);
  }

  Result<void> read_notes(i32 version, const KdumpSubHeader& sh) {
    u64 base = block_;
    if (version >= 4 && sh.offset_note != 0 && sh.size_note != 0) {
      if (!within_file(sh.offset_note, sh.size_note))
        return bad_field("offset_note", base + offsetof(KdumpSubHeader, offset_note),
                         "(" + hex(static_cast<u64>(sh.offset_note)) + "+" + std::to_string(sh.size_note) +
                             ") lies past the end of the file");
      ASSIGN_OR_RETURN(notes_, read_bytes(src_, FileOffset(static_cast<u64>(sh.offset_note)), sh.size_note));
    }
    if (version >= 3 && sh.offset_vmcoreinfo != 0 && sh.size_vmcoreinfo != 0) {
      if (!within_file(sh.offset_vmcoreinfo, sh.size_vmcoreinfo))
        return bad_field("offset_vmcoreinfo", base + offsetof(KdumpSubHeader, offset_vmcoreinfo),
                         "(" + hex(static_cast<u64>(sh.offset_vmcoreinfo)) + "+" + std::to_string(sh.size_vmcoreinfo) +
                             ") lies past the end of the file");
      // A v3 file, or notes without VMCOREINFO: rebuild the note from the
      // blob so every consumer finds it in notes().
      auto parsed = parse_elf_notes(notes_);
      if (!parsed.ok() || !find_vmcoreinfo_note(*parsed)) {
        ASSIGN_OR_RETURN(auto text, read_bytes(src_, FileOffset(static_cast<u64>(sh.offset_vmcoreinfo)),
                                               sh.size_vmcoreinfo));
        auto note = make_elf_note("VMCOREINFO", 0, text);
        notes_.insert(notes_.end(), note.begin(), note.end());
      }
    }
    auto parsed = parse_elf_notes(notes_);
    if (!parsed.ok()) {
      meta_.notes_for_user.push_back("note section: " + parsed.error().message);
    } else if (!find_vmcoreinfo_note(*parsed)) {
      meta_.notes_for_user.push_back("no VMCOREINFO note");
    }
    return Ok();
  }

  static bool bit(const std::vector<std::byte>& bm, u64 p) {
    return (static_cast<u8>(bm[p >> 3]) >> (p & 7)) & 1;
  }
  u64 word(const std::vector<std::byte>& bm, u64 w) const { return load_le<u64>(bm.data() + w * 8); }
  u64 popcount_words(u64 w0, u64 w1) const {
    u64 n = 0, nwords = bitmap2_.size() / 8;
    for (u64 w = w0; w < w1 && w < nwords; ++w) n += __builtin_popcountll(word(bitmap2_, w));
    return n;
  }
  // Number of dumpable pfns below p.
  u64 rank(u64 p) const {
    u64 s = p / kBitmapSectPfns;
    u64 w0 = s * kBitmapSectPfns / 64, w = p / 64;
    u64 n = sect_rank_[s] + popcount_words(w0, w);
    u64 low = word(bitmap2_, w) & ((u64{1} << (p & 63)) - 1);
    return n + __builtin_popcountll(low);
  }

  Result<PageDesc> desc(u64 idx) {
    if (idx < cache_first_ || idx >= cache_first_ + cache_.size()) {
      u64 off = desc_start_ + idx * sizeof(PageDesc);
      if (off + sizeof(PageDesc) > src_.size()) return PageDesc{};  // cut short: never written
      u64 n = std::min<u64>({kDescCache, n_desc_ - idx, (src_.size() - off) / sizeof(PageDesc)});
      cache_.resize(n);
      TRY_CTX(src_.read_at(FileOffset(off), std::as_writable_bytes(std::span(cache_))),
              "reading page_desc at " + hex(off));
      cache_first_ = idx;
    }
    return cache_[idx - cache_first_];
  }

  // RAM = runs of set bits in the 1st bitmap, found a word at a time with
  // ctz so the cost is linear in the bitmap bytes plus the runs. A real
  // bitmap has a few dozen runs (one per e820 RAM range / PT_LOAD); a
  // corrupt one can alternate bits and describe millions, and ram() feeds
  // PT_LOAD tables and per-range loops. So once there are more than
  // kMaxRamRanges runs, runs closer than `gap` pfns are merged (gap
  // doubling as needed); the pfns merged in read as holes from read_page()
  // exactly as before, only ram() is coarser. At most ~log2(max_mapnr)
  // merge passes over <= 2*kMaxRamRanges entries.
  static constexpr size_t kMaxRamRanges = 1 << 14;

  void add_run(u64 start, u64 end, u64& gap) {
    if (!ram_.empty()) {
      MemoryRange& last = ram_.back();
      u64 last_end = (last.start.value >> kPageShift) + last.size / kPageSize;
      if (start - last_end < gap) {
        last.size = (end - (last.start.value >> kPageShift)) * kPageSize;
        return;
      }
    }
    ram_.push_back(MemoryRange{pfn_to_phys(Pfn(start)), (end - start) * kPageSize, VirtAddr(0)});
    while (ram_.size() > kMaxRamRanges) {
      gap *= 2;
      size_t out = 0;
      for (size_t i = 1; i < ram_.size(); ++i) {
        MemoryRange& o = ram_[out];
        u64 o_end = o.start.value + o.size;
        if ((ram_[i].start.value - o_end) / kPageSize < gap)
          o.size = ram_[i].start.value + ram_[i].size - o.start.value;
        else
          ram_[++out] = ram_[i];
      }
      ram_.resize(out + 1);
    }
  }

  void build_ram() {
    const u64 nwords = div_round_up(max_mapnr_, 64);  // bits past max_mapnr are clear
    u64 gap = 1, runs = 0, start = 0;
    bool in_run = false;
    for (u64 w = 0; w < nwords; ++w) {
      const u64 x = word(bitmap1_, w);
      if (x == (in_run ? ~u64{0} : 0)) continue;
      unsigned pos = 0;
      while (pos < 64) {
        const u64 y = (in_run ? ~x : x) >> pos;  // bits that end (or start) a run
        if (y == 0) break;
        pos += static_cast<unsigned>(__builtin_ctzll(y));
        if (in_run) {
          add_run(start, w * 64 + pos, gap);
          ++runs;
        } else {
          start = w * 64 + pos;
        }
        in_run = !in_run;
      }
    }
    if (in_run) {
      add_run(start, max_mapnr_, gap);
      ++runs;
    }
    if (gap > 1)
      meta_.notes_for_user.push_back("the 1st bitmap describes " + std::to_string(runs) +
                                     " RAM runs; runs less than " + std::to_string(gap) + " pages apart were merged into " +
                                     std::to_string(ram_.size()) + " ranges (pages between them read as holes)");
  }

  ByteSource& src_;
  u64 block_ = kPageSize;
  u32 status_ = 0;
  u64 max_mapnr_ = 0;
  u64 n_desc_ = 0;
  u64 desc_start_ = 0;
  DumpMetadata meta_;
  std::vector<std::byte> notes_;
  std::vector<std::byte> bitmap1_, bitmap2_;
  std::vector<u64> sect_rank_;
  std::vector<MemoryRange> ram_;
  std::vector<PageDesc> cache_;
  u64 cache_first_ = 0;
  std::vector<std::byte> scratch_;
  std::unique_ptr<Codec> codecs_[5];
};

}  // namespace

Result<std::unique_ptr<DumpReader>> open_kdump_reader(ByteSource& src) {
  auto r = std::make_unique<KdumpReader>(src);
  TRY(r->open());
  return std::unique_ptr<DumpReader>(std::move(r));
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// LKCD v8/v9/v10 reader (x86_64, little-endian). The page stream has no
// index, so open() scans every dump_page_t from the first page offset to END
// or end of file, the way crash (lkcd_common.c) and libkdumpfile (lkcd.c) do
// lazily, and checks each record the way their strictest reader does.
// salvage's note area (see formats/lkcd.h, docs/formats/lkcd.md) supplies the
// PRSTATUS and VMCOREINFO notes that LKCD itself cannot carry.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "formats/hex.h"
#include "formats/elf-notes.h"
#include "formats/endian.h"
#include "formats/format-table.h"
#include "formats/lkcd.h"

namespace salvage {

namespace {

using namespace lkcd;


std::string field(const char* name, size_t off) { return std::string(name) + " at " + hex(off); }

constexpr u64 kScanChunk = 1 << 20;
constexpr u64 kMaxFirstPage = 1ULL << 30;  // sanity bound on dh_dump_buffer_size

struct PageEntry {
  u64 pfn;
  u64 data_offset;  // file offset of the page data (after its dump_page_t)
  u32 size;
  u32 flags;
};

// Sequential reads of a ByteSource through a window, so that the scan does
// not issue one tiny read per record.
class ScanWindow {
 public:
  explicit ScanWindow(ByteSource& src) : src_(src) {}
  Result<void> read(u64 off, void* out, u64 len) {
    if (off < base_ || off + len > base_ + buf_.size()) {
      u64 n = std::min<u64>(std::max(kScanChunk, len), src_.size() - off);
      buf_.resize(n);
      TRY(src_.read_at(FileOffset(off), buf_));
      base_ = off;
    }
    std::memcpy(out, buf_.data() + (off - base_), len);
    return Ok();
  }

 private:
  ByteSource& src_;
  std::vector<std::byte> buf_;
  u64 base_ = 0;
};

class LkcdReader final : public DumpReader {
 public:
  static Result<std::unique_ptr<DumpReader>> open(ByteSource& src);
  const DumpMetadata& metadata() const override { return meta_; }
  std::span<const std::byte> notes() const override { return notes_; }
  Pfn max_pfn() const override { return max_pfn_; }
  const std::vector<MemoryRange>& ram() const override { return ram_; }
  Result<PageState> read_page(Pfn pfn, std::span<std::byte> out) override;
  bool has_page(Pfn pfn) const override {
    auto it = std::lower_bound(pages_.begin(), pages_.end(), pfn.value,
                               [](const PageEntry& e, u64 p) { return e.pfn < p; });
    return it != pages_.end() && it->pfn == pfn.value;
  }

 private:
  explicit LkcdReader(ByteSource& src) : src_(src) {}
  Result<void> read_header();
  void read_note_area(u64 arch_off);
  Result<void> scan_pages();

  ByteSource& src_;
  DumpHeader dh_{};
  u32 version_ = 0;
  u64 first_page_ = kFirstPageOffsetV8;
  DumpMetadata meta_;
  std::vector<std::byte> notes_;
  std::vector<PageEntry> pages_;  // sorted by pfn
  std::vector<MemoryRange> ram_;
  Pfn max_pfn_;
  std::vector<std::byte> cbuf_;
};

Result<void> LkcdReader::read_header() {
  if (src_.size() < kHeaderSizeV8)
    return make_error("file is " + std::to_string(src_.size()) + " bytes, shorter than dump_header_t (" +
                      std::to_string(kHeaderSizeV8) + ")");
  std::byte raw[sizeof(DumpHeader)] = {};
  u64 n = std::min<u64>(sizeof raw, src_.size());
  TRY_CTX(src_.read_at(FileOffset(0), std::span<std::byte>(raw, n)), "reading dump_header_t");
  std::memcpy(&dh_, raw, sizeof dh_);
  if (dh_.dh_magic_number != kDumpMagic && dh_.dh_magic_number != kDumpMagicLive)
    return make_error(field("dh_magic_number", 0) + " is " + hex(dh_.dh_magic_number) + ", not DUMP_MAGIC_NUMBER");
  version_ = dh_.dh_version & ~kVersionMclxMask;
  if (version_ < kVersion8 || version_ > kVersion10)
    return make_error(field("dh_version", 8) + " is " + std::to_string(version_) +
                      "; only the packed v8/v9/v10 headers are supported (v1-v7 depend on the writer's compiler)");
  if (dh_.dh_page_size != kPageSize)
    return make_error(field("dh_page_size", 20) + " is " + std::to_string(dh_.dh_page_size) + ", expected 4096");
  u32 expect_hs = version_ == kVersion8 ? kHeaderSizeV8 : kHeaderSizeV9;
  if (dh_.dh_header_size < kHeaderSizeV8 || dh_.dh_header_size > kFirstPageOffsetV8)
    return make_error(field("dh_header_size", 12) + " is " + std::to_string(dh_.dh_header_size) + ", expected " +
                      std::to_string(expect_hs));
  if (dh_.dh_header_size != expect_hs)
    meta_.notes_for_user.push_back("dh_header_size is " + std::to_string(dh_.dh_header_size) + ", expected " +
                                   std::to_string(expect_hs) + " for v" + std::to_string(version_));
  if (version_ >= kVersion9) {
    if (src_.size() < sizeof(DumpHeader))
      return make_error("file too short for v9 dh_dump_buffer_size at 0x2de");
    u64 fp = dh_.dh_dump_buffer_size;
    if (fp < dh_.dh_header_size || fp > kMaxFirstPage)
      return make_error(field("dh_dump_buffer_size", 734) + " is " + hex(fp) +
                        ": not a plausible offset of the first page record");
    first_page_ = fp;
    if (version_ == kVersion10 && fp != kFirstPageOffsetV8)
      meta_.notes_for_user.push_back("v10 dump with dh_dump_buffer_size " + hex(fp) +
                                     ": crash would look for pages at 0x10000 instead");
  }
  if (dh_.dh_dump_compress > kCompressGzip)
    return make_error(field("dh_dump_compress", 722) + " is " + std::to_string(dh_.dh_dump_compress) +
                      "; expected 0 (none), 1 (RLE) or 2 (gzip)");
  meta_.format = "lkcd";
  meta_.compression = dh_.dh_dump_compress == kCompressGzip ? "zlib"
                      : dh_.dh_dump_compress == kCompressRle ? "rle" : "none";
  meta_.dump_level = (dh_.dh_dump_level & kLevelAll) ? 0 : 31;  // refined by the salvage tag
  return Ok();
}

// The arch header is only needed to locate salvage's note area; problems
// here degrade (no notes) instead of failing the open.
void LkcdReader::read_note_area(u64 arch_off) {
  AsmHeaderFixed ah{};
  if (arch_off + sizeof ah > first_page_ || !src_.read_at(FileOffset(arch_off), std::as_writable_bytes(std::span(&ah, 1))).ok()) {
    meta_.notes_for_user.push_back("no x86_64 arch header before the first page record");
    return;
  }
  if (ah.dha_magic_number != kAsmMagic)
    meta_.notes_for_user.push_back("dha_magic_number at " + hex(arch_off) + " is " + hex(ah.dha_magic_number) +
                                   ", not 0xdeaddead (not an x86_64 LKCD dump?)");
  u64 tag_off = round_up(arch_off + ah.dha_header_size, 8);
  SalvageNoteTag tag{};
  if (tag_off + sizeof tag > first_page_ ||
      !src_.read_at(FileOffset(tag_off), std::as_writable_bytes(std::span(&tag, 1))).ok() ||
      std::memcmp(tag.magic, kNoteTagMagic, sizeof tag.magic) != 0) {
    meta_.notes_for_user.push_back("no salvage note area: this LKCD dump has no VMCOREINFO or PRSTATUS notes");
    return;
  }
  u64 lo = tag_off + sizeof tag;
  if (tag.notes_offset < lo || tag.notes_offset > first_page_ || tag.notes_size > first_page_ - tag.notes_offset) {
    meta_.notes_for_user.push_back("salvage note tag at " + hex(tag_off) + " points to " + hex(tag.notes_offset) +
                                   "+" + hex(tag.notes_size) + ", outside [" + hex(lo) + ", " + hex(first_page_) +
                                   "); notes ignored");
    return;
  }
  auto bytes = read_bytes(src_, FileOffset(tag.notes_offset), tag.notes_size);
  if (!bytes.ok() || !parse_elf_notes(*bytes).ok()) {
    meta_.notes_for_user.push_back("salvage note area at " + hex(tag.notes_offset) + " is unreadable; notes ignored");
    return;
  }
  notes_ = std::move(*bytes);
  meta_.dump_level = tag.dump_level;
  if (tag.dropped_prstatus)
    meta_.notes_for_user.push_back(std::to_string(tag.dropped_prstatus) +
                                   " PRSTATUS notes did not fit below the first page record when the dump was written");
}

Result<void> LkcdReader::scan_pages() {
  ScanWindow win(src_);
  const u64 size = src_.size();
  u64 pos = first_page_;
  bool end_seen = false;
  while (true) {
    if (pos + sizeof(DumpPage) > size) {
      meta_.notes_for_user.push_back("page stream ends at " + hex(pos) + " without a DUMP_DH_END record");
      break;
    }
    DumpPage dp;
    TRY_CTX(win.read(pos, &dp, sizeof dp), "reading dump_page_t at " + hex(pos));
    if (dp.dp_flags & kDhEnd) {
      end_seen = true;
      break;
    }
    std::string where = "dump_page_t at " + hex(pos);
    u32 kind = dp.dp_flags & (kDhRaw | kDhCompressed);
    if ((dp.dp_flags & ~(kDhRaw | kDhCompressed)) || (kind != kDhRaw && kind != kDhCompressed))
      return make_error(where + ": bogus dp_flags " + hex(dp.dp_flags) + " (exactly one of RAW 0x1, COMPRESSED 0x2)");
    if (dp.dp_address % kPageSize)
      return make_error(where + ": dp_address " + hex(dp.dp_address) + " is not page aligned");
    if (dp.dp_size > kPageSize)
      return make_error(where + ": dp_size " + std::to_string(dp.dp_size) + " exceeds the page size 4096");
    if (kind == kDhRaw && dp.dp_size != kPageSize && dp.dp_size != 0)
      return make_error(where + ": RAW page with dp_size " + std::to_string(dp.dp_size) + ", expected 4096");
    if (kind == kDhCompressed && dp.dp_size == 0)
      return make_error(where + ": COMPRESSED page with dp_size 0");
    if (kind == kDhCompressed && dh_.dh_dump_compress == kCompressNone)
      return make_error(where + ": COMPRESSED page but dh_dump_compress is NONE");
    u64 data = pos + sizeof dp;
    if (data + dp.dp_size > size) {
      meta_.notes_for_user.push_back(where + ": page data runs past the end of the file (truncated dump)");
      break;
    }
    pages_.push_back({dp.dp_address / kPageSize, data, dp.dp_size, kind});
    pos = data + dp.dp_size;
  }
  std::stable_sort(pages_.begin(), pages_.end(), [](const PageEntry& a, const PageEntry& b) { return a.pfn < b.pfn; });
  for (size_t i = 1; i < pages_.size(); ++i)
    if (pages_[i].pfn == pages_[i - 1].pfn)
      return make_error("duplicate page record for pfn " + hex(pages_[i].pfn) + ": dump_page_t at " +
                        hex(pages_[i - 1].data_offset - sizeof(DumpPage)) + " and " +
                        hex(pages_[i].data_offset - sizeof(DumpPage)));
  if (pages_.size() < dh_.dh_num_pages || !end_seen) {
    meta_.incomplete = true;
    if (pages_.size() < dh_.dh_num_pages)
      meta_.notes_for_user.push_back("found " + std::to_string(pages_.size()) + " page records, dh_num_pages says " +
                                     std::to_string(dh_.dh_num_pages) + ": the dump is incomplete");
  }
  for (const auto& p : pages_) {
    PhysAddr a = pfn_to_phys(Pfn(p.pfn));
    if (!ram_.empty() && ram_.back().start.value + ram_.back().size == a.value) ram_.back().size += kPageSize;
    else ram_.push_back({a, kPageSize, VirtAddr(0)});
  }
  max_pfn_ = pages_.empty() ? Pfn(0) : Pfn(pages_.back().pfn + 1);
  return Ok();
}

Result<std::unique_ptr<DumpReader>> LkcdReader::open(ByteSource& src) {
  std::unique_ptr<LkcdReader> r(new LkcdReader(src));
  TRY(r->read_header());
  r->read_note_area(r->dh_.dh_header_size);
  TRY(r->scan_pages());
  return std::unique_ptr<DumpReader>(std::move(r));
}

Result<PageState> LkcdReader::read_page(Pfn pfn, std::span<std::byte> out) {
  if (out.size() < kPageSize) return make_error("read_page: buffer smaller than a page");
  auto page = out.first(kPageSize);
  auto it = std::lower_bound(pages_.begin(), pages_.end(), pfn.value,
                             [](const PageEntry& e, u64 v) { return e.pfn < v; });
  if (it == pages_.end() || it->pfn != pfn.value) {
    std::memset(page.data(), 0, kPageSize);
    if (pfn >= max_pfn_) return meta_.incomplete ? PageState::kMissing : PageState::kHole;
    // LKCD has no bitmap: an absent page inside the range is either
    // filtered out or not RAM; the dump level says which is likelier.
    return meta_.dump_level != 0 ? PageState::kExcluded : PageState::kHole;
  }
  std::string where = "pfn " + hex(pfn.value) + " (data at " + hex(it->data_offset) + ")";
  if (it->flags == kDhRaw) {
    if (it->size == 0) {  // crash reads a zero-length RAW page as zeros
      std::memset(page.data(), 0, kPageSize);
      return PageState::kZero;
    }
    TRY_CTX(src_.read_at(FileOffset(it->data_offset), page), "reading " + where);
    return PageState::kData;
  }
  if (dh_.dh_dump_compress != kCompressGzip)
    return make_error(where + ": RLE-compressed LKCD pages are not supported (crash and libkdumpfile disagree on RLE)");
  cbuf_.resize(it->size);
  TRY_CTX(src_.read_at(FileOffset(it->data_offset), cbuf_), "reading " + where);
  uLongf n = kPageSize;
  int rc = uncompress(reinterpret_cast<Bytef*>(page.data()), &n, reinterpret_cast<const Bytef*>(cbuf_.data()),
                      cbuf_.size());
  if (rc != Z_OK) return make_error(where + ": zlib inflate failed (" + std::to_string(rc) + ")");
  if (n != kPageSize)
    return make_error(where + ": zlib data inflates to " + std::to_string(n) + " bytes, not one page");
  return PageState::kData;
}

}  // namespace

Result<std::unique_ptr<DumpReader>> open_lkcd_reader(ByteSource& src) { return LkcdReader::open(src); }

}  // namespace salvage

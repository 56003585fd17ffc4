// SPDX-License-Identifier: GPL-2.0-or-later
// Reads makedumpfile flattened streams in place: the records are indexed
// once, the rebuilt file is presented as a ByteSource (FlattenedView), and
// the payload (kdump-compressed or ELF) is opened through open_dump on that
// view. Semantics follow `makedumpfile -R` (makedumpfile 1.7.x
// rearrange_dumpdata): later records win, gaps are zeros; record checks
// follow libkdumpfile flatmap.c (offset >= 0, size > 0).
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <queue>

#include "formats/hex.h"
#include "formats/endian.h"
#include "formats/flattened.h"
#include "formats/format-table.h"

namespace salvage {

namespace {


constexpr u64 kMaxFlatHoles = 64ULL << 20;

struct RawRecord {
  u64 offset, size, stream_pos, seq;
};

// Resolves overlaps so that the record written last wins, like -R's pwrite
// sequence. Only called when records overlap, which makedumpfile does in
// corner cases (the header rewritten after ENOSPC).
std::vector<FlatSegment> paint(std::vector<RawRecord> recs) {
  std::vector<u64> pts;
  for (const auto& r : recs) {
    pts.push_back(r.offset);
    pts.push_back(r.offset + r.size);
  }
  std::sort(pts.begin(), pts.end());
  pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
  std::priority_queue<std::pair<u64, size_t>> active;  // (seq, index), newest on top
  std::vector<FlatSegment> out;
  size_t j = 0;
  for (size_t k = 0; k + 1 < pts.size(); ++k) {
    u64 a = pts[k], b = pts[k + 1];
    while (j < recs.size() && recs[j].offset == a) {
      active.emplace(recs[j].seq, j);
      ++j;
    }
    while (!active.empty() && recs[active.top().second].offset + recs[active.top().second].size <= a) active.pop();
    if (active.empty()) continue;
    const auto& r = recs[active.top().second];
    u64 pos = r.stream_pos + (a - r.offset);
    if (!out.empty() && out.back().offset + out.back().size == a && out.back().stream_pos + out.back().size == pos)
      out.back().size += b - a;
    else
      out.push_back(FlatSegment{a, b - a, pos});
  }
  return out;
}

}  // namespace

Result<FlatIndex> index_flattened(ByteSource& stream) {
  std::byte head[32];
  if (stream.size() < flat::kHeaderSize) return make_error("flattened header: stream is shorter than 4096 bytes");
  TRY_CTX(stream.read_at(FileOffset(0), head), "reading the flattened header");
  if (std::memcmp(head, flat::kSignature, sizeof flat::kSignature) != 0)
    return make_error("flattened header: signature at 0x0 is not \"makedumpfile\"");
  i64 type = load_be64(head + 16), version = load_be64(head + 24);
  if (type != flat::kTypeFlatHeader)
    return make_error("flattened header: type at 0x10 is " + std::to_string(type) + ", expected 1");
  if (version != flat::kVersionFlatHeader)
    return make_error("flattened header: version at 0x18 is " + std::to_string(version) + ", expected 1");

  FlatIndex idx;
  std::vector<RawRecord> recs;
  u64 pos = flat::kHeaderSize;
  while (pos + flat::kRecordHeaderSize <= stream.size()) {
    std::byte rh[flat::kRecordHeaderSize];
    TRY_CTX(stream.read_at(FileOffset(pos), rh), "reading flattened record header at " + hex(pos));
    i64 off = load_be64(rh), size = load_be64(rh + 8);
    if (off == -1 && size == -1) {
      idx.terminated = true;
      break;
    }
    if (off < 0 || size <= 0)
      return make_error("flattened record at " + hex(pos) + ": offset " + std::to_string(off) + ", size " +
                        std::to_string(size) + " (need offset >= 0, size > 0)");
    u64 payload = pos + flat::kRecordHeaderSize;
    if (static_cast<u64>(size) > stream.size() - payload)
      return make_error("flattened record at " + hex(pos) + ": " + std::to_string(size) +
                        " payload bytes run past the end of the stream (" + hex(stream.size()) + ")");
    if (static_cast<u64>(off) > static_cast<u64>(INT64_MAX) - static_cast<u64>(size))
      return make_error("flattened record at " + hex(pos) + ": offset + size overflows");
    recs.push_back(RawRecord{static_cast<u64>(off), static_cast<u64>(size), payload, recs.size()});
    pos = payload + static_cast<u64>(size);
  }
  idx.records = recs.size();
  std::stable_sort(recs.begin(), recs.end(), [](const RawRecord& a, const RawRecord& b) { return a.offset < b.offset; });
  bool overlap = false;
  u64 end = 0;
  for (const auto& r : recs) {
    if (r.offset < end) overlap = true;
    end = std::max(end, r.offset + r.size);
  }
  if (overlap) {
    idx.segments = paint(std::move(recs));
  } else {
    idx.segments.reserve(recs.size());
    for (const auto& r : recs) {
      auto& s = idx.segments;
      // Merge records that continue each other in both the file and the stream.
      if (!s.empty() && s.back().offset + s.back().size == r.offset && s.back().stream_pos + s.back().size == r.stream_pos)
        s.back().size += r.size;
      else
        s.push_back(FlatSegment{r.offset, r.size, r.stream_pos});
    }
  }
  idx.size = end;
  // makedumpfile writes the dump file densely (only sub-block holes, e.g.
  // after disk_dump_header), so almost every byte of the rebuilt file is in
  // some record. A few records at huge offsets would instead make a
  // terabyte file of zeros out of a tiny stream, and the payload's reader
  // would size its bitmaps and tables from it. Refuse holes that are both
  // larger than kMaxFlatHoles and than the data actually written.
  u64 covered = 0;
  for (const auto& s : idx.segments) covered += s.size;
  const u64 holes = idx.size - covered;
  if (holes > kMaxFlatHoles && holes > covered)
    return make_error("flattened stream: " + std::to_string(idx.records) + " records write " + hex(covered) +
                      " bytes but place them in a file of " + hex(idx.size) + " bytes (" + hex(holes) +
                      " bytes never written); a record offset is corrupt");
  return idx;
}

Result<void> FlattenedView::read_at(FileOffset off, std::span<std::byte> out) {
  u64 o = off.value;
  if (o > index_.size || out.size() > index_.size - o)
    return make_error(name() + ": read of " + std::to_string(out.size()) + " bytes at " + hex(o) +
                      " is past the end of the rebuilt file (" + hex(index_.size) + ")");
  const auto& segs = index_.segments;
  // First segment that ends after o.
  auto it = std::upper_bound(segs.begin(), segs.end(), o,
                             [](u64 v, const FlatSegment& s) { return v < s.offset + s.size; });
  size_t done = 0;
  while (done < out.size()) {
    u64 cur = o + done;
    size_t left = out.size() - done;
    if (it == segs.end() || cur < it->offset) {
      // A gap: never written, reads as zeros (crash, -R holes).
      u64 gap = it == segs.end() ? left : std::min<u64>(left, it->offset - cur);
      std::memset(out.data() + done, 0, gap);
      done += gap;
      continue;
    }
    u64 n = std::min<u64>(left, it->offset + it->size - cur);
    TRY(stream_.read_at(FileOffset(it->stream_pos + (cur - it->offset)), out.subspan(done, n)));
    done += n;
    ++it;
  }
  return Ok();
}

namespace {

// Owns the view and the payload's reader; reports itself as "flattened".
class FlattenedReader final : public DumpReader {
 public:
  FlattenedReader(std::unique_ptr<FlattenedView> view) : view_(std::move(view)) {}
  Result<void> open() {
    std::byte sig[16] = {};
    TRY(view_->read_at(FileOffset(0), std::span(sig, std::min<u64>(sizeof sig, view_->size()))));
    if (std::memcmp(sig, flat::kSignature, sizeof sig) == 0)
      return make_error("the flattened payload is itself a flattened stream");
    ASSIGN_OR_RETURN(inner_, open_dump(*view_));
    meta_ = inner_->metadata();
    meta_.notes_for_user.insert(meta_.notes_for_user.begin(),
                                "flattened stream of " + std::to_string(view_->index().records) +
                                    " records holding a " + meta_.format + " dump");
    if (!view_->index().terminated) {
      meta_.incomplete = true;
      meta_.notes_for_user.push_back("flattened stream has no end record (cut short)");
    }
    meta_.format = "flattened";
    return Ok();
  }
  const DumpMetadata& metadata() const override { return meta_; }
  std::span<const std::byte> notes() const override { return inner_->notes(); }
  Pfn max_pfn() const override { return inner_->max_pfn(); }
  const std::vector<MemoryRange>& ram() const override { return inner_->ram(); }
  Result<PageState> read_page(Pfn pfn, std::span<std::byte> out) override { return inner_->read_page(pfn, out); }

 private:
  std::unique_ptr<FlattenedView> view_;
  std::unique_ptr<DumpReader> inner_;
  DumpMetadata meta_;
};

}  // namespace

Result<std::unique_ptr<DumpReader>> open_flattened_reader(ByteSource& src) {
  ASSIGN_OR_RETURN(auto index, index_flattened(src));
  auto r = std::make_unique<FlattenedReader>(std::make_unique<FlattenedView>(src, std::move(index)));
  TRY(r->open());
  return std::unique_ptr<DumpReader>(std::move(r));
}

}  // namespace salvage

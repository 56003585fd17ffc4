// SPDX-License-Identifier: GPL-2.0-or-later
// Writes the kdump-compressed format, header_version 6, laid out exactly as
// makedumpfile 1.7.x does (write_kdump_header, write_kdump_bitmap*,
// write_kdump_pages_and_bitmap_cyclic) so that crash, makedumpfile and
// libkdumpfile all read it:
//
//   block 0            disk_dump_header
//   block 1..S         kdump_sub_header + the note section, verbatim
//   next X blocks      1st bitmap (RAM), then X blocks 2nd bitmap (dumpable)
//   desc_start         page_desc[popcount(2nd bitmap)], pfn order
//   data_start         page data, packed, not block aligned
//
// Everything before desc_start is known at begin() and written then. Page
// descriptors and page data are accumulated in 1 MiB buffers and written in
// ascending, non-overlapping chunks, so a flattened sink sees few, large
// records and a file sink few syscalls. The only rewrite is the header's
// status when the dump ends incomplete, as makedumpfile's
// check_and_modify_kdump_headers does after ENOSPC.
//
// Priority passes (begin_pass, used by the capture agent): page_desc offsets
// are absolute, so the format allows page data in any order. Each pass
// brings pages in ascending pfn order; a page's descriptor goes to its final
// index (its rank in the 2nd bitmap) and its data is appended. Descriptors
// are buffered one aligned window of indices at a time, never all of them
// (a 64 GiB dump has 16 Mi). Indices above everything written so far are
// written as zeros with the window (a raw device may hold an old dump's
// bytes there), so a page no pass reached reads as never written (offset 0).
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "formats/hex.h"
#include "formats/elf-notes.h"
#include "formats/format-table.h"
#include "formats/kdump.h"

namespace salvage {

namespace {

using namespace kdump;

constexpr u64 kBlock = kPageSize;  // block_size = page size on x86_64
constexpr size_t kDataChunk = 1 << 20;
constexpr size_t kDescChunk = (1 << 20) / sizeof(PageDesc);
constexpr std::byte kZeroPage[kPageSize] = {};


void copy_uts(char (&dst)[kUtsLen], const std::string& s) {
  std::memset(dst, 0, kUtsLen);
  std::memcpy(dst, s.data(), std::min(s.size(), kUtsLen - 1));
}

// Set bits of bm in pfns [from, to).
u64 count_range(const PageBitmap& bm, u64 from, u64 to) {
  u64 n = 0;
  auto bytes = bm.bytes();
  while (from < to && (from & 7)) n += bm.test(Pfn(from++));
  while (from + 8 <= to) {
    n += __builtin_popcount(static_cast<unsigned>(bytes[from >> 3]));
    from += 8;
  }
  while (from < to) n += bm.test(Pfn(from++));
  return n;
}

class KdumpWriter final : public DumpWriter {
 public:
  explicit KdumpWriter(Sink& sink) : sink_(sink) {}

  bool accepts(PageEncoding) const override { return true; }  // every codec has a page_desc flag
  bool drops_zero_pages() const override { return false; }    // shared pd_zero instead

  Result<void> begin(const DumpHeaderInfo& info) override {
    return std::move(begin_impl(info)).context("kdump writer: " + sink_.name());
  }

  bool accepts_passes() const override { return true; }

  Result<void> begin_pass() override {
    if (!begun_) return make_error("kdump writer: begin_pass before begin");
    if (!passes_) written_ = PageBitmap(Pfn(max_mapnr_));  // catches a page brought twice
    passes_ = true;
    have_last_ = false;
    rank_pfn_ = 0;
    rank_ = 0;
    // The previous pass goes to the disk whole before the next one starts
    // (which also starts at low descriptor indices again).
    TRY_CTX(flush_data(), "kdump writer");
    return std::move(flush_descs()).context("kdump writer");
  }

  Result<void> write_page(const PageRecord& rec) override {
    if (!begun_) return make_error("kdump writer: write_page before begin");
    if (rec.pfn.value >= max_mapnr_ || !kept_->test(rec.pfn))
      return make_error("kdump writer: pfn " + hex(rec.pfn.value) + " is not in the kept bitmap");
    if (have_last_ && rec.pfn <= last_pfn_)
      return make_error("kdump writer: pfn " + hex(rec.pfn.value) + " arrived after pfn " +
                        hex(last_pfn_.value) + "; pages must come in ascending order");
    if (passes_) {
      if (written_.test(rec.pfn)) return make_error("kdump writer: pfn " + hex(rec.pfn.value) + " came twice");
      written_.set(rec.pfn);
    }
    // The descriptor's index is the pfn's rank in the 2nd bitmap. Kept pages
    // the pipeline skipped (unreadable) keep an all-zero descriptor: offset 0
    // is "never written" to crash (PAGE_INCOMPLETE), makedumpfile and our
    // reader (kMissing), and the dump is flagged incomplete.
    const u64 index = rank_ + count_range(*kept_, rank_pfn_, rec.pfn.value);
    rank_ = index + 1;
    rank_pfn_ = rec.pfn.value + 1;
    last_pfn_ = rec.pfn;
    have_last_ = true;
    ++delivered_;

    if (rec.zero && zero_sharing_) return put_desc(index, pd_zero_);
    auto data = rec.data;
    auto enc = rec.encoding;
    if (rec.zero && data.empty()) {
      data = kZeroPage;
      enc = PageEncoding::kRaw;
    }
    if (enc == PageEncoding::kRaw ? data.size() != kBlock : (data.empty() || data.size() > kBlock))
      return make_error("kdump writer: pfn " + hex(rec.pfn.value) + ": " + encoding_name(enc) +
                        " page of " + std::to_string(data.size()) + " bytes (block_size " +
                        std::to_string(kBlock) + ")");
    if (data_buf_.size() + data.size() > kDataChunk) TRY(flush_data());
    PageDesc pd{static_cast<i64>(data_end_), static_cast<u32>(data.size()), encoding_flag(enc), 0};
    data_buf_.insert(data_buf_.end(), data.begin(), data.end());
    data_end_ += data.size();
    return put_desc(index, pd);
  }

  Result<void> finish(bool complete) override {
    if (!begun_) return make_error("kdump writer: finish before begin");
    // Data before descriptors: a descriptor on disk never points at data
    // that is not there yet (what an ENOSPC-cut dump relies on).
    auto r = flush_data();
    if (!r.ok()) {
      // The last data chunk did not reach the disk (ENOSPC, I/O error). Its
      // pages must read as never written (offset 0), but every descriptor
      // whose data is on disk is still written: the descriptor table lies
      // before the data, so a full target still takes it, and crash can
      // then read what was saved (bt, log) from an incomplete dump.
      const u64 lost_from = data_end_ - data_buf_.size();
      for (auto& pd : desc_buf_)
        if (pd.offset != 0 && static_cast<u64>(pd.offset) >= lost_from) {
          pd = PageDesc{};
          ++lost_;
        }
      data_buf_.clear();
      data_end_ = lost_from;
      if (auto d = flush_descs(); !d.ok()) r = std::move(d);
    } else {
      r = flush_descs();
    }
    const bool all_described = delivered_ - lost_ == n_desc_;
    // Descriptors above the last one written were never written: zeros, not
    // whatever the device held before (best effort; they lie before the data).
    if (!all_described && desc_buf_.empty()) {
      if (auto z = zero_descs(covered_, n_desc_); !z.ok() && r.ok()) r = std::move(z);
    }
    if (!r.ok() || !complete || !all_described) {
      header_.status |= kCompressedIncomplete;
      // One overlapping rewrite of the header (makedumpfile does the same).
      auto hr = sink_.write_at(FileOffset(0), std::as_bytes(std::span(&header_, 1)));
      if (!hr.ok()) return std::move(hr).context("kdump writer: marking the dump incomplete");
    }
    TRY_CTX(r, "kdump writer");
    return Ok();  // the sink's owner finishes (syncs) the sink
  }

 private:
  Result<void> begin_impl(const DumpHeaderInfo& info) {
    if (begun_) return make_error("begin called twice");
    if (!info.present || !info.kept) return make_error("present and kept bitmaps are required");
    max_mapnr_ = info.max_pfn.value;
    if (max_mapnr_ == 0) return make_error("max_pfn is 0");
    if (info.present->max_pfn() != info.max_pfn || info.kept->max_pfn() != info.max_pfn)
      return make_error("bitmap sizes differ from max_pfn " + hex(max_mapnr_));
    // crash checks the 1st bitmap before the 2nd (diskdump.c read_diskdump):
    // a kept page outside RAM would be unreadable.
    auto p = info.present->bytes(), k = info.kept->bytes();
    for (size_t i = 0; i < k.size(); ++i)
      if ((k[i] & ~p[i]) != std::byte{0})
        return make_error("kept pfn near " + hex(i * 8) + " is not in the present (RAM) bitmap");
    kept_ = info.kept;
    n_desc_ = kept_->count();
    zero_sharing_ = (info.dump_level & 1) != 0;  // DL_EXCLUDE_ZERO

    ASSIGN_OR_RETURN(auto notes, parse_elf_notes(info.notes));
    u64 note_off = kBlock + sizeof(KdumpSubHeader);
    u64 sub_blocks = div_round_up(sizeof(KdumpSubHeader) + info.notes.size(), kBlock);
    u64 bm_blocks = bitmap_blocks_one(max_mapnr_, kBlock);
    if (sub_blocks > INT32_MAX || 2 * bm_blocks > UINT32_MAX)
      return make_error("sub header or bitmaps too large for the format");
    desc_start_ = (1 + sub_blocks + 2 * bm_blocks) * kBlock;
    data_start_ = desc_start_ + n_desc_ * sizeof(PageDesc);
    data_end_ = data_start_;

    int nr_cpus = 0;
    KdumpSubHeader sh{};
    for (const auto& n : notes) {
      if (n.name == "CORE" && n.type == kNtPrstatus) ++nr_cpus;
      if (n.name == "VMCOREINFO" && n.type == 0) {
        sh.offset_vmcoreinfo = static_cast<i64>(note_off + n.desc_offset);
        sh.size_vmcoreinfo = n.desc_size;
      }
    }
    if (nr_cpus == 0) nr_cpus = static_cast<int>(info.cpus.size());

    auto& h = header_;
    h = DiskDumpHeader{};
    std::memcpy(h.signature, kSignature, sizeof kSignature);
    h.header_version = kHeaderVersion;
    copy_uts(h.utsname.sysname, info.uts.sysname);
    copy_uts(h.utsname.nodename, info.uts.nodename);
    copy_uts(h.utsname.release, info.uts.release);
    copy_uts(h.utsname.version, info.uts.version);
    copy_uts(h.utsname.machine, info.uts.machine);
    copy_uts(h.utsname.domainname, info.uts.domainname);
    h.timestamp.tv_sec = info.crash_time;
    h.timestamp.tv_usec = 0;
    h.status = encoding_flag(info.encoding);
    h.block_size = static_cast<i32>(kBlock);
    h.sub_hdr_size = static_cast<i32>(sub_blocks);
    h.bitmap_blocks = static_cast<u32>(2 * bm_blocks);
    h.max_mapnr = static_cast<u32>(std::min<u64>(max_mapnr_, UINT32_MAX));
    h.nr_cpus = nr_cpus;

    sh.phys_base = info.phys_base;
    sh.dump_level = info.dump_level;
    sh.offset_note = static_cast<i64>(note_off);
    sh.size_note = info.notes.size();
    sh.max_mapnr_64 = max_mapnr_;

    // Header block, sub header and notes: one write.
    std::vector<std::byte> head((1 + sub_blocks) * kBlock);
    std::memcpy(head.data(), &h, sizeof h);
    std::memcpy(head.data() + kBlock, &sh, sizeof sh);
    if (!info.notes.empty()) std::memcpy(head.data() + note_off, info.notes.data(), info.notes.size());
    TRY_CTX(sink_.write_at(FileOffset(0), head), "writing headers");

    u64 bm_off = (1 + sub_blocks) * kBlock;
    TRY_CTX(write_bitmap(bm_off, *info.present, bm_blocks), "writing the 1st bitmap at " + hex(bm_off));
    bm_off += bm_blocks * kBlock;
    TRY_CTX(write_bitmap(bm_off, *info.kept, bm_blocks), "writing the 2nd bitmap at " + hex(bm_off));

    desc_buf_.reserve(kDescChunk);
    desc_set_.reserve(kDescChunk);
    data_buf_.reserve(kDataChunk);
    if (zero_sharing_) {
      // makedumpfile writes one zero page first and points every zero page's
      // descriptor at it (pd_zero).
      pd_zero_ = PageDesc{static_cast<i64>(data_start_), static_cast<u32>(kBlock), 0, 0};
      data_buf_.insert(data_buf_.end(), std::begin(kZeroPage), std::end(kZeroPage));
      data_end_ += kBlock;
    }
    begun_ = true;
    return Ok();
  }

  Result<void> write_bitmap(u64 off, const PageBitmap& bm, u64 blocks) {
    auto bytes = bm.bytes();
    TRY(sink_.write_at(FileOffset(off), bytes));
    u64 pad = blocks * kBlock - bytes.size();  // < one block
    if (pad) TRY(sink_.write_at(FileOffset(off + bytes.size()), std::span(kZeroPage, pad)));
    return Ok();
  }

  // Descriptor windows are aligned to kDescChunk indices; within one the
  // indices ascend. In a single pass this writes exactly the chunks
  // makedumpfile-style sequential buffering did (a window skipped over is
  // written as zeros, one chunk at a time).
  Result<void> put_desc(u64 index, const PageDesc& pd) {
    if (index >= n_desc_)
      return make_error("kdump writer: more pages than the " + std::to_string(n_desc_) + " in the kept bitmap");
    if (!desc_buf_.empty() && index >= win_start_ + kDescChunk) {
      // Leaving the window: its tail holes go out with it (zeros above
      // covered_, left alone below it).
      desc_buf_.resize(kDescChunk, PageDesc{});
      desc_set_.resize(kDescChunk, false);
      TRY(flush_descs());
    }
    if (desc_buf_.empty()) win_start_ = index - index % kDescChunk;
    const size_t slot = index - win_start_;
    if (slot < desc_buf_.size()) return make_error("kdump writer: page_desc " + std::to_string(index) + " out of order");
    desc_buf_.resize(slot, PageDesc{});
    desc_set_.resize(slot, false);
    desc_buf_.push_back(pd);
    desc_set_.push_back(true);
    if (desc_buf_.size() == kDescChunk) return flush_descs();
    return Ok();
  }

  // Zero descriptors for [from, to), in the same aligned chunks.
  Result<void> zero_descs(u64 from, u64 to) {
    static const std::vector<PageDesc> zeros(kDescChunk);
    while (from < to) {
      const u64 n = std::min<u64>(to - from, kDescChunk - from % kDescChunk);
      const u64 off = desc_start_ + from * sizeof(PageDesc);
      TRY_CTX(sink_.write_at(FileOffset(off), std::as_bytes(std::span(zeros.data(), n))),
              "writing page_desc at " + hex(off));
      from += n;
    }
    covered_ = std::max(covered_, to);
    return Ok();
  }

  Result<void> flush_data() {
    if (data_buf_.empty()) return Ok();
    u64 off = data_end_ - data_buf_.size();
    TRY_CTX(sink_.write_at(FileOffset(off), data_buf_), "writing page data at " + hex(off));
    data_buf_.clear();
    return Ok();
  }

  // Writes the window: data first, so a descriptor on disk never points at
  // data that is not there. Runs of this window's descriptors go out whole;
  // a hole below covered_ is another pass's descriptor, already on disk.
  Result<void> flush_descs() {
    if (desc_buf_.empty()) return Ok();
    TRY(flush_data());
    TRY(zero_descs(covered_, win_start_));
    const size_t n = desc_buf_.size();
    for (size_t i = 0; i < n;) {
      if (!desc_set_[i] && win_start_ + i < covered_) {
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < n && (desc_set_[j] || win_start_ + j >= covered_)) ++j;
      const u64 off = desc_start_ + (win_start_ + i) * sizeof(PageDesc);
      TRY_CTX(sink_.write_at(FileOffset(off), std::as_bytes(std::span(desc_buf_.data() + i, j - i))),
              "writing page_desc at " + hex(off));
      i = j;
    }
    covered_ = std::max(covered_, win_start_ + n);
    desc_buf_.clear();
    desc_set_.clear();
    return Ok();
  }

  Sink& sink_;
  bool begun_ = false;
  const PageBitmap* kept_ = nullptr;
  u64 max_mapnr_ = 0;
  u64 n_desc_ = 0;
  u64 desc_start_ = 0, data_start_ = 0, data_end_ = 0;
  u64 covered_ = 0;        // every descriptor index below this is on disk (real or zero)
  u64 win_start_ = 0;      // first index of the buffered window
  u64 delivered_ = 0;      // pages given to write_page
  u64 lost_ = 0;           // of those, pages whose data never reached the disk
  u64 rank_pfn_ = 0, rank_ = 0;  // kept pages below rank_pfn_ (this pass's cursor)
  bool passes_ = false;
  PageBitmap written_;     // pass mode: pages already brought
  bool zero_sharing_ = false;
  bool have_last_ = false;
  Pfn last_pfn_;
  PageDesc pd_zero_{};
  DiskDumpHeader header_{};
  std::vector<PageDesc> desc_buf_;
  std::vector<bool> desc_set_;  // which window slots hold a page of this pass
  std::vector<std::byte> data_buf_;
};

}  // namespace

std::unique_ptr<DumpWriter> make_kdump_writer(Sink& sink) { return std::make_unique<KdumpWriter>(sink); }

}  // namespace salvage

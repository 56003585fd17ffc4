// SPDX-License-Identifier: GPL-2.0-or-later
// makedumpfile's flattened format (makedumpfile -F; makedumpfile.h
// struct makedumpfile_header / makedumpfile_data_header): a stream of
// {be64 offset, be64 size, payload} records saying where each write of the
// real dump file would have landed, so a dump can go through a pipe or ssh
// and be rebuilt with `makedumpfile -R` or read directly by crash and
// libkdumpfile.
#pragma once

#include <vector>

#include "formats/byte-source.h"
#include "formats/sink.h"

namespace salvage {

namespace flat {
inline constexpr char kSignature[16] = {'m', 'a', 'k', 'e', 'd', 'u', 'm', 'p', 'f', 'i', 'l', 'e', 0, 0, 0, 0};
inline constexpr i64 kTypeFlatHeader = 1;     // TYPE_FLAT_HEADER
inline constexpr i64 kVersionFlatHeader = 1;  // VERSION_FLAT_HEADER; libkdumpfile insists on 1
inline constexpr u64 kHeaderSize = 4096;      // MAX_SIZE_MDF_HEADER
inline constexpr u64 kRecordHeaderSize = 16;  // be64 offset + be64 buf_size
}  // namespace flat

// A Sink that turns positioned writes into flattened records and appends
// them to `out` at stream offsets 0, 1, 2, ... (out is typically a pipe or
// stdout sink that only accepts sequential writes). Contiguous writes are
// coalesced into records of up to 4 MiB. Writers must not overlap their
// writes (crash's direct reader cannot resolve overlaps); the header comes
// first in begin(), the -1/-1 terminator in finish().
class FlattenedSink final : public Sink {
 public:
  explicit FlattenedSink(Sink& out);
  Result<void> write_at(FileOffset off, std::span<const std::byte> data) override;
  Result<void> finish() override;
  std::string name() const override { return out_.name() + " (flattened)"; }

 private:
  Result<void> write_header();
  Result<void> emit(u64 off, std::span<const std::byte> payload);
  Result<void> flush_pending();
  Result<void> put(std::span<const std::byte> bytes);
  Sink& out_;
  u64 stream_pos_ = 0;
  bool header_written_ = false;
  bool finished_ = false;
  u64 pending_off_ = 0;
  std::vector<std::byte> pending_;
};

// One record of a flattened stream, resolved: bytes [offset, offset+size)
// of the rebuilt file are at stream_pos in the stream.
struct FlatSegment {
  u64 offset = 0;
  u64 size = 0;
  u64 stream_pos = 0;
};

// Indexes a flattened stream. Later records win where records overlap (as
// with `makedumpfile -R`); gaps read as zeros. `terminated` is false when
// the -1/-1 end record is missing (stream cut short).
struct FlatIndex {
  std::vector<FlatSegment> segments;  // sorted, non-overlapping
  u64 size = 0;                       // end of the last segment
  bool terminated = false;
  u64 records = 0;
};
Result<FlatIndex> index_flattened(ByteSource& stream);

// The rebuilt file as a ByteSource, without writing it out.
class FlattenedView final : public ByteSource {
 public:
  FlattenedView(ByteSource& stream, FlatIndex index) : stream_(stream), index_(std::move(index)) {}
  Result<void> read_at(FileOffset off, std::span<std::byte> out) override;
  u64 size() const override { return index_.size; }
  std::string name() const override { return stream_.name(); }
  const FlatIndex& index() const { return index_; }

 private:
  ByteSource& stream_;
  FlatIndex index_;
};

}  // namespace salvage

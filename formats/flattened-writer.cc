// SPDX-License-Identifier: GPL-2.0-or-later
// Emits makedumpfile's flattened format (makedumpfile 1.7.x
// write_start_flat_header / write_buffer / write_end_flat_header):
// a 4096-byte header, then one record per (coalesced) positioned write, then
// the -1/-1 end record. All integers are big-endian.
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "formats/endian.h"
#include "formats/flattened.h"

namespace salvage {

namespace {
// Records up to this size are assembled in memory (one write to `out` each);
// larger writes go straight through as header + payload.
constexpr size_t kMaxRecord = 4 << 20;
}  // namespace

FlattenedSink::FlattenedSink(Sink& out) : out_(out) { pending_.reserve(flat::kRecordHeaderSize + kMaxRecord); }

Result<void> FlattenedSink::put(std::span<const std::byte> bytes) {
  TRY(out_.write_at(FileOffset(stream_pos_), bytes));
  stream_pos_ += bytes.size();
  return Ok();
}

Result<void> FlattenedSink::write_header() {
  if (header_written_) return Ok();
  std::byte head[flat::kHeaderSize] = {};
  std::memcpy(head, flat::kSignature, sizeof flat::kSignature);
  store_be64(head + 16, flat::kTypeFlatHeader);
  store_be64(head + 24, flat::kVersionFlatHeader);
  TRY_CTX(put(head), "writing the flattened header");
  header_written_ = true;
  return Ok();
}

Result<void> FlattenedSink::emit(u64 off, std::span<const std::byte> payload) {
  std::byte rec[flat::kRecordHeaderSize];
  store_be64(rec, static_cast<i64>(off));
  store_be64(rec + 8, static_cast<i64>(payload.size()));
  TRY(put(rec));
  return put(payload);
}

Result<void> FlattenedSink::flush_pending() {
  if (pending_.size() <= flat::kRecordHeaderSize) return Ok();
  store_be64(pending_.data(), static_cast<i64>(pending_off_));
  store_be64(pending_.data() + 8, static_cast<i64>(pending_.size() - flat::kRecordHeaderSize));
  TRY(put(pending_));
  pending_.clear();
  return Ok();
}

Result<void> FlattenedSink::write_at(FileOffset off, std::span<const std::byte> data) {
  if (finished_) return make_error(name() + ": write after finish");
  if (data.empty()) return Ok();  // readers reject buf_size <= 0
  if (off.value > static_cast<u64>(INT64_MAX) - data.size()) {
    char b[96];
    std::snprintf(b, sizeof b, ": offset 0x%" PRIx64 " does not fit a flattened record", off.value);
    return make_error(name() + b);
  }
  TRY(write_header());
  size_t have = pending_.empty() ? 0 : pending_.size() - flat::kRecordHeaderSize;
  if (have && off.value == pending_off_ + have && have + data.size() <= kMaxRecord) {
    pending_.insert(pending_.end(), data.begin(), data.end());
    return Ok();
  }
  TRY(flush_pending());
  if (data.size() >= kMaxRecord) return emit(off.value, data);
  pending_.resize(flat::kRecordHeaderSize);
  pending_.insert(pending_.end(), data.begin(), data.end());
  pending_off_ = off.value;
  return Ok();
}

Result<void> FlattenedSink::finish() {
  if (finished_) return Ok();
  TRY(write_header());
  TRY(flush_pending());
  std::byte end[flat::kRecordHeaderSize];
  std::memset(end, 0xff, sizeof end);  // offset = -1, buf_size = -1 (END_FLAG_FLAT_HEADER)
  TRY_CTX(put(end), "writing the flattened end record");
  finished_ = true;
  return out_.finish();
}

}  // namespace salvage

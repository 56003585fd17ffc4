// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/relayres-walk.h"

#include <cstring>

#include "formats/hex.h"

namespace salvage {

void RelayresCpuWalker::warn(std::string w) {
  if (stats_) stats_->warnings.push_back(std::move(w));
}

void RelayresCpuWalker::torn(std::string w) {
  warn(std::move(w));
  if (stats_) ++stats_->torn;
  off_ = commit_;
}

// The rules of docs/formats/relayres.md "Records": a record at or beyond
// commit is never trusted; inside commit a frame that does not hold
// together (short, too long, another CPU's, seq not increasing) ends the
// sub-buffer, and the walk goes on with the next one.
Result<bool> RelayresCpuWalker::next() {
  for (;;) {
    if (!sb_ || off_ >= commit_) {
      if (next_sb_ == kept_.size()) return false;
      sb_ = &kept_[next_sb_++];
      commit_ = sb_->commit;
      buf_.resize(commit_);
      TRY_CTX(src_.read_at(FileOffset(sb_->base), buf_), "cpu " + std::to_string(cpu_) + " sub-buffer " +
                                                               std::to_string(sb_->sb_seq) + " at region offset " +
                                                               hex(sb_->base));
      off_ = RELAYRES_SUBBUF_HDR_SIZE;
      first_in_sb_ = true;
      continue;
    }
    const u64 at = sb_->base + off_;
    auto where = [&] {
      return "cpu " + std::to_string(cpu_) + " sub-buffer " + std::to_string(sb_->sb_seq) + " record at region offset " +
             hex(at);
    };
    const u64 room = commit_ - off_;
    if (room < sizeof(relayres_record)) {
      torn(where() + ": " + std::to_string(room) + " bytes before commit, too few for a frame");
      continue;
    }
    relayres_record rec;
    std::memcpy(&rec, buf_.data() + off_, sizeof rec);
    if (rec.len < sizeof(relayres_record) || rec.len > room) {
      torn(where() + ": len " + std::to_string(rec.len) + " outside [24, " + std::to_string(room) +
           "]; rest of the sub-buffer dropped");
      continue;
    }
    if (rec.cpu != cpu_) {
      torn(where() + ": frame says cpu " + std::to_string(rec.cpu) + "; rest of the sub-buffer dropped");
      continue;
    }
    if (first_in_sb_ && rec.seq != sb_->first_rec_seq)
      warn(where() + ": seq " + std::to_string(rec.seq) + " but the sub-buffer header says " +
           std::to_string(sb_->first_rec_seq));
    if (have_prev_) {
      if (rec.seq <= prev_seq_) {
        torn(where() + ": seq " + std::to_string(rec.seq) + " does not follow " + std::to_string(prev_seq_) +
             "; rest of the sub-buffer dropped");
        continue;
      }
      if (rec.seq != prev_seq_ + 1) {
        if (stats_) stats_->gaps += rec.seq - prev_seq_ - 1;
        warn(where() + ": " + std::to_string(rec.seq - prev_seq_ - 1) + " record(s) missing after seq " +
             std::to_string(prev_seq_));
      }
    }
    cur_ = RelayresRecordRef{at, rec.len, rec.type, rec.cpu, rec.seq, rec.ts};
    frame_off_ = static_cast<size_t>(off_);
    prev_seq_ = rec.seq;
    have_prev_ = true;
    first_in_sb_ = false;
    off_ += round_up(rec.len, RELAYRES_RECORD_ALIGN);
    return true;
  }
}

namespace {

// A replay must find exactly what the parse counted: a region that changed
// in between (a live channel read through /dev/mem) would otherwise give a
// file whose size disagrees with what was announced to the target.
Error changed(u32 cpu, u64 want, u64 got) {
  return make_error("cpu " + std::to_string(cpu) + ": the region changed while it was read (" + std::to_string(want) +
                    " records counted, " + std::to_string(got) + " on the second pass; is the channel live?)");
}

}  // namespace

Result<void> for_each_cpu_record(ByteSource& src, const RelayresChannel& ch, u32 cpu, const RelayresRecordFn& fn) {
  if (cpu >= ch.cpus.size())
    return make_error("cpu " + std::to_string(cpu) + ": the channel has " + std::to_string(ch.cpus.size()) + " CPUs");
  const RelayresCpuStream& s = ch.cpus[cpu];
  RelayresCpuWalker w(src, ch.header, cpu, s.kept, nullptr);
  u64 n = 0;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, w.next());
    if (!more) break;
    if (++n > s.record_count) return changed(cpu, s.record_count, n);
    TRY(fn(w.record(), w.frame()));
  }
  if (n != s.record_count) return changed(cpu, s.record_count, n);
  return Ok();
}

Result<void> for_each_merged_record(ByteSource& src, const RelayresChannel& ch, const RelayresRecordFn& fn) {
  // One walker (one sub-buffer) per CPU that has records; streams index it.
  std::vector<RelayresCpuWalker> walkers;
  walkers.reserve(ch.cpus.size());
  std::vector<u64> emitted(ch.cpus.size(), 0);
  RelayresMergeQueue q;
  for (u32 c = 0; c < ch.cpus.size(); ++c) {
    if (ch.cpus[c].record_count == 0) continue;
    walkers.emplace_back(src, ch.header, c, ch.cpus[c].kept, nullptr);
    ASSIGN_OR_RETURN(bool more, walkers.back().next());
    if (!more) return changed(c, ch.cpus[c].record_count, 0);
    q.push(walkers.back().record(), walkers.size() - 1);
  }
  while (!q.empty()) {
    const size_t i = q.pop();
    RelayresCpuWalker& w = walkers[i];
    const u32 cpu = w.record().cpu;
    const u64 want = ch.cpus[cpu].record_count;
    if (++emitted[cpu] > want) return changed(cpu, want, emitted[cpu]);
    TRY(fn(w.record(), w.frame()));
    ASSIGN_OR_RETURN(bool more, w.next());
    if (more) q.push(w.record(), i);
    else if (emitted[cpu] != want) return changed(cpu, want, emitted[cpu]);
  }
  return Ok();
}

}  // namespace salvage

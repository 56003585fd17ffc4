// SPDX-License-Identifier: GPL-2.0-or-later
// One CPU's record walk over a relayres region read through a ByteSource,
// one retained sub-buffer in memory at a time (formats/relayres.h uses it
// for validation, the per-CPU streams and the k-way merge). The same walk
// runs twice: once while parsing, collecting the counts and warnings, and
// again for each output, emitting the frames; both see the same bytes (the
// region is in /proc/vmcore or an unclaimed /dev/mem range), so they stop
// at the same records. Memory: subbuf_size bytes per walker.
//
// RelayresMergeQueue is the one chronological merge: the streaming
// for_each_merged_record feeds it one walker per CPU, the in-memory
// for_each_merged each CPU's record list.
#pragma once

#include <queue>
#include <span>
#include <vector>

#include "formats/byte-source.h"
#include "formats/relayres.h"

namespace salvage {

class RelayresCpuWalker {
 public:
  // `stats` receives warnings, torn and gap counts (the parse pass); null
  // for a replay, which stays silent.
  RelayresCpuWalker(ByteSource& src, const RelayresHeaderInfo& h, u32 cpu, const std::vector<RelayresSubbufRef>& kept,
                    RelayresCpuStream* stats)
      : src_(src), h_(h), cpu_(cpu), kept_(kept), stats_(stats) {}

  // Advances to the next record that holds together; false at the end.
  Result<bool> next();
  // The current record and its frame (len bytes); valid until next().
  const RelayresRecordRef& record() const { return cur_; }
  std::span<const std::byte> frame() const { return std::span(buf_).subspan(frame_off_, cur_.len); }
  // The largest single read this walker made (the bounded-memory tests).
  u64 buffer_bytes() const { return buf_.capacity(); }

 private:
  void warn(std::string w);
  // A frame that does not hold together: warn, count the sub-buffer torn
  // and skip the rest of it.
  void torn(std::string w);
  ByteSource& src_;
  const RelayresHeaderInfo& h_;
  u32 cpu_;
  const std::vector<RelayresSubbufRef>& kept_;
  RelayresCpuStream* stats_;
  std::vector<std::byte> buf_;  // [0, commit) of the current sub-buffer
  size_t next_sb_ = 0;          // index in kept_ of the next sub-buffer to load
  const RelayresSubbufRef* sb_ = nullptr;
  u64 off_ = 0, commit_ = 0;
  bool first_in_sb_ = false, have_prev_ = false;
  u64 prev_seq_ = 0;
  size_t frame_off_ = 0;
  RelayresRecordRef cur_;
};

// A k-way merge by (ts, cpu, seq) of per-CPU streams, each already in seq
// order: holds one head per stream, so a CPU whose clock steps backwards
// still keeps its own order.
class RelayresMergeQueue {
 public:
  // `r` is the head of stream `stream` (the caller's index).
  void push(const RelayresRecordRef& r, size_t stream) { q_.push(Head{r.ts, r.seq, r.cpu, stream}); }
  bool empty() const { return q_.empty(); }
  // Removes the earliest head and returns its stream; push that stream's
  // next record, if any.
  size_t pop() {
    const size_t s = q_.top().stream;
    q_.pop();
    return s;
  }

 private:
  struct Head {
    u64 ts, seq;
    u32 cpu;
    size_t stream;
  };
  struct Later {
    bool operator()(const Head& a, const Head& b) const {
      if (a.ts != b.ts) return a.ts > b.ts;
      if (a.cpu != b.cpu) return a.cpu > b.cpu;
      return a.seq > b.seq;
    }
  };
  std::priority_queue<Head, std::vector<Head>, Later> q_;
};

}  // namespace salvage

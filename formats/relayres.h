// SPDX-License-Identifier: GPL-2.0-or-later
// The flight recorder's reader (issue 5): validates a relayres= region
// (formats/relayres-layout.h) and rebuilds each CPU's stream oldest-first,
// then merges the CPUs chronologically. No I/O choices: the input is a
// ByteSource over the region and the physical address it was read from
// (agent/relayres-source.h opens one). docs/formats/relayres.md is the
// prose version of the rules.
//
// Memory is bounded by the geometry, not the region size: parsing reads
// the 64-byte sub-buffer headers and keeps the list of retained
// sub-buffers, then walks each CPU one sub-buffer at a time for the
// counts; the streams are produced by walking again (for_each_cpu_record,
// for_each_merged_record: one sub-buffer per CPU in memory). A 64 MiB
// region of 64 KiB sub-buffers costs well under 1 MiB. The span overloads
// are the same code over a MemorySource (one header check, one record walk,
// formats/relayres-walk.h); they only add the record lists.
//
// A region that is not a channel at all (zeroed, garbage, a newer version,
// impossible geometry) is an error naming the field and its offset. Damage
// inside a valid channel (a sub-buffer cut by the crash, a torn record,
// stale sub-buffers of an older generation, counters that disagree) is a
// warning: the reader keeps what it can prove and says what it dropped.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "formats/byte-source.h"
#include "formats/relayres-clock.h"
#include "formats/relayres-layout.h"
#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

// The header, in host types, after validation.
struct RelayresHeaderInfo {
  u32 version = 0, header_size = 0;
  u64 region_phys = 0, region_size = 0;
  u32 nr_cpus = 0, flags = 0, subbuf_size = 0, n_subbufs = 0;
  u64 cpu_ctl_off = 0, data_off = 0, private_off = 0;
  u32 private_size = 0, clock_id = 0;
  u64 generation = 0;
  std::string boot_id;  // 32 hex digits with dashes, as /proc/sys/kernel/random/boot_id
  std::string release;
  u64 anchor_clock_ns = 0, anchor_real_ns = 0, init_jiffies = 0;
  RelayresClock clock;  // clock_id, tsc_khz and anchors (formats/relayres-clock.h)
  bool overwrite() const { return flags & RELAYRES_F_OVERWRITE; }
  // Wall-clock ns since the epoch for a record timestamp (any clock_id).
  i64 wall_ns(u64 ts) const { return clock.wall_ns(ts); }
};

// One record kept by the reader: where its frame lies in the region and the
// frame's fields. bytes_of(region, r) is the framed record (len bytes).
struct RelayresRecordRef {
  u64 off = 0;  // region offset of the record frame
  u32 len = 0;  // header + payload, unaligned
  u16 type = 0;
  u16 cpu = 0;
  u64 seq = 0;
  u64 ts = 0;
};

// The control block as found (informational: the reader does not need it).
struct RelayresCtlInfo {
  u32 seqcount = 0, cpu = 0;
  u64 produced = 0, offset = 0, next_rec_seq = 0, lost = 0, overwritten = 0;
};

// A retained sub-buffer, from its validated header.
struct RelayresSubbufRef {
  u64 base = 0;  // region offset of the sub-buffer
  u64 sb_seq = 0, first_rec_seq = 0;
  u64 commit = 0;  // 64..subbuf_size
};

struct RelayresCpuStream {
  u32 cpu = 0;
  RelayresCtlInfo ctl;
  std::vector<RelayresSubbufRef> kept;  // the newest consecutive run, oldest first
  u64 record_count = 0;                 // records the walk keeps
  u64 first_seq = 0, last_seq = 0;      // of those records (when record_count)
  u64 stream_bytes = 0;                 // cpuN.bin's size: sum of round_up(len, 8)
  // The records themselves, only from the in-memory parse_relayres(span)
  // (tests, the fuzzer): a 64 MiB region holds over a million of them.
  std::vector<RelayresRecordRef> records;  // oldest first, seq strictly increasing
  u64 slots_valid = 0;      // sub-buffer headers that passed every check
  u64 slots_empty = 0;      // never opened (magic 0)
  u64 slots_stale = 0;      // another generation: a previous channel
  u64 slots_bad = 0;        // wrong magic/cpu/crc/commit: torn or damaged
  u64 subbufs_kept = 0;     // the newest run of consecutive sb_seq
  u64 first_sb_seq = 0, last_sb_seq = 0;  // of the kept run (when subbufs_kept)
  u64 subbufs_dropped = 0;  // valid but outside the newest consecutive run
  u64 torn = 0;             // sub-buffers whose record walk stopped early
  u64 gaps = 0;             // record sequence numbers missing inside the window
  u64 before_window = 0;    // records numbered before the first kept one (seq starts at 0)
  u64 padding_bytes = 0;    // subbuf_size - commit, summed over kept sub-buffers
  std::vector<std::string> warnings;
};

struct RelayresPrivateInfo {
  bool valid = false;  // the magic is right
  u32 consumed = 0;
  u64 generation = 0;
  u32 used = 0;
  std::string producer;
};

struct RelayresChannel {
  RelayresHeaderInfo header;
  std::vector<RelayresCpuStream> cpus;  // index = cpu
  u64 private_off = 0, private_size = 0;  // the private area, verbatim
  RelayresPrivateInfo priv;
  std::vector<std::string> warnings;  // channel-wide (private area, flags, clock)
  u64 total_records() const;
};

// Byte offset of relayres_private.consumed within the region, for marking
// a channel saved (agent/relayres-source.h writes it through /dev/mem).
u64 relayres_consumed_offset(const RelayresHeaderInfo& h);

// Validates the header only (magic, version, header_size, hdr_crc,
// region_phys, region_size, geometry). `read_phys` is where the bytes came
// from; `region.size()` must be the region size that was asked for.
Result<RelayresHeaderInfo> parse_relayres_header(std::span<const std::byte> region, u64 read_phys);

// The header page alone, as saved in a trace directory (header.bin): magic,
// version, header_size and hdr_crc are checked, the geometry is not (the
// region is not there to check it against).
Result<RelayresHeaderInfo> decode_relayres_header_page(std::span<const std::byte> page);

// The same from a ByteSource whose size() is the region size.
Result<RelayresHeaderInfo> parse_relayres_header(ByteSource& region, u64 read_phys);

// Validates the channel and walks every CPU's stream for its counts and
// warnings, one sub-buffer at a time. Fails only when the header is not a
// valid channel or a read fails; damage inside is in the warnings.
// `records` stays empty: for_each_cpu_record replays the walk.
Result<RelayresChannel> parse_relayres(ByteSource& region, u64 read_phys);
// In memory, with every CPU's `records` filled (tests, fuzzing, small
// regions).
Result<RelayresChannel> parse_relayres(std::span<const std::byte> region, u64 read_phys);

// A record and its frame (len bytes); the frame is valid during the call.
using RelayresRecordFn = std::function<Result<void>(const RelayresRecordRef&, std::span<const std::byte>)>;
// CPU `cpu`'s records oldest first, read again from `region` one
// sub-buffer at a time. `ch` must come from parse_relayres on the same
// bytes: a region that changed in between is an error, never a different
// stream.
Result<void> for_each_cpu_record(ByteSource& region, const RelayresChannel& ch, u32 cpu, const RelayresRecordFn& fn);
// Every CPU's records by (ts, cpu, seq), a k-way merge holding one
// sub-buffer per CPU.
Result<void> for_each_merged_record(ByteSource& region, const RelayresChannel& ch, const RelayresRecordFn& fn);

// In memory, from the records of parse_relayres(span): all CPUs' records
// in chronological order, by (ts, cpu, seq): a k-way merge of the per-CPU
// streams (each is already in seq order; a CPU whose
// clock steps backwards still keeps its own order in the merge).
std::vector<RelayresRecordRef> merge_relayres(const RelayresChannel& ch);
// The same order, one record at a time, without the vector (a 64 MiB
// region holds over a million records).
void for_each_merged(const RelayresChannel& ch, const std::function<void(const RelayresRecordRef&)>& fn);

inline std::span<const std::byte> relayres_record_bytes(std::span<const std::byte> region, const RelayresRecordRef& r) {
  return region.subspan(r.off, r.len);
}

// "sched_switch", "marker", ... or "type-0x8001".
std::string relayres_type_name(u16 type);

// One line for one record: wall time (from the header's anchors), cpu, seq,
// type name and the decoded payload of the demo producer's events.
std::string format_relayres_record(const RelayresHeaderInfo& h, std::span<const std::byte> frame);

// Text summary: the header, and per CPU the retained ranges, gaps, lost,
// overwritten and every warning.
std::string render_relayres_summary(const RelayresChannel& ch);

}  // namespace salvage

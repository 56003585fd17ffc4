// SPDX-License-Identifier: GPL-2.0-or-later
// The recovered flight-recorder trace as files (issue 5), and the small
// hooks that save them on every target. The files:
//   cpuN.bin     CPU N's framed records, oldest first (only CPUs with records)
//   merged.bin   every CPU's records by (ts, cpu, seq)
//   private.bin  the private area, verbatim
//   header.bin   the header page, verbatim (wall-clock anchors for `trace show`)
//   summary.txt  retained ranges, gaps, lost, overwritten, warnings
// Records keep the region's framing: each starts 8-byte aligned and is
// followed by zero padding to the next multiple of 8, so a reader walks a
// file by round_up(len, 8) exactly as it walks a sub-buffer.
//
// On a file-system target (and from `salvage save`) they are files in
// <dump dir>/trace/; in the raw-device container they are sections named
// "trace-<file>" of type kTrace, which `salvage save` copies back to
// trace/<file>; to the collector they are artifacts "trace/<file>". The trace goes after dmesg and before the dump: small and
// precious. A bad region never affects the dump: errors are said and the
// capture goes on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/log.h"
#include "agent/relayres-source.h"
#include "formats/byte-source.h"
#include "formats/container.h"
#include "formats/relayres.h"
#include "formats/sink.h"

namespace salvage {

struct TraceFile {
  std::string name;  // "cpu0.bin", "merged.bin", ...
  std::vector<std::byte> data;
};

// A recovered channel: its counts and retained sub-buffers, and the region
// to read the records from again for each target. The files themselves are
// never held: each target gets them streamed, one sub-buffer per CPU in
// memory, so a 64 MiB region costs a capture kernel well under 1 MiB.
struct RecoveredTrace {
  RelayresSpec spec;
  RelayresReadPaths paths;
  std::string via;  // where the region was read
  RelayresHeaderInfo header;
  u64 records = 0;
  bool was_consumed = false;  // the private area said consumed=1 already
  bool marked_consumed = false;
  RelayresChannel channel;              // no per-record vectors
  std::shared_ptr<ByteSource> region;   // read again per target
};

// Where the files go, one after another: open(name, size) gives the Sink
// written at consecutive offsets from 0, then close(complete).
class TraceTarget {
 public:
  virtual ~TraceTarget() = default;
  virtual Result<Sink*> open(const std::string& file, u64 size) = 0;
  virtual Result<void> close(bool complete) = 0;
};

// The file names in the order they are written.
std::vector<std::string> trace_file_names(const RelayresChannel& ch);

// Streams the files of a parsed channel, read again from `region`, to
// `out`: cpuN.bin (at most max_cpu_files of them), merged.bin, private.bin,
// header.bin, summary.txt. Returns the bytes written. A failed file is
// closed incomplete and ends the stream with its error.
struct TraceWriteStats {
  size_t files = 0;
  size_t skipped = 0;  // per-CPU files left out (max_cpu_files)
  u64 bytes = 0;
};
Result<TraceWriteStats> write_trace_files(ByteSource& region, const RelayresChannel& ch, const std::string& via,
                                          TraceTarget& out, size_t max_cpu_files = SIZE_MAX);

// In memory (tests, small regions): the same bytes as write_trace_files.
std::vector<TraceFile> trace_files_from(std::span<const std::byte> region, const RelayresChannel& ch,
                                        const std::string& via);

// Opens, validates and walks the region; the result reads it again per
// target.
Result<RecoveredTrace> recover_trace(const RelayresSpec& spec, const RelayresReadPaths& paths);

// The capture agent: the region named on `cmdline` (the capture kernel's,
// carried over by `salvage load`), read and rebuilt. nullptr when there is
// none or it cannot be used; the reason is said on the console.
std::shared_ptr<RecoveredTrace> recover_capture_trace(const std::string& cmdline, const RelayresReadPaths& paths);

// dir/trace/ (0700) with every file (0600, synced). Errors name the file.
Result<TraceWriteStats> write_trace_dir(const std::string& dir, const RecoveredTrace& t);

// Section name for a trace file and back ("" when not a trace section).
std::string trace_section_name(const std::string& file);
std::string trace_file_for_section(const std::string& section);
// Artifact name on the collector: "trace/<file>".
std::string trace_artifact_name(const std::string& file);

// Hooks for the targets; they say what happened and never fail the capture.
// After the first successful save the channel is marked consumed through
// /dev/mem, so the next boot's module starts a new generation.
void save_trace_to_dir(const std::string& out_dir, RecoveredTrace* t, const std::string& shown_dir);
void save_trace_to_container(ContainerWriter& w, RecoveredTrace* t);
// Named-artifact targets (the network collector): open(name) gives a Sink
// for "trace/<file>", close(sink, complete) ends it. Returns the bytes
// written (the caller's byte accounting), 0 when nothing was.
struct TraceArtifactTarget {
  std::function<Result<Sink*>(const std::string& name)> open;
  std::function<Result<void>(bool complete)> close;
};
u64 save_trace_as_artifacts(RecoveredTrace* t, const TraceArtifactTarget& target);

// `salvage save` at boot: a channel that survived a warm reset (no kexec)
// is read through /dev/mem at the region named on the running kernel's
// command line, written to <crash_root>/<host>/<time>/trace/ and marked
// consumed. Nothing happens without relayres=, for a channel already
// consumed, or for this boot's own live channel (same boot_id). Returns the
// directory written, or "" when there was nothing to save.
struct BootTracePaths {
  std::string cmdline = "/proc/cmdline";
  std::string boot_id = "/proc/sys/kernel/random/boot_id";
  std::string dev_mem = "/dev/mem";
};
Result<std::string> save_boot_trace_to(const std::string& crash_root, const BootTracePaths& paths, const Log& log);
// The same, problems logged as warnings: a trace never fails `salvage save`.
void save_boot_trace(const std::string& crash_root, const BootTracePaths& paths, const Log& log);

}  // namespace salvage

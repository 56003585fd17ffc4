// SPDX-License-Identifier: GPL-2.0-or-later
// The capture itself, once a target device is found: the dump container
// (formats/container.h) on a raw block device or partition, with a 'dmesg'
// section first (small and the most precious), then the filtered,
// compressed dump in a 'vmcore' section through the same pipeline as
// `salvage convert` (agent/convert.h), then a 'summary' section.
//
// File-system targets are agent/capture-fs.h.
// TODO(issue 3): writing pages in priority order
// (header/notes/VMCOREINFO, kernel pages, then user pages) so that a full
// target keeps what matters; the network target of a later issue.
#pragma once

#include <memory>
#include <string>

#include "agent/convert.h"
#include "formats/container.h"
#include "formats/dump-reader.h"

namespace salvage {

struct RecoveredTrace;  // agent/capture-trace.h

// Read once from /proc/vmcore, shared by every target tried.
struct CaptureSource {
  std::unique_ptr<ByteSource> file;
  std::unique_ptr<DumpReader> dump;
  std::unique_ptr<PreparedDump> prepared;
  ContainerInfo info;       // header identity: release, host, BUILD-ID, panic string, times
  std::string dmesg;        // the decoded kernel log ("" if it could not be decoded)
  std::string dmesg_error;  // why not
  double prepare_seconds = 0;
  std::shared_ptr<RecoveredTrace> trace;  // the flight recorder's files, or null (issue 5)
};

Result<std::unique_ptr<CaptureSource>> open_capture_source(const std::string& vmcore, int dump_level, const Log& log);

struct CaptureResult {
  bool complete = false;
  std::string incomplete_reason;
  WriteStats stats;
  u64 dmesg_bytes = 0, dump_bytes = 0;
  double seconds = 0;  // dmesg + dump + summary on this target
  std::string summary;  // the text of the 'summary' section
};

// Writes the container onto `device`. An error means nothing useful was
// written (the next target should be tried); a dump cut short (a full
// device) is a success with complete = false.
Result<CaptureResult> capture_to_device(const std::string& device, const std::string& target_name, CaptureSource& src,
                                        const ConvertSettings& settings, const Log& log);

// The summary section's text: what was kept and excluded, by class, bytes, seconds.
std::string render_capture_summary(const CaptureSource& src, const CaptureResult& r, const std::string& device,
                                   const std::string& target_name, const ConvertSettings& settings);

}  // namespace salvage

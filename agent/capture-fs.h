// SPDX-License-Identifier: GPL-2.0-or-later
// The capture agent's file-system target (issue 3): the target device is
// mounted (ext4 or xfs, the type probed by libblkid) and the capture goes
// to <dir>/<host>/<time>/ on it, as the files `salvage save` would write:
//   dmesg.txt    first: small and the most precious, synced;
//   vmcore       written as vmcore-incomplete through the `salvage convert`
//                pipeline, synced, then renamed (and the directory synced),
//                so a file called vmcore is always whole;
//   summary.txt  the capture summary (agent/capture-write.h) and the crash
//                command line.
// Files are 0600, the new directories 0700. A file system that fills up
// keeps vmcore-incomplete (crash opens what is there: the dump writer marks
// it incomplete) and the agent tries the next target.
#pragma once

#include <string>
#include <string_view>

#include "agent/capture-config.h"
#include "agent/capture-write.h"
#include "formats/types.h"

namespace salvage {

// <host> component: the crashed kernel's node name with '/', blanks,
// control and non-ASCII bytes replaced by '_'; "", ".", ".." and the
// kernel's unset default "(none)" (include/linux/uts.h UTS_NODENAME)
// become "unknown-host". At most 64 bytes (__NEW_UTS_LEN).
std::string fs_host_component(std::string_view hostname);

// <time> component: UTC "YYYYmmdd-HHMMSS", the same names `salvage save`
// gives its directories, so both sort by time.
std::string fs_time_component(i64 unix_time);

// The type to pass to mount(2) for what libblkid calls `blkid_type`:
// "ext2"/"ext3"/"ext4" -> "ext4" (the ext4 driver mounts all three, and it
// is the one a Debian kernel has), "xfs" -> "xfs"; anything else an error
// naming the type.
Result<std::string> mount_type_for(std::string_view blkid_type);

// mkdir -p `root` + `dir` (each missing component 0700), then
// <host>/ (0700 if new) and a new <time>/ (0700; ".1", ".2"... if that
// time exists already: a directory is never reused). Returns the path of
// the new <time> directory.
Result<std::string> make_capture_dir(const std::string& root, const std::string& dir, std::string_view host,
                                     i64 unix_time);

// What was written into one capture directory.
struct FsCaptureResult {
  CaptureResult capture;       // complete, stats, bytes, seconds, summary text
  std::string dir;             // the <time> directory
  std::string vmcore_path;     // .../vmcore, or .../vmcore-incomplete when cut short
};

// Writes dmesg.txt, vmcore (via vmcore-incomplete) and summary.txt into the
// existing directory `out_dir`; `mount_root` (a prefix of out_dir, "" for
// none) is left out of the paths the summary and console show, which are
// then as seen inside the file system. An error means the dump could not even be
// started (the next target should be tried); a dump cut short (a full file
// system) is a result with capture.complete = false and vmcore-incomplete
// left in place.
Result<FsCaptureResult> write_capture_files(const std::string& out_dir, const std::string& device,
                                            const std::string& target_name, CaptureSource& src,
                                            const ConvertSettings& settings, const Log& log,
                                            const std::string& mount_root = "");

// The whole target: probe the type of `device`, mount it on a fresh
// directory under /mnt, make_capture_dir(t.dir), write_capture_files,
// unmount. Errors name the step.
Result<FsCaptureResult> capture_to_file_system(const std::string& device, const TargetSpec& t, CaptureSource& src,
                                               const ConvertSettings& settings, const Log& log);

}  // namespace salvage

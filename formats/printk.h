// SPDX-License-Identifier: GPL-2.0-or-later
// The crashed kernel's log, decoded from its memory.
//
// Two layouts, both found through VMCOREINFO only (never a hard-coded offset):
//  * the lockless printk ringbuffer of Linux 5.10+ (kernel/printk/
//    printk_ringbuffer.h): a descriptor ring (prb_desc + printk_info arrays)
//    indexing a text data ring of [id][text] blocks;
//  * the variable-length printk_log records of Linux 3.5 to 5.9 (log_buf).
// The text format is that of makedumpfile 1.7.2 `--dump-dmesg` (printk.c
// dump_record and makedumpfile.c dump_log_entry), byte for byte.
//
// This file makes no I/O choice: memory comes through a VirtReader, so the
// decoder runs unchanged on a dump, on a live kernel, or on a synthetic ring
// in a unit test. Every loop is bounded by the ring size, so a corrupt ring
// yields a shorter log and warnings, never a hang.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "formats/result.h"
#include "formats/types.h"
#include "formats/vmcoreinfo.h"

namespace salvage {

// Reads out.size() bytes of the crashed kernel's memory at a virtual address.
// An error must name what failed (the address, the page state).
using VirtReader = std::function<Result<void>(VirtAddr, std::span<std::byte>)>;

struct DmesgOptions {
  // Start at clear_seq / clear_idx (what `dmesg -c` left), like
  // makedumpfile --partial-dmesg.
  bool partial = false;
  // Print the caller column "[    T123] " as makedumpfile >= 1.7.5 does when
  // OFFSET(printk_info.caller_id) exists. Off by default: 1.7.2 does not.
  bool caller_id = false;
};

struct DmesgLog {
  std::string text;                   // the formatted log
  std::string layout;                 // "printk_ringbuffer" or "printk_log"
  u64 records = 0;                    // records printed
  std::vector<std::string> warnings;  // corruption that was skipped over
};

// Decodes the log. Fails (naming the VMCOREINFO key or the address) when the
// log cannot be located or its arrays cannot be read at all; damage inside
// the rings is skipped and reported in warnings.
Result<DmesgLog> extract_dmesg(const Vmcoreinfo& vi, const VirtReader& read, const DmesgOptions& opt = {});

// Appends one record as makedumpfile prints it: "[%5llu.%06lu] ", the
// optional caller column, the text with each '\n' followed by an indent as
// wide as the prefix and non-printable bytes as "\x%02x" of a signed char
// (so 0xe2 prints as "\xffffffe2", as makedumpfile does), then '\n'.
void format_record(std::string& out, u64 ts_nsec, std::optional<u32> caller_id, std::span<const std::byte> text);

}  // namespace salvage

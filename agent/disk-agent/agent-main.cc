// SPDX-License-Identifier: GPL-2.0-or-later
// main() of the embedded disk-only capture agent (agent/disk-agent.h).
//
// Why a main of its own: this binary only ever runs as the capture kernel's
// /init. Without the subcommand table, --gc-sections drops convert, info,
// save, load, mkinitramfs, trace and the dump readers they pull in, and the
// capture kernel holds the unpacked initramfs inside crashkernel=: at 64M
// every MiB decides whether the capture kernel boots at all (docs/bench.md).
#include <cstdio>
#include <cstring>

#include "agent/capture-agent.h"

int main(int argc, char** argv) {
  if (salvage::is_capture_agent(argc, argv)) salvage::run_capture_agent();
  const bool help = argc > 1 && (!std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help"));
  std::fprintf(help ? stdout : stderr,
               "salvage capture agent (disk and file-system targets only): runs as the capture kernel's /init.\n"
               "Every command (mkinitramfs, load, save, ...) is in the full salvage binary.\n");
  return help ? 0 : 2;
}

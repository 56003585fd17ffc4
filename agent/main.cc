// SPDX-License-Identifier: GPL-2.0-or-later
// salvage: one static multi-call binary. The subcommand is argv[1], or the
// program name itself (a link named salvage-dmesg, say).
#include <cstdio>
#include <cstring>
#include <string_view>

#include "agent/capture-agent.h"
#include "agent/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* help;
};

[[maybe_unused]] int not_yet(int, char** argv) {
  std::fprintf(stderr, "salvage %s: not implemented yet in this build\n", argv[0]);
  return 2;
}

constexpr Command kCommands[] = {
    {"convert", salvage::cmd_convert, "filter and write a dump: convert [-d LEVEL] [-c|-l|-p|-z] [-E] [-F] [--lkcd] VMCORE OUT"},
    {"dmesg", salvage::cmd_dmesg, "print the crashed kernel's log from any dump salvage reads"},
    {"info", salvage::cmd_info, "describe a dump and print the crash command line that opens it"},
    {"load", salvage::cmd_load, "arm the capture kernel: load [--kernel K] [--initrd I] [--append ARGS] [--dry-run] [--unload]"},
    {"status", salvage::cmd_status, "show whether capture is armed, with what, and whether it is current"},
    {"test", salvage::cmd_test, "dry-run check: initramfs, targets, room, reserved memory (no crash)"},
    {"mkinitramfs", salvage::cmd_mkinitramfs, "build the capture initramfs: mkinitramfs --target SPEC [--add-module M] --output FILE"},
    {"save", salvage::cmd_save, "save a pending dump from the raw dump device: save [--device DEV] [--crash-dir DIR] [--format F]"},
    {"collector", salvage::cmd_collector, "receive dumps over the network: collector [--listen A:P] [--root DIR] | collector enroll HOST --out B"},
    {"trace", salvage::cmd_trace, "flight recorder: trace show|extract|check FILE|DIR|--region SIZE@ADDR"},
};

void usage(std::FILE* f) {
  std::fprintf(f, "usage: salvage COMMAND [ARGS]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(f, "  %-12s %s\n", c.name, c.help);
}

}  // namespace

int main(int argc, char** argv) {
  // As the capture kernel's /init, salvage is the capture agent (never returns).
  if (salvage::is_capture_agent(argc, argv)) salvage::run_capture_agent();
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCommands)
    if (std::string_view(argv[1]) == c.name) return c.run(argc - 1, argv + 1);
  std::fprintf(stderr, "salvage: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}

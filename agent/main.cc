// SPDX-License-Identifier: GPL-2.0-or-later
// salvage: one static multi-call binary. The subcommand is argv[1], or the
// program name itself (a link named salvage-dmesg, say).
#include <cstdio>
#include <cstring>
#include <string_view>

#include "agent/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* help;
};

int not_yet(int, char** argv) {
  std::fprintf(stderr, "salvage %s: not implemented yet in this build\n", argv[0]);
  return 2;
}

constexpr Command kCommands[] = {
    {"convert", salvage::cmd_convert, "filter and write a dump: convert [-d LEVEL] [-c|-l|-p|-z] [-E] [-F] [--lkcd] VMCORE OUT"},
    {"dmesg", salvage::cmd_dmesg, "print the crashed kernel's log from any dump salvage reads"},
    {"info", salvage::cmd_info, "describe a dump and print the crash command line that opens it"},
    {"load", not_yet, "arm the capture kernel (kexec_file_load)"},
    {"status", not_yet, "show whether capture is armed"},
    {"test", not_yet, "dry-run the capture configuration"},
    {"mkinitramfs", not_yet, "build the capture initramfs"},
    {"save", not_yet, "save a dump from the dump device after reboot"},
    {"collector", not_yet, "receive dumps over the network"},
    {"trace", not_yet, "recover and show flight-recorder traces"},
};

void usage(std::FILE* f) {
  std::fprintf(f, "usage: salvage COMMAND [ARGS]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(f, "  %-12s %s\n", c.name, c.help);
}

}  // namespace

int main(int argc, char** argv) {
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

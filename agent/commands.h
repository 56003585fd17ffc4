// SPDX-License-Identifier: GPL-2.0-or-later
// Entry points of the subcommands. Each takes its own argv (argv[0] is the
// subcommand name) and returns the process exit status.
#pragma once

namespace salvage {

int cmd_info(int argc, char** argv);
int cmd_dmesg(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_save(int argc, char** argv);
int cmd_mkinitramfs(int argc, char** argv);
int cmd_load(int argc, char** argv);
int cmd_status(int argc, char** argv);
int cmd_test(int argc, char** argv);
int cmd_collector(int argc, char** argv);
int cmd_trace(int argc, char** argv);

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// Small file helpers shared by mkinitramfs, save and the capture agent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

// Reads a whole (small) file into memory: configs, modules.dep, kernel
// modules, the salvage binary. max_size stops a corrupt or endless input
// (a device node, a bad stream) from eating the capture kernel's memory.
Result<std::string> read_file(const std::string& path, size_t max_size = SIZE_MAX);

// fsync a file or a directory by path (a rename is durable only once its
// directory is synced).
Result<void> fsync_path(const std::string& path);

// Size of an open file or block device (whose st_size is 0), and whether
// it is a regular file.
struct FdInfo {
  u64 size = 0;
  bool regular = false;
};
Result<FdInfo> stat_fd(int fd, const std::string& path);

// mkdir with mode 0700; an existing directory is fine (its mode is left).
Result<void> make_dir_0700(const std::string& path);

}  // namespace salvage

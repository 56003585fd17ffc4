// SPDX-License-Identifier: GPL-2.0-or-later
// Which kernel modules a capture initramfs needs, in load order. Names come
// from the target's block device (sysfs driver links) and the command line;
// dependencies from the kernel's modules.dep, or, where that file is missing,
// from each module's own .modinfo "depends=" field. We parse both ourselves:
// Debian's libkmod ships no static library.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "formats/result.h"

namespace salvage {

// "virtio-pci" and "virtio_pci" are the same module (kmod's rule); the
// canonical form uses '_'. A path or file name is reduced to its module name.
std::string module_name(std::string_view name_or_path);

// Every key=value of an ELF .ko's .modinfo section, in order (keys repeat).
using ModInfo = std::vector<std::pair<std::string, std::string>>;
Result<ModInfo> read_modinfo(std::string_view elf_bytes);
std::vector<std::string> modinfo_values(const ModInfo& mi, std::string_view key);

// A module file's contents, decompressed by its suffix (.ko, .ko.xz,
// .ko.zst, .ko.gz). finit_module on 6.1 takes compressed modules only with
// CONFIG_MODULE_DECOMPRESS, and the initramfs is compressed anyway.
Result<std::string> read_module_file(const std::string& path);

class ModuleIndex {
 public:
  // dir is /lib/modules/<kver> or a copy of it. Reads modules.dep and
  // modules.builtin when present; without modules.dep, indexes the tree's
  // *.ko* files and takes dependencies from their .modinfo.
  static Result<ModuleIndex> open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  bool has_modules_dep() const { return has_dep_; }
  bool has_builtin_list() const { return has_builtin_; }
  bool builtin(std::string_view name) const { return builtin_.count(module_name(name)) != 0; }
  // Path relative to dir() ("kernel/drivers/block/virtio_blk.ko"), or null.
  const std::string* find(std::string_view name) const;
  // Direct or transitive dependencies by name (modules.dep lists the whole
  // closure; .modinfo the direct ones). Either works for the ordering below.
  Result<std::vector<std::string>> depends(std::string_view name) const;

 private:
  std::string dir_;
  bool has_dep_ = false, has_builtin_ = false;
  std::map<std::string, std::string> path_;               // name -> relative path
  std::map<std::string, std::vector<std::string>> deps_;  // from modules.dep
  std::set<std::string> builtin_;
};

struct ModuleRequest {
  std::string name;
  std::string why;        // "--add-module", "driver of vdb", "ext4 for fs:LABEL=x:/d"
  bool optional = false;  // missing: warn and go on, instead of failing
};

struct ResolvedModules {
  struct Module {
    std::string name;
    std::string path;  // relative to the index's dir
  };
  std::vector<Module> load_order;      // dependencies before their users
  std::vector<std::string> builtin;    // requested but built into the kernel
  std::vector<std::string> warnings;   // optional modules that were not found
};

// Depth-first, dependencies first, each module once, first-request order
// otherwise. A dependency cycle or a missing required module is an error
// naming the chain that led to it.
Result<ResolvedModules> resolve_modules(const ModuleIndex& index, const std::vector<ModuleRequest>& requests);

// The modules that drive a block device, from sysfs: the device's own driver
// and those of its parents (virtio_blk on virtio2, virtio_pci on the PCI
// function...). A partition is traced through its disk. Built-in drivers have
// no driver/module link and are skipped. sysfs_root is "/sys" except in tests.
Result<std::vector<std::string>> block_device_modules(const std::string& sysfs_root, const std::string& devname);

// The loadable driver modules of a sysfs device directory
// (<sysfs>/class/<class>/<name>) and of every parent device up to the root,
// bus drivers first. Built-in drivers have no module link and are skipped.
Result<std::vector<std::string>> device_driver_modules(const std::string& sysfs_root, const std::string& device_dir);

}  // namespace salvage

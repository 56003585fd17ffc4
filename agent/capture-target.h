// SPDX-License-Identifier: GPL-2.0-or-later
// Finding the dump target's block device in the capture kernel, where there
// is no udev and so no /dev/disk/by-* links: every device in
// /sys/class/block is probed with libblkid until one matches, polling until
// a deadline because drivers probe disks asynchronously.
//
// LABEL= matches a file-system label first, then a GPT partition name
// (PARTLABEL). A raw dump partition has no file system, so the partition
// name is the only label it can carry, and unlike a file-system label it
// survives the dump being written into the partition (the GPT lives outside
// it). `sfdisk`/`sgdisk` set it; docs/formats/initramfs.md says so.
#pragma once

#include <string>

#include "agent/capture-config.h"
#include "formats/result.h"

namespace salvage {

// What libblkid says about one block device; empty when absent.
struct BlockIds {
  std::string label;      // file-system LABEL
  std::string uuid;       // file-system UUID
  std::string partuuid;   // PART_ENTRY_UUID (GPT or MBR "xxxxxxxx-NN")
  std::string partlabel;  // PART_ENTRY_NAME (GPT partition name)
};

// Whether `ids` (of device `dev`, "/dev/vda1") is the target. UUIDs compare
// case-insensitively; labels exactly.
bool target_matches(const TargetSpec& t, const std::string& dev, const BlockIds& ids);

// Probes one device. Errors name the device.
Result<BlockIds> probe_block_ids(const std::string& dev);

// Polls every 200 ms until `t`'s device appears or `wait_s` seconds pass.
// Returns the /dev path. The error says what was seen (the devices and
// their labels), so a wrong label is obvious on the console.
Result<std::string> wait_for_target(const TargetSpec& t, double wait_s);

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// The disk-only capture agent embedded in salvage.
//
// Why: static OpenSSL (TLS 1.3 for the network target) is ~4 MiB of the
// binary, and a capture kernel holds its unpacked initramfs inside the
// crashkernel= reservation. An initramfs whose targets are all disks or
// file systems does not need TLS, so `make` also links salvage without the
// network target and the collector (agent/disk-agent/net-absent.cc stands
// in for them), and embeds that binary, zstd-compressed, in salvage
// itself: users still install one binary, and `salvage mkinitramfs` puts
// the small agent in the image when no target is `net`.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "formats/result.h"

namespace salvage {

// The embedded agent, zstd-compressed; empty in builds that carry none
// (the disk agent itself, the unit tests).
std::span<const std::byte> embedded_disk_agent();

// Decompresses it. Errors say what is wrong with the embedded copy.
Result<std::string> disk_agent_binary();

}  // namespace salvage

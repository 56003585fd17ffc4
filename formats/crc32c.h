// SPDX-License-Identifier: GPL-2.0-or-later
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and
// btrfs use it. Debian 12 ships no C/C++ library for it (no libcrc32c-dev;
// only python3-crc32c), so this is our own small implementation: the SSE4.2
// crc32 instruction when the CPU has it (checked at run time: the capture
// kernel may run on anything x86_64), else slicing-by-8 tables.
#pragma once

#include <cstddef>
#include <span>

#include "formats/types.h"

namespace salvage {

// Continues a CRC: crc32c(b, crc32c(a)) == crc32c(a ++ b). Start with 0.
u32 crc32c(std::span<const std::byte> data, u32 crc = 0);
// The portable path alone (tests compare both paths).
u32 crc32c_portable(std::span<const std::byte> data, u32 crc = 0);

}  // namespace salvage

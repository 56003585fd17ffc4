// SPDX-License-Identifier: GPL-2.0-or-later
// Memory arithmetic for arming: the crashkernel= syntax, the size to
// suggest when nothing is reserved, how much reservation a capture kernel
// and initramfs need, and how big a dump will be. Pure functions; the
// numbers and their sources are in docs/arming.md.
#pragma once

#include <string>
#include <string_view>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

// memparse() (lib/cmdline.c): "256M", "2G", "1024" -> bytes.
Result<u64> parse_mem_size(std::string_view s);

// The size a crashkernel= value reserves on a machine with `system_ram`
// bytes, as parse_crashkernel_mem() does (kernel/crash_core.c, Linux 6.1):
// "256M", "256M@16M", "1G-4G:192M,4G-:256M", ",high"/",low" suffixes.
// A range list matching no range reserves 0.
Result<u64> crashkernel_size(std::string_view value, u64 system_ram);

// The range list salvage suggests. It is kdump-utils' x86_64 default
// (kdump-lib.sh kdump_get_arch_recommend_crashkernel, 2026-03) so a machine
// that already follows Fedora/RHEL needs no change; salvage itself needs
// less (docs/bench.md measures the smallest working size).
inline constexpr std::string_view kSuggestedCrashkernel = "1G-4G:192M,4G-64G:256M,64G-:512M";

// "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M (reserves 256 MiB on this
// machine's 8 GiB)" plus how to set it with GRUB, for error messages.
std::string crashkernel_advice(u64 system_ram);

// The fields of /proc/meminfo salvage uses, in bytes.
struct MemInfo {
  u64 total = 0, free = 0, buffers = 0, cached = 0, anon = 0, shmem = 0;
};
Result<MemInfo> parse_meminfo(std::string_view text);

// Estimated dump size. Starts from MemTotal and removes what the dump level
// excludes (makedumpfile -d bits: 2|4 page cache = Buffers + Cached - Shmem,
// 8 user pages = AnonPages, 16 free = MemFree; zero pages (1) are not
// counted in /proc/meminfo and are left in, so the estimate errs high), then
// scales by a conservative compressed/raw ratio for the codec.
struct DumpEstimate {
  u64 raw_bytes = 0;   // pages kept, uncompressed
  u64 bytes = 0;       // after compression, plus 1% for headers/bitmaps
  double ratio = 1.0;  // compressed/raw assumed
};
DumpEstimate estimate_dump(const MemInfo& m, int dump_level, std::string_view codec);

// Reservation a capture needs: the kernel's init_size (bzImage boot header,
// the memory it decompresses into and runs in) + the compressed initramfs
// (loaded) + its unpacked size (the rootfs tmpfs holds it) + a runtime
// floor for the kernel's own allocations and salvage's buffers + salvage's
// two page bitmaps (one bit per page of the crashed kernel's RAM each,
// `system_ram_bytes`; 0 leaves them out).
//
// The floor is measured, not kdumpctl's 64 MiB (sized for dracut's
// userspace): in the lab (Debian 6.1 cloud kernel, virtio disk) the
// smallest crashkernel= at which salvage's capture completes is 64M, with
// init_size 51.5 MiB + 1.5 + 3.9 MiB of initramfs; this floor puts the
// estimate at 63 MiB there (docs/bench.md, docs/arming.md). Machines with
// more drivers in the capture kernel need more.
inline constexpr u64 kCaptureRuntimeFloor = 6ull << 20;
u64 reservation_needed(u64 kernel_init_size, u64 initrd_bytes, u64 initrd_unpacked_bytes, u64 system_ram_bytes);

// "256 MiB", "1.5 GiB": for messages.
std::string human_bytes(u64 bytes);

}  // namespace salvage

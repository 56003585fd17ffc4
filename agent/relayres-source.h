// SPDX-License-Identifier: GPL-2.0-or-later
// Finding and reading the flight recorder's region (issue 5).
//
// The region is named on the kernel command line as `relayres=SIZE@ADDR`
// (the patch series) or `<module>.relayres=SIZE@ADDR` (the flightrec
// module; `salvage load` carries both over to the capture kernel, see
// agent/cmdline.cc keeps_relay). In the capture kernel it is read through
// /proc/vmcore when a PT_LOAD covers it, else through /dev/mem: a
// memmap=SIZE$ADDR region is E820 "reserved", which the elfcorehdr leaves
// out (only System RAM is dumped) but kexec passes on to the capture
// kernel as reserved, so /dev/mem may read it (x86 devmem_is_allowed
// refuses only System RAM and busy resources, Linux 6.1 arch/x86/mm/init.c).
// After a warm reset `salvage save` reads it through /dev/mem the same way;
// the module leaves an unsaved channel unclaimed so CONFIG_IO_STRICT_DEVMEM
// does not block it (docs/relayres.md).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/byte-source.h"
#include "formats/relayres.h"
#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

struct RelayresSpec {
  u64 size = 0;
  u64 phys = 0;
  std::string param;  // the parameter it came from ("flightrec.relayres"), or "--region"
  std::string to_string() const;  // "1M@0x5000000"-like: SIZE@0xADDR
};

// "1M@0x5000000", "4096K@83886080", "1G@0x100000000". SIZE and ADDR take
// K/M/G suffixes (memparse); both must be page multiples and non-zero size.
Result<RelayresSpec> parse_relayres_spec(std::string_view value);

// The region named on a kernel command line: the last relayres= or
// <module>.relayres= word (the kernel lets a later word win). nullopt when
// there is none; an error when the value does not parse.
Result<std::optional<RelayresSpec>> relayres_from_cmdline(std::string_view cmdline);

struct RelayresReadPaths {
  std::string vmcore = "/proc/vmcore";  // "" or missing: not a capture kernel
  std::string dev_mem = "/dev/mem";
};

// The region as a ByteSource (offset 0 = its first byte), reading through
// the vmcore's PT_LOADs or /dev/mem on demand: the reader holds one
// sub-buffer at a time, never the whole region.
struct RegionReader {
  std::unique_ptr<ByteSource> src;
  std::string via;  // "/proc/vmcore (PT_LOAD 3)" or "/dev/mem"
};

// Opens the region: through the vmcore when PT_LOADs cover it entirely,
// else through dev_mem at the physical address (its first page is read
// here, so an address outside memory fails now, with a message naming
// both paths).
Result<RegionReader> open_relayres_region(const RelayresSpec& spec, const RelayresReadPaths& paths);

struct RegionBytes {
  std::vector<std::byte> bytes;
  std::string via;  // "/proc/vmcore (PT_LOAD 3)" or "/dev/mem"
};

// Reads the whole region into memory (tests, small regions): as
// open_relayres_region, then every byte.
Result<RegionBytes> read_relayres_region(const RelayresSpec& spec, const RelayresReadPaths& paths);

// Writes relayres_private.consumed = 1 through dev_mem, so the next load of
// the module starts a new generation. Only after the trace is saved.
Result<void> mark_relayres_consumed(const RelayresSpec& spec, const RelayresHeaderInfo& h, const std::string& dev_mem);

}  // namespace salvage

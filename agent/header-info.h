// SPDX-License-Identifier: GPL-2.0-or-later
// Gathers what a dump header says about the crashed system: utsname,
// crash time, KASLR offset, phys_base, CPU registers, panic task.
#pragma once

#include "agent/kernel-memory.h"
#include "formats/dump-writer.h"

namespace salvage {

// Fills the identity fields of info from the notes, VMCOREINFO and memory.
// Missing pieces are left at their defaults and listed in `degradations`.
void fill_header_identity(DumpHeaderInfo& info, const DumpIdentity& id, KernelMemory* mem,
                          std::vector<std::string>& degradations);

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
// ELF note parsing for vmcores: NT_PRSTATUS per CPU ("CORE", type 1) and the
// VMCOREINFO note ("VMCOREINFO", type 0). The note section is copied verbatim
// into every format salvage writes, so one parser serves all readers.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

struct ElfNote {
  std::string name;  // without the trailing NUL
  u32 type = 0;
  u64 offset = 0;       // offset of the note header within the note buffer
  u64 desc_offset = 0;  // offset of the descriptor within the note buffer
  u64 desc_size = 0;
};

inline constexpr u32 kNtPrstatus = 1;
inline constexpr u64 kPrstatusSize = 336;        // struct elf_prstatus, x86_64
inline constexpr u64 kPrstatusRegOffset = 112;  // pr_reg
inline constexpr u64 kPrstatusPidOffset = 32;   // pr_pid
inline constexpr size_t kPrstatusNumRegs = 27;

// x86_64 user_regs_struct order, as in pr_reg.
enum X86Reg : size_t {
  kR15, kR14, kR13, kR12, kRbp, kRbx, kR11, kR10, kR9, kR8, kRax, kRcx, kRdx, kRsi, kRdi,
  kOrigRax, kRip, kCs, kEflags, kRsp, kSs, kFsBase, kGsBase, kDs, kEs, kFs, kGs
};

struct Prstatus {
  i32 pid = 0;
  std::array<u64, kPrstatusNumRegs> regs{};
};

// Walks the notes. A note whose sizes run past the buffer is an error naming
// its offset; trailing zero padding (n_namesz == 0) ends the walk, as in
// fs/proc/vmcore.c.
Result<std::vector<ElfNote>> parse_elf_notes(std::span<const std::byte> notes);

// The VMCOREINFO descriptor text, if present (name "VMCOREINFO", type 0).
std::optional<ElfNote> find_vmcoreinfo_note(const std::vector<ElfNote>& notes);

// PRSTATUS of each CPU in note order.
Result<std::vector<Prstatus>> parse_prstatus(std::span<const std::byte> notes,
                                             const std::vector<ElfNote>& parsed);

// Builds one note (name, type, desc) with 4-byte padding.
std::vector<std::byte> make_elf_note(std::string_view name, u32 type, std::span<const std::byte> desc);

}  // namespace salvage

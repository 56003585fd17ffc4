// SPDX-License-Identifier: GPL-2.0-or-later
// The reader table: the only place that knows which formats exist.
#include "formats/dump-reader.h"

#include <cstring>

#include "formats/elf-vmcore.h"
#include "formats/format-table.h"

namespace salvage {

const char* page_state_name(PageState s) {
  switch (s) {
    case PageState::kData: return "data";
    case PageState::kZero: return "zero";
    case PageState::kExcluded: return "excluded";
    case PageState::kHole: return "hole";
    case PageState::kMissing: return "missing";
  }
  return "?";
}

Result<DumpIdentity> identify(std::span<const std::byte> notes) {
  DumpIdentity id;
  ASSIGN_OR_RETURN(id.notes, parse_elf_notes(notes));
  if (auto vi = find_vmcoreinfo_note(id.notes)) {
    std::string_view text(reinterpret_cast<const char*>(notes.data() + vi->desc_offset), vi->desc_size);
    id.vmcoreinfo = Vmcoreinfo::parse(text);
  }
  ASSIGN_OR_RETURN(id.cpus, parse_prstatus(notes, id.notes));
  return id;
}

namespace {

using OpenFn = Result<std::unique_ptr<DumpReader>> (*)(ByteSource&);

struct FormatEntry {
  const char* name;
  const char* magic;
  size_t magic_len;
  OpenFn open;
};

// Signatures: ELF e_ident; kdump "KDUMP   " (disk_dump_header.signature);
// flattened "makedumpfile\0..." (makedumpfile.h MAKEDUMPFILE_SIGNATURE);
// LKCD DUMP_MAGIC_NUMBER 0xa8190173618f23ed as a little-endian u64.
constexpr FormatEntry kFormats[] = {
    {"elf", "\x7f" "ELF", 4, &open_elf_reader},
    {"kdump", "KDUMP   ", 8, &open_kdump_reader},
    {"flattened", "makedumpfile\0\0\0\0", 16, &open_flattened_reader},
    {"lkcd", "\xed\x23\x8f\x61\x73\x01\x19\xa8", 8, &open_lkcd_reader},
};

}  // namespace

Result<std::unique_ptr<DumpReader>> open_elf_reader(ByteSource& src) {
  ASSIGN_OR_RETURN(auto r, ElfVmcoreReader::open(src));
  return std::unique_ptr<DumpReader>(std::move(r));
}

Result<std::unique_ptr<DumpReader>> open_dump(ByteSource& src) {
  std::byte head[16] = {};
  u64 n = std::min<u64>(sizeof head, src.size());
  TRY_CTX(src.read_at(FileOffset(0), std::span<std::byte>(head, n)), "reading signature");
  for (const auto& f : kFormats) {
    if (n >= f.magic_len && std::memcmp(head, f.magic, f.magic_len) == 0)
      return std::move(f.open(src)).context(src.name() + " (" + f.name + ")");
  }
  return make_error(src.name() + ": unknown dump format (no ELF, KDUMP, flattened or LKCD signature at offset 0)");
}

}  // namespace salvage

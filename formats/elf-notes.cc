// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/elf-notes.h"

#include <cstdio>
#include <cstring>

#include "formats/endian.h"

namespace salvage {

static std::string at(u64 off) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(off));
  return buf;
}

Result<std::vector<ElfNote>> parse_elf_notes(std::span<const std::byte> notes) {
  std::vector<ElfNote> out;
  u64 off = 0;
  const u64 size = notes.size();
  while (off + 12 <= size) {
    const std::byte* p = notes.data() + off;
    u32 namesz = load_le<u32>(p);
    u32 descsz = load_le<u32>(p + 4);
    u32 type = load_le<u32>(p + 8);
    if (namesz == 0) break;  // padding after the last note
    u64 name_off = off + 12;
    u64 desc_off = name_off + round_up(namesz, 4);
    u64 next = desc_off + round_up(descsz, 4);
    if (desc_off > size || next > size || next < off)
      return make_error("ELF note at offset " + at(off) + ": n_namesz=" + std::to_string(namesz) +
                        " n_descsz=" + std::to_string(descsz) + " run past the note section (size " +
                        at(size) + ")");
    ElfNote n;
    const char* name = reinterpret_cast<const char*>(notes.data() + name_off);
    n.name.assign(name, strnlen(name, namesz));
    n.type = type;
    n.offset = off;
    n.desc_offset = desc_off;
    n.desc_size = descsz;
    out.push_back(std::move(n));
    off = next;
  }
  return out;
}

std::optional<ElfNote> find_vmcoreinfo_note(const std::vector<ElfNote>& notes) {
  for (const auto& n : notes)
    if (n.name == "VMCOREINFO" && n.type == 0) return n;
  return std::nullopt;
}

Result<std::vector<Prstatus>> parse_prstatus(std::span<const std::byte> notes,
                                             const std::vector<ElfNote>& parsed) {
  std::vector<Prstatus> out;
  for (const auto& n : parsed) {
    if (n.name != "CORE" || n.type != kNtPrstatus) continue;
    if (n.desc_size < kPrstatusRegOffset + kPrstatusNumRegs * 8)
      return make_error("NT_PRSTATUS note at offset " + at(n.offset) + ": n_descsz=" +
                        std::to_string(n.desc_size) + " is smaller than struct elf_prstatus (" +
                        std::to_string(kPrstatusSize) + ")");
    Prstatus ps;
    const std::byte* d = notes.data() + n.desc_offset;
    ps.pid = load_le<i32>(d + kPrstatusPidOffset);
    for (size_t i = 0; i < kPrstatusNumRegs; ++i) ps.regs[i] = load_le<u64>(d + kPrstatusRegOffset + 8 * i);
    out.push_back(ps);
  }
  return out;
}

std::vector<std::byte> make_elf_note(std::string_view name, u32 type, std::span<const std::byte> desc) {
  u32 namesz = static_cast<u32>(name.size() + 1);
  std::vector<std::byte> out(12 + round_up(namesz, 4) + round_up(desc.size(), 4));
  store_le<u32>(out.data(), namesz);
  store_le<u32>(out.data() + 4, static_cast<u32>(desc.size()));
  store_le<u32>(out.data() + 8, type);
  std::memcpy(out.data() + 12, name.data(), name.size());
  if (!desc.empty()) std::memcpy(out.data() + 12 + round_up(namesz, 4), desc.data(), desc.size());
  return out;
}

}  // namespace salvage

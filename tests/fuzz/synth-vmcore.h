// SPDX-License-Identifier: GPL-2.0-or-later
// Builds small synthetic ELF64 ET_CORE vmcores in memory, laid out the way
// /proc/vmcore and makedumpfile -E lay them out (formats.md, "ELF vmcore"):
// Ehdr, phdrs (PT_NOTE first), optional section header 0 for PN_XNUM, the
// note bytes, then each PT_LOAD's file data. Used for the fuzzers' seed
// corpora (make-seeds.cc) and by tests/unit/bad-input_test.cc, so no binary
// fixture is ever committed. Header-only, no dependency on formats/*.cc.
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace salvage::synth {

using Bytes = std::vector<std::byte>;

inline void put(Bytes& b, size_t off, const void* p, size_t n) {
  if (b.size() < off + n) b.resize(off + n);
  std::memcpy(b.data() + off, p, n);
}

// One note with 4-byte padding (include/uapi/linux/elf.h Elf64_Nhdr).
inline Bytes note(std::string_view name, uint32_t type, const void* desc, size_t descsz) {
  Bytes out;
  uint32_t hdr[3] = {static_cast<uint32_t>(name.size() + 1), static_cast<uint32_t>(descsz), type};
  put(out, 0, hdr, sizeof hdr);
  put(out, 12, name.data(), name.size());
  size_t desc_off = 12 + ((name.size() + 1 + 3) & ~size_t{3});
  out.resize(desc_off + ((descsz + 3) & ~size_t{3}));
  if (descsz) std::memcpy(out.data() + desc_off, desc, descsz);
  return out;
}

// NT_PRSTATUS of one CPU: 336-byte x86_64 struct elf_prstatus with pr_pid at
// 32 and pr_reg (27 u64) at 112; rip (index 16) = 0xffffffff81000000 + cpu.
inline Bytes prstatus_note(int cpu) {
  unsigned char d[336] = {};
  int32_t pid = 100 + cpu;
  std::memcpy(d + 32, &pid, 4);
  for (uint64_t i = 0; i < 27; ++i) {
    uint64_t v = (i == 16) ? 0xffffffff81000000ULL + cpu : 0x1000 * i + cpu;
    std::memcpy(d + 112 + 8 * i, &v, 8);
  }
  return note("CORE", NT_PRSTATUS, d, sizeof d);
}

inline Bytes vmcoreinfo_note(std::string_view text) { return note("VMCOREINFO", 0, text.data(), text.size()); }

inline const char* kDefaultVmcoreinfo =
    "OSRELEASE=6.1.0-synthetic\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff80001000\n"
    "NUMBER(phys_base)=0\nKERNELOFFSET=0\nSIZE(page)=64\nOFFSET(page.flags)=0\n"
    "LENGTH(mem_section)=2048\nNUMBER(pgtable_l5_enabled)=0\nCRASHTIME=1700000000\n";

struct Load {
  uint64_t paddr = 0;
  uint64_t vaddr = 0;
  uint64_t memsz = 0;
  uint64_t filesz = 0;  // bytes actually stored; each byte = pattern_byte(paddr) + salt
  uint8_t salt = 0;     // tells apart the data of overlapping segments
};

struct Spec {
  std::vector<Load> loads;
  int cpus = 1;
  std::string vmcoreinfo = kDefaultVmcoreinfo;
  bool pn_xnum = false;  // e_phnum = PN_XNUM, real count in section header 0 sh_info
  uint32_t e_flags = 0;
};

// Where the pieces ended up, so tests can cut or corrupt precisely.
struct Layout {
  uint64_t phoff = 64;
  uint64_t shoff = 0;
  uint64_t note_offset = 0;
  uint64_t note_size = 0;
  std::vector<uint64_t> load_offset;
};

inline uint8_t pattern_byte(uint64_t paddr) { return static_cast<uint8_t>((paddr >> 12) * 7 + (paddr & 0xfff)); }

inline Bytes build(const Spec& s, Layout* out_layout = nullptr) {
  Layout L;
  const uint64_t phnum = 1 + s.loads.size();
  Bytes notes;
  for (int c = 0; c < s.cpus; ++c) {
    Bytes n = prstatus_note(c);
    notes.insert(notes.end(), n.begin(), n.end());
  }
  if (!s.vmcoreinfo.empty()) {
    Bytes n = vmcoreinfo_note(s.vmcoreinfo);
    notes.insert(notes.end(), n.begin(), n.end());
  }
  L.shoff = s.pn_xnum ? 64 + 56 * phnum : 0;
  L.note_offset = 64 + 56 * phnum + (s.pn_xnum ? 64 : 0);
  L.note_size = notes.size();
  uint64_t off = L.note_offset + L.note_size;
  for (const auto& l : s.loads) {
    L.load_offset.push_back(off);
    off += l.filesz;
  }

  Bytes b(off);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_CORE;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = 64;
  eh.e_flags = s.e_flags;
  eh.e_ehsize = 64;
  eh.e_phentsize = 56;
  eh.e_phnum = s.pn_xnum ? PN_XNUM : static_cast<uint16_t>(phnum);
  if (s.pn_xnum) {
    eh.e_shoff = L.shoff;
    eh.e_shentsize = 64;
    eh.e_shnum = 1;
    Elf64_Shdr sh{};
    sh.sh_info = static_cast<uint32_t>(phnum);
    put(b, L.shoff, &sh, sizeof sh);
  }
  put(b, 0, &eh, sizeof eh);

  Elf64_Phdr ph{};
  ph.p_type = PT_NOTE;
  ph.p_offset = L.note_offset;
  ph.p_filesz = ph.p_memsz = L.note_size;
  put(b, 64, &ph, sizeof ph);
  put(b, L.note_offset, notes.data(), notes.size());
  for (size_t i = 0; i < s.loads.size(); ++i) {
    const Load& l = s.loads[i];
    Elf64_Phdr p{};
    p.p_type = PT_LOAD;
    p.p_flags = PF_R | PF_W | PF_X;
    p.p_offset = L.load_offset[i];
    p.p_vaddr = l.vaddr;
    p.p_paddr = l.paddr;
    p.p_filesz = l.filesz;
    p.p_memsz = l.memsz;
    p.p_align = 0;
    put(b, 64 + 56 * (i + 1), &p, sizeof p);
    for (uint64_t k = 0; k < l.filesz; ++k)
      b[L.load_offset[i] + k] = static_cast<std::byte>(pattern_byte(l.paddr + k) + l.salt);
  }
  if (out_layout) *out_layout = L;
  return b;
}

// The smallest interesting vmcore: two CPUs, VMCOREINFO, two PT_LOADs (the
// first partly beyond p_filesz), under 8 KiB.
inline Spec minimal_spec() {
  Spec s;
  s.cpus = 2;
  s.loads = {{0x0, 0xffff888000000000ULL, 0x2000, 0x800},
             {0x100000, 0xffff888000100000ULL, 0x1000, 0x1000}};
  return s;
}

}  // namespace salvage::synth

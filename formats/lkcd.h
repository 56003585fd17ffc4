// SPDX-License-Identifier: GPL-2.0-or-later
// LKCD v8/v9 on-disk structures for x86_64, as crash 8.x (lkcd_dump_v8.h,
// lkcd_v8.c) and libkdumpfile (src/kdumpfile/lkcd.c) read them. All packed,
// little-endian. Offsets are checked below because both readers index these
// bytes by position, not by name. See docs/formats/lkcd.md for how salvage
// uses the format, including its note area (LKCD has no VMCOREINFO slot).
#pragma once

#include <cstddef>

#include "formats/types.h"

namespace salvage::lkcd {

inline constexpr u64 kDumpMagic = 0xa8190173618f23edULL;      // DUMP_MAGIC_NUMBER
inline constexpr u64 kDumpMagicLive = 0xa8190173618f23cdULL;  // DUMP_MAGIC_LIVE (crash accepts it)
inline constexpr u32 kVersion8 = 8;
inline constexpr u32 kVersion9 = 9;
inline constexpr u32 kVersion10 = 10;
inline constexpr u32 kVersionMclxMask = 0xC0000000u;  // MCLX bits crash/libkdumpfile mask off
inline constexpr u64 kFirstPageOffsetV8 = 65536;     // LKCD_OFFSET_TO_FIRST_PAGE
inline constexpr size_t kUtsLen = 65;                // __NEW_UTS_LEN + 1
inline constexpr size_t kPanicLen = 256;             // DUMP_PANIC_LEN

// dh_dump_level (informational in both readers).
inline constexpr u32 kLevelHeader = 0x1, kLevelKern = 0x2, kLevelUsed = 0x4, kLevelAll = 0x8;
// dh_dump_compress.
inline constexpr u32 kCompressNone = 0, kCompressRle = 1, kCompressGzip = 2;
// dp_flags.
inline constexpr u32 kDhRaw = 0x1, kDhCompressed = 0x2, kDhEnd = 0x4;

#pragma pack(push, 1)
struct DumpHeader {  // dump_header_t, v8 fields + v9's dh_dump_buffer_size
  u64 dh_magic_number;
  u32 dh_version;
  u32 dh_header_size;
  u32 dh_dump_level;
  u32 dh_page_size;
  u64 dh_memory_size;   // crash: "memory_pages"
  u64 dh_memory_start;
  u64 dh_memory_end;
  u32 dh_num_pages;     // page records in the stream (END excluded)
  char dh_panic_string[kPanicLen];
  u64 dh_time_tv_sec;
  u64 dh_time_tv_usec;
  char dh_utsname_sysname[kUtsLen];
  char dh_utsname_nodename[kUtsLen];
  char dh_utsname_release[kUtsLen];
  char dh_utsname_version[kUtsLen];
  char dh_utsname_machine[kUtsLen];
  char dh_utsname_domainname[kUtsLen];
  u64 dh_current_task;
  u32 dh_dump_compress;
  u32 dh_dump_flags;
  u32 dh_dump_device;
  u64 dh_dump_buffer_size;  // v9: file offset of the first page record
};
static_assert(sizeof(DumpHeader) == 742, "v9 dump_header_t is 742 bytes");
static_assert(offsetof(DumpHeader, dh_num_pages) == 48);
static_assert(offsetof(DumpHeader, dh_panic_string) == 52);
static_assert(offsetof(DumpHeader, dh_time_tv_sec) == 308);
static_assert(offsetof(DumpHeader, dh_utsname_sysname) == 324);
static_assert(offsetof(DumpHeader, dh_utsname_machine) == 584);
static_assert(offsetof(DumpHeader, dh_current_task) == 714);
static_assert(offsetof(DumpHeader, dh_dump_compress) == 722);
static_assert(offsetof(DumpHeader, dh_dump_buffer_size) == 734);
inline constexpr u32 kHeaderSizeV8 = 734;
inline constexpr u32 kHeaderSizeV9 = 742;

// x86_64 struct pt_regs as crash's lkcd_dump_v8.h declares it: the first 21
// registers of elf_prstatus.pr_reg, in the same order.
struct PtRegs {
  u64 r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
};
static_assert(sizeof(PtRegs) == 168);
inline constexpr size_t kPtRegsCount = 21;

inline constexpr u64 kAsmMagic = 0xdeaddeadULL;  // DUMP_ASM_MAGIC_NUMBER (x86_64)
inline constexpr u32 kAsmVersion = 2;            // DUMP_ASM_VERSION_NUMBER (x86_64)

// Fixed part of dump_header_asm_t (x86_64). It is followed by, for N CPUs:
// PtRegs dha_smp_regs[N]; u64 dha_smp_current_task[N]; u64 dha_stack[N];
// u64 dha_stack_ptr[N]. crash derives N = (dha_header_size - 192) / 192.
struct AsmHeaderFixed {
  u64 dha_magic_number;
  u32 dha_version;
  u32 dha_header_size;
  PtRegs dha_regs;
  u32 dha_smp_num_cpus;
  i32 dha_dumping_cpu;
};
static_assert(sizeof(AsmHeaderFixed) == 192);
static_assert(offsetof(AsmHeaderFixed, dha_header_size) == 12);
static_assert(offsetof(AsmHeaderFixed, dha_smp_num_cpus) == 184);
inline constexpr u64 kAsmPerCpu = sizeof(PtRegs) + 3 * 8;  // sizeof(dump_CPU_info_t)
static_assert(kAsmPerCpu == 192);
inline constexpr u64 asm_header_size(u64 ncpus) { return sizeof(AsmHeaderFixed) + ncpus * kAsmPerCpu; }

struct DumpPage {  // dump_page_t
  u64 dp_address;  // physical byte address
  u32 dp_size;
  u32 dp_flags;
};
static_assert(sizeof(DumpPage) == 16);

// salvage's note area (not part of LKCD): placed after the arch header, below
// the first page record, 8-byte aligned. crash and libkdumpfile never look
// between the arch header and dh_dump_buffer_size, so they ignore it.
inline constexpr char kNoteTagMagic[8] = {'S', 'L', 'V', 'G', 'N', 'O', 'T', 'E'};
inline constexpr u32 kNoteTagVersion = 1;
inline constexpr u32 kNoteTagTruncated = 0x1;  // some PRSTATUS notes did not fit
struct SalvageNoteTag {
  char magic[8];
  u32 version;
  u32 flags;
  u64 notes_offset;  // absolute file offset of the ELF note bytes
  u64 notes_size;
  i32 dump_level;    // makedumpfile -d level the page set was filtered with
  u32 dropped_prstatus;  // PRSTATUS notes left out for lack of room
};
static_assert(sizeof(SalvageNoteTag) == 40);
#pragma pack(pop)

}  // namespace salvage::lkcd

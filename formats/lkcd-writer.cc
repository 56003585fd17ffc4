// SPDX-License-Identifier: GPL-2.0-or-later
// LKCD v9 writer for x86_64, laid out for crash 8.x (lkcd_v8.c) and
// libkdumpfile (lkcd.c); see docs/formats/lkcd.md.
//
//   0      dump_header_t (742 bytes, v9, dh_dump_buffer_size = 65536)
//   742    dump_header_asm_t (192 + 192*N bytes, N = CPUs with PRSTATUS)
//   ...    salvage note tag + ELF notes (PRSTATUS..., VMCOREINFO), 8-aligned
//   65536  [dump_page_t][data] per kept pfn, ascending, then an END record
//
// Pages are RAW (dp_size 4096) or zlib ("GZIP", DUMP_DH_COMPRESSED, dp_size
// < 4096). Never RLE: crash and libkdumpfile decode LKCD RLE runs differently.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "formats/hex.h"
#include "formats/elf-notes.h"
#include "formats/endian.h"
#include "formats/format-table.h"
#include "formats/lkcd.h"

namespace salvage {

namespace {

using namespace lkcd;

constexpr u64 kFirstPage = 65536;  // dh_dump_buffer_size; also v8's fixed offset


template <size_t N>
void put_str(char (&dst)[N], const std::string& s) {
  std::memset(dst, 0, N);
  std::memcpy(dst, s.data(), std::min(s.size(), N - 1));  // always NUL-terminated
}

// makedumpfile -d bits -> LKCD dh_dump_level (informational only; the exact
// level is kept in salvage's note tag).
u32 lkcd_level(int d) {
  if (d == 0) return kLevelHeader | kLevelKern | kLevelUsed | kLevelAll;
  if (d & (2 | 4 | 8)) return kLevelHeader | kLevelKern;  // caches or user data dropped
  return kLevelHeader | kLevelKern | kLevelUsed;          // only zero/free pages dropped
}

class LkcdWriter final : public DumpWriter {
 public:
  explicit LkcdWriter(Sink& sink) : sink_(sink) {}
  bool accepts(PageEncoding e) const override { return e == PageEncoding::kRaw || e == PageEncoding::kZlib; }
  // Zero pages stay in `kept` and are stored as one tiny zlib record each, so
  // crash reads zeros instead of "page not present" errors.
  bool drops_zero_pages() const override { return false; }
  Result<void> begin(const DumpHeaderInfo& info) override;
  Result<void> write_page(const PageRecord& page) override;
  Result<void> finish(bool complete) override;

 private:
  Result<void> build_notes(const DumpHeaderInfo& info, u64 area_start, u64& ncpus_out);
  Result<void> write_header(u32 num_pages);

  Sink& sink_;
  std::vector<std::byte> head_;   // bytes [0, 65536)
  std::vector<std::byte> rec_;    // scratch: one record
  std::vector<std::byte> zero_z_; // zlib stream of one zero page
  bool began_ = false, finished_ = false, gzip_ = false;
  bool any_ = false;
  Pfn last_;
  u64 pos_ = kFirstPage;
  u64 planned_ = 0, written_ = 0;
  Pfn max_pfn_;
};

// Chooses how many CPUs go into the arch header and which notes go into the
// note area so that everything ends below 64 KiB. VMCOREINFO always wins over
// registers: without it nothing can translate addresses.
Result<void> LkcdWriter::build_notes(const DumpHeaderInfo& info, u64 area_start, u64& ncpus_out) {
  ASSIGN_OR_RETURN(auto parsed, parse_elf_notes(info.notes).context("parsing the note section"));
  std::vector<std::span<const std::byte>> prstatus, others, vmcoreinfo;
  for (const auto& n : parsed) {
    u64 end = n.desc_offset + round_up(n.desc_size, 4);
    auto bytes = info.notes.subspan(n.offset, end - n.offset);
    if (n.name == "CORE" && n.type == kNtPrstatus) prstatus.push_back(bytes);
    else if (n.name == "VMCOREINFO") vmcoreinfo.push_back(bytes);
    else others.push_back(bytes);
  }
  u64 must = 0;
  for (auto b : vmcoreinfo) must += b.size();

  // CPUs in the arch header: one per PRSTATUS in info.cpus, but leave room
  // for the tag and VMCOREINFO.
  u64 ncpus = info.cpus.size();
  auto area_for = [&](u64 n) { return round_up(area_start + asm_header_size(n), 8); };
  while (ncpus > 0 && area_for(ncpus) + sizeof(SalvageNoteTag) + must > kFirstPage) --ncpus;
  u64 tag_off = area_for(ncpus);
  if (tag_off + sizeof(SalvageNoteTag) + must > kFirstPage)
    return make_error("VMCOREINFO note (" + std::to_string(must) + " bytes) does not fit below the first page record at " +
                      hex(kFirstPage));
  u64 room = kFirstPage - tag_off - sizeof(SalvageNoteTag) - must;

  // Keep note order: PRSTATUS first (as in /proc/vmcore), as many as fit,
  // then VMCOREINFO, then other notes that still fit.
  std::vector<std::byte> out;
  u32 dropped = 0;
  for (auto b : prstatus) {
    if (b.size() <= room) {
      out.insert(out.end(), b.begin(), b.end());
      room -= b.size();
    } else {
      ++dropped;
    }
  }
  for (auto b : vmcoreinfo) out.insert(out.end(), b.begin(), b.end());
  for (auto b : others)
    if (b.size() <= room) {
      out.insert(out.end(), b.begin(), b.end());
      room -= b.size();
    }

  SalvageNoteTag tag{};
  std::memcpy(tag.magic, kNoteTagMagic, sizeof tag.magic);
  tag.version = kNoteTagVersion;
  tag.flags = dropped ? kNoteTagTruncated : 0;
  tag.notes_offset = tag_off + sizeof tag;
  tag.notes_size = out.size();
  tag.dump_level = info.dump_level;
  tag.dropped_prstatus = dropped;
  std::memcpy(head_.data() + tag_off, &tag, sizeof tag);
  std::memcpy(head_.data() + tag.notes_offset, out.data(), out.size());
  ncpus_out = ncpus;
  // A shortfall is recorded in the tag; the reader reports it to the user.
  return Ok();
}

Result<void> LkcdWriter::begin(const DumpHeaderInfo& info) {
  if (began_) return make_error("lkcd writer: begin() called twice");
  began_ = true;
  if (!info.kept) return make_error("lkcd writer: DumpHeaderInfo.kept is null");
  head_.assign(kFirstPage, std::byte{0});
  planned_ = info.kept->count();
  if (planned_ > 0xffffffffULL)
    return make_error("lkcd: " + std::to_string(planned_) + " pages exceed dh_num_pages (u32)");
  max_pfn_ = info.max_pfn;
  gzip_ = info.encoding == PageEncoding::kZlib || (info.dump_level & 1);
  if (gzip_) {
    std::vector<std::byte> zero(kPageSize, std::byte{0});
    uLongf n = compressBound(kPageSize);
    zero_z_.resize(n);
    if (compress2(reinterpret_cast<Bytef*>(zero_z_.data()), &n, reinterpret_cast<const Bytef*>(zero.data()),
                  kPageSize, Z_BEST_COMPRESSION) != Z_OK)
      return make_error("lkcd: zlib failed to compress the zero page");
    zero_z_.resize(n);
  }

  DumpHeader dh{};
  dh.dh_magic_number = kDumpMagic;
  dh.dh_version = kVersion9;
  dh.dh_header_size = kHeaderSizeV9;
  dh.dh_dump_level = lkcd_level(info.dump_level);
  dh.dh_page_size = kPageSize;
  // crash stores dh_memory_size as "memory_pages"; LKCD kernels put the
  // page count of physical memory here.
  u64 present = info.present ? info.present->count() : info.max_pfn.value;
  dh.dh_memory_size = present;
  dh.dh_memory_start = 0;
  dh.dh_memory_end = info.max_pfn.value << kPageShift;
  dh.dh_num_pages = static_cast<u32>(planned_);
  put_str(dh.dh_panic_string, info.panic_string);
  dh.dh_time_tv_sec = static_cast<u64>(info.crash_time);
  dh.dh_time_tv_usec = 0;
  put_str(dh.dh_utsname_sysname, info.uts.sysname);
  put_str(dh.dh_utsname_nodename, info.uts.nodename);
  put_str(dh.dh_utsname_release, info.uts.release);
  put_str(dh.dh_utsname_version, info.uts.version);
  put_str(dh.dh_utsname_machine, info.uts.machine);
  put_str(dh.dh_utsname_domainname, info.uts.domainname);
  dh.dh_current_task = info.panic_task;
  dh.dh_dump_compress = gzip_ ? kCompressGzip : kCompressNone;
  dh.dh_dump_flags = 0;
  dh.dh_dump_device = 0;
  dh.dh_dump_buffer_size = kFirstPage;
  std::memcpy(head_.data(), &dh, sizeof dh);

  u64 ncpus = 0;
  TRY_CTX(build_notes(info, kHeaderSizeV9, ncpus), "lkcd header");

  // Arch header. crash reads only dha_smp_regs[cpu].rip/rsp (lkcd_v8.c
  // get_lkcd_regs_for_cpu_arch), indexed by the task's CPU; PRSTATUS notes
  // come in CPU order, which is what we follow.
  AsmHeaderFixed ah{};
  ah.dha_magic_number = kAsmMagic;
  ah.dha_version = kAsmVersion;
  ah.dha_header_size = static_cast<u32>(asm_header_size(ncpus));
  ah.dha_smp_num_cpus = static_cast<u32>(ncpus);
  // The dumping CPU is not recorded in the notes; take the first CPU that
  // was running a task (pid != 0), else CPU 0. Informational for crash.
  ah.dha_dumping_cpu = 0;
  for (size_t i = 0; i < ncpus; ++i)
    if (info.cpus[i].pid != 0) {
      ah.dha_dumping_cpu = static_cast<i32>(i);
      break;
    }
  std::byte* a = head_.data() + kHeaderSizeV9;
  auto regs_of = [&](size_t cpu, std::byte* dst) {
    for (size_t r = 0; r < kPtRegsCount; ++r) store_le<u64>(dst + 8 * r, info.cpus[cpu].regs[r]);
  };
  std::memcpy(a, &ah, sizeof ah);
  if (ncpus) regs_of(static_cast<size_t>(ah.dha_dumping_cpu), a + offsetof(AsmHeaderFixed, dha_regs));
  for (size_t i = 0; i < ncpus; ++i) {
    regs_of(i, a + sizeof ah + i * sizeof(PtRegs));
    // dha_smp_current_task, dha_stack, dha_stack_ptr: unknown without
    // walking memory; left 0 (crash does not read them on x86_64).
  }
  return write_header(dh.dh_num_pages).context("writing LKCD header at 0x0");
}

Result<void> LkcdWriter::write_header(u32 num_pages) {
  store_le<u32>(head_.data() + offsetof(DumpHeader, dh_num_pages), num_pages);
  return sink_.write_at(FileOffset(0), head_);
}

Result<void> LkcdWriter::write_page(const PageRecord& page) {
  if (!began_ || finished_) return make_error("lkcd writer: write_page outside begin()/finish()");
  if (any_ && !(last_ < page.pfn))
    return make_error("lkcd writer: pfn " + hex(page.pfn.value) + " arrived after pfn " + hex(last_.value) +
                      " (pages must be ascending and unique)");
  std::span<const std::byte> data = page.data;
  u32 flags = kDhRaw;
  std::vector<std::byte> zeros;
  if (page.zero && gzip_) {
    data = zero_z_;
    flags = kDhCompressed;
  } else if (page.encoding == PageEncoding::kZlib) {
    if (!gzip_) return make_error("lkcd writer: zlib page " + hex(page.pfn.value) + " but dh_dump_compress is NONE");
    if (data.empty() || data.size() > kPageSize)
      return make_error("lkcd writer: zlib page " + hex(page.pfn.value) + " has " + std::to_string(data.size()) +
                        " bytes; dp_size must be 1..4096");
    flags = kDhCompressed;
  } else if (page.encoding == PageEncoding::kRaw) {
    if (data.empty() && page.zero) {
      zeros.assign(kPageSize, std::byte{0});
      data = zeros;
    }
    if (data.size() != kPageSize)
      return make_error("lkcd writer: raw page " + hex(page.pfn.value) + " has " + std::to_string(data.size()) +
                        " bytes, expected 4096");
  } else {
    return make_error(std::string("lkcd writer: encoding ") + encoding_name(page.encoding) + " is not accepted");
  }
  DumpPage dp{};
  dp.dp_address = pfn_to_phys(page.pfn).value;  // physical, as crash subtracts kvbase = 0
  dp.dp_size = static_cast<u32>(data.size());
  dp.dp_flags = flags;
  rec_.resize(sizeof dp + data.size());
  std::memcpy(rec_.data(), &dp, sizeof dp);
  std::memcpy(rec_.data() + sizeof dp, data.data(), data.size());
  TRY_CTX(sink_.write_at(FileOffset(pos_), rec_),
          "writing LKCD page record for pfn " + hex(page.pfn.value) + " at " + hex(pos_));
  pos_ += rec_.size();
  last_ = page.pfn;
  any_ = true;
  ++written_;
  return Ok();
}

Result<void> LkcdWriter::finish(bool complete) {
  if (!began_) return make_error("lkcd writer: finish() before begin()");
  if (finished_) return make_error("lkcd writer: finish() called twice");
  finished_ = true;
  DumpPage end{0, 0, kDhEnd};
  TRY_CTX(sink_.write_at(FileOffset(pos_), std::as_bytes(std::span(&end, 1))),
          "writing LKCD END record at " + hex(pos_));
  // LKCD has no "incomplete" flag. An incomplete dump keeps the planned
  // dh_num_pages, so crash warns "fewer pages than the amount indicated in
  // the dumpfile header" and our reader reports it incomplete.
  u32 n = static_cast<u32>(complete ? written_ : planned_);
  TRY_CTX(write_header(n), "rewriting LKCD header at 0x0");
  if (complete && written_ != planned_)
    return make_error("lkcd writer: " + std::to_string(written_) + " pages written but " + std::to_string(planned_) +
                      " were kept");
  return Ok();
}

}  // namespace

std::unique_ptr<DumpWriter> make_lkcd_writer(Sink& sink) { return std::make_unique<LkcdWriter>(sink); }

}  // namespace salvage

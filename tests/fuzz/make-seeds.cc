// SPDX-License-Identifier: GPL-2.0-or-later
// Writes the fuzzers' seed corpora: small valid inputs of every format,
// generated at build time so no binary is committed. Usage: make-seeds DIR
// creates DIR/<fuzzer>/<seed> for elf-notes, vmcoreinfo, elf-vmcore,
// open-dump and printk. Layouts follow /work/shared/reference/formats.md
// (kdump §1, flattened §2, LKCD §3, ELF §4).
#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>
#include <string>

#include "tests/fuzz/synth-vmcore.h"

using salvage::synth::Bytes;
using namespace salvage::synth;

namespace {

std::string g_dir;

void write_seed(const std::string& fuzzer, const std::string& name, const Bytes& b) {
  std::string d = g_dir + "/" + fuzzer;
  mkdir(d.c_str(), 0755);
  std::string path = d + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(b.data(), 1, b.size(), f) != b.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

Bytes text(std::string_view s) {
  Bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

template <typename T>
void put_le(Bytes& b, size_t off, T v) { put(b, off, &v, sizeof v); }

void put_be64(Bytes& b, size_t off, uint64_t v) {
  v = __builtin_bswap64(v);
  put(b, off, &v, 8);
}

Bytes notes_of(const Spec& s) {
  Layout L;
  Bytes img = build(s, &L);
  return Bytes(img.begin() + L.note_offset, img.begin() + L.note_offset + L.note_size);
}

// kdump-compressed (formats.md §1): max_mapnr 16, pfn 0 raw, pfn 1 zlib,
// pfn 2 the shared zero page, pfn 5 excluded, pfns 8..15 a hole.
Bytes kdump_seed() {
  const uint32_t B = 4096;
  Bytes notes = notes_of(minimal_spec());
  const uint32_t sub_blocks = (104 + notes.size() + B - 1) / B;
  const uint64_t max_mapnr = 16;
  const uint64_t bitmap_off = (1 + sub_blocks) * B;
  const uint64_t desc_off = bitmap_off + 2 * B;
  Bytes f(desc_off);
  std::memcpy(f.data(), "KDUMP   ", 8);
  put_le<int32_t>(f, 8, 6);
  std::memcpy(f.data() + 12, "Linux", 5);
  std::memcpy(f.data() + 12 + 130, "6.1.0-synthetic", 15);
  std::memcpy(f.data() + 12 + 260, "x86_64", 6);
  put_le<int64_t>(f, 408, 1700000000);
  put_le<uint32_t>(f, 424, 0x1);  // zlib
  put_le<int32_t>(f, 428, B);
  put_le<int32_t>(f, 432, sub_blocks);
  put_le<uint32_t>(f, 436, 2);
  put_le<uint32_t>(f, 440, max_mapnr);
  put_le<int32_t>(f, 460, 2);
  // sub header
  put_le<uint64_t>(f, B + 0, 0);
  put_le<int32_t>(f, B + 8, 1);
  // offset of the VMCOREINFO desc inside the notes: after two 356-byte PRSTATUS notes + 12 + 12.
  uint64_t vmci_desc = 2 * (12 + 8 + 336) + 12 + 12;
  put_le<uint64_t>(f, B + 32, B + 104 + vmci_desc);
  put_le<uint64_t>(f, B + 40, std::string_view(kDefaultVmcoreinfo).size());
  put_le<uint64_t>(f, B + 48, B + 104);
  put_le<uint64_t>(f, B + 56, notes.size());
  put_le<uint64_t>(f, B + 96, max_mapnr);
  put(f, B + 104, notes.data(), notes.size());
  // bitmaps: 1st = pfns 0..7 exist, 2nd = 0,1,2 dumpable
  f[bitmap_off] = std::byte{0xff};
  f[bitmap_off + B] = std::byte{0x07};
  // page data
  Bytes raw(B), comp(compressBound(B)), zero(B);
  for (uint32_t i = 0; i < B; ++i) raw[i] = std::byte(pattern_byte(i));
  Bytes page1(B);
  for (uint32_t i = 0; i < B; ++i) page1[i] = std::byte(i & 3);
  uLongf clen = comp.size();
  compress2(reinterpret_cast<Bytef*>(comp.data()), &clen, reinterpret_cast<const Bytef*>(page1.data()), B, 1);
  uint64_t data = desc_off + 3 * 24;
  uint64_t off0 = data, off1 = off0 + B, off2 = off1 + clen;
  auto desc = [&](int i, uint64_t off, uint32_t size, uint32_t flags) {
    put_le<int64_t>(f, desc_off + 24 * i, off);
    put_le<uint32_t>(f, desc_off + 24 * i + 8, size);
    put_le<uint32_t>(f, desc_off + 24 * i + 12, flags);
    put_le<uint64_t>(f, desc_off + 24 * i + 16, 0);
  };
  desc(0, off0, B, 0);
  desc(1, off1, clen, 1);
  desc(2, off2, B, 0);
  put(f, off0, raw.data(), B);
  put(f, off1, comp.data(), clen);
  put(f, off2, zero.data(), B);
  return f;
}

// Flattened stream (§2, big-endian) carrying the minimal ELF vmcore as three
// records, one out of order, then the terminator.
Bytes flattened_seed() {
  Bytes elf = build(minimal_spec());
  Bytes f(4096);
  std::memcpy(f.data(), "makedumpfile", 12);
  put_be64(f, 16, 1);
  put_be64(f, 24, 1);
  auto record = [&](uint64_t off, uint64_t len) {
    size_t at = f.size();
    put_be64(f, at, off);
    put_be64(f, at + 8, len);
    put(f, at + 16, elf.data() + off, len);
  };
  size_t half = elf.size() / 2;
  record(half, elf.size() - half);
  record(0, 64);
  record(64, half - 64);
  size_t at = f.size();
  put_be64(f, at, ~0ULL);
  put_be64(f, at + 8, ~0ULL);
  return f;
}

// LKCD v9 (§3): header, x86_64 arch header with one CPU, first page record
// at 4096: pfn 0 RAW, pfn 1 GZIP (zlib), END.
Bytes lkcd_seed() {
  const uint32_t P = 4096;
  Bytes f(P);
  put_le<uint64_t>(f, 0, 0xa8190173618f23edULL);
  put_le<uint32_t>(f, 8, 9);
  put_le<uint32_t>(f, 12, 742);
  put_le<uint32_t>(f, 16, 0x8);
  put_le<uint32_t>(f, 20, P);
  put_le<uint64_t>(f, 24, 2);
  put_le<uint32_t>(f, 48, 2);
  std::memcpy(f.data() + 52, "synthetic panic", 15);
  put_le<uint64_t>(f, 308, 1700000000);
  std::memcpy(f.data() + 324, "Linux", 5);
  std::memcpy(f.data() + 454, "6.1.0-synthetic", 15);
  std::memcpy(f.data() + 584, "x86_64", 6);
  put_le<uint32_t>(f, 722, 2);
  put_le<uint64_t>(f, 734, P);
  const size_t A = 742;
  put_le<uint64_t>(f, A, 0xdeaddead);
  put_le<uint32_t>(f, A + 8, 2);
  put_le<uint32_t>(f, A + 12, 192 + 192);
  put_le<uint32_t>(f, A + 184, 1);
  Bytes page(P), comp(compressBound(P));
  for (uint32_t i = 0; i < P; ++i) page[i] = std::byte(pattern_byte(i));
  size_t at = P;
  put_le<uint64_t>(f, at, 0);
  put_le<uint32_t>(f, at + 8, P);
  put_le<uint32_t>(f, at + 12, 0x1);
  put(f, at + 16, page.data(), P);
  at += 16 + P;
  uLongf clen = comp.size();
  Bytes page1(P);
  for (uint32_t i = 0; i < P; ++i) page1[i] = std::byte(i & 1);
  compress2(reinterpret_cast<Bytef*>(comp.data()), &clen, reinterpret_cast<const Bytef*>(page1.data()), P, 1);
  put_le<uint64_t>(f, at, P);
  put_le<uint32_t>(f, at + 8, clen);
  put_le<uint32_t>(f, at + 12, 0x2);
  put(f, at + 16, comp.data(), clen);
  at += 16 + clen;
  put_le<uint64_t>(f, at, 0);
  put_le<uint32_t>(f, at + 8, 0);
  put_le<uint32_t>(f, at + 12, 0x4);
  return f;
}

// printk seeds (fuzz-printk.cc input: flags, u16 text length, VMCOREINFO,
// memory at 0xffff888000000000). Struct layouts are our own choice: the
// decoder takes every offset from VMCOREINFO, so any consistent set works.
constexpr uint64_t kMemBase = 0xffff888000000000ULL;

Bytes printk_input(uint8_t flags, const std::string& vmcoreinfo, const Bytes& mem) {
  Bytes b(3);
  b[0] = std::byte{flags};
  b[1] = std::byte(vmcoreinfo.size() & 0xff);
  b[2] = std::byte(vmcoreinfo.size() >> 8);
  Bytes t = text(vmcoreinfo);
  b.insert(b.end(), t.begin(), t.end());
  b.insert(b.end(), mem.begin(), mem.end());
  return b;
}

std::string hexs(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Linux 5.10+ lockless ringbuffer: 4 descriptors, 256-byte data ring, three
// finalized records (ids 0..2), prb -> printk_rb_static at +0x100.
Bytes prb_seed(uint8_t flags) {
  std::string vi =
      "OSRELEASE=6.1.0-synthetic\nSYMBOL(prb)=" + hexs(kMemBase) + "\nSYMBOL(clear_seq)=" + hexs(kMemBase + 8) +
      "\nSIZE(printk_ringbuffer)=80\nOFFSET(printk_ringbuffer.desc_ring)=0\n"
      "OFFSET(printk_ringbuffer.text_data_ring)=40\nOFFSET(prb_desc_ring.count_bits)=0\n"
      "OFFSET(prb_desc_ring.descs)=8\nOFFSET(prb_desc_ring.infos)=16\nOFFSET(prb_desc_ring.head_id)=24\n"
      "OFFSET(prb_desc_ring.tail_id)=32\nSIZE(prb_desc)=24\nOFFSET(prb_desc.state_var)=0\n"
      "OFFSET(prb_desc.text_blk_lpos)=8\nOFFSET(prb_data_blk_lpos.begin)=0\nOFFSET(prb_data_blk_lpos.next)=8\n"
      "SIZE(printk_info)=32\nOFFSET(printk_info.seq)=0\nOFFSET(printk_info.ts_nsec)=8\n"
      "OFFSET(printk_info.text_len)=16\nOFFSET(printk_info.caller_id)=20\nOFFSET(prb_data_ring.size_bits)=0\n"
      "OFFSET(prb_data_ring.data)=8\nOFFSET(atomic_long_t.counter)=0\n";
  Bytes m(0x500);
  put_le<uint64_t>(m, 0x0, kMemBase + 0x100);  // prb
  put_le<uint64_t>(m, 0x8, 1);                 // clear_seq
  const size_t R = 0x100;
  put_le<uint32_t>(m, R + 0, 2);  // count_bits: 4 descriptors
  put_le<uint64_t>(m, R + 8, kMemBase + 0x200);
  put_le<uint64_t>(m, R + 16, kMemBase + 0x300);
  put_le<uint64_t>(m, R + 24, 2);  // head_id
  put_le<uint64_t>(m, R + 32, 0);  // tail_id
  put_le<uint32_t>(m, R + 40, 8);  // size_bits: 256 bytes
  put_le<uint64_t>(m, R + 48, kMemBase + 0x400);
  const char* texts[] = {"Linux version 6.1.0-synthetic", "second line\nwith a newline", "Kernel panic - \xe2 synthetic"};
  uint64_t lpos = 0;
  for (uint64_t id = 0; id < 3; ++id) {
    size_t len = std::strlen(texts[id]);
    uint64_t next = lpos + ((8 + len + 7) & ~uint64_t{7});
    put_le<uint64_t>(m, 0x200 + 24 * id, (2ULL << 62) | id);  // finalized
    put_le<uint64_t>(m, 0x200 + 24 * id + 8, lpos);
    put_le<uint64_t>(m, 0x200 + 24 * id + 16, next);
    put_le<uint64_t>(m, 0x300 + 32 * id, id);
    put_le<uint64_t>(m, 0x300 + 32 * id + 8, 1000000000ULL * id + 123456);
    put_le<uint16_t>(m, 0x300 + 32 * id + 16, static_cast<uint16_t>(len));
    put_le<uint32_t>(m, 0x300 + 32 * id + 20, id == 2 ? 0x80000001u : 42u);
    put_le<uint64_t>(m, 0x400 + lpos, id);
    put(m, 0x400 + lpos + 8, texts[id], len);
    lpos = next;
  }
  return printk_input(flags, vi, m);
}

// Linux 3.5-5.9 printk_log records in log_buf (16-byte header: ts_nsec,
// len, text_len), two records then the zero-len wrap marker.
Bytes log_buf_seed() {
  std::string vi = "OSRELEASE=5.4.0-synthetic\nSYMBOL(log_buf)=" + hexs(kMemBase + 0x10) +
                   "\nSYMBOL(log_buf_len)=" + hexs(kMemBase + 0x18) + "\nSYMBOL(log_first_idx)=" +
                   hexs(kMemBase + 0x20) + "\nSYMBOL(log_next_idx)=" + hexs(kMemBase + 0x28) +
                   "\nSIZE(printk_log)=16\nOFFSET(printk_log.ts_nsec)=0\nOFFSET(printk_log.len)=8\n"
                   "OFFSET(printk_log.text_len)=10\n";
  Bytes m(0x100 + 256);
  put_le<uint64_t>(m, 0x10, kMemBase + 0x100);
  put_le<uint32_t>(m, 0x18, 256);
  put_le<uint32_t>(m, 0x20, 0);
  const char* texts[] = {"old kernel log line", "second\tline"};
  uint32_t idx = 0;
  for (int i = 0; i < 2; ++i) {
    size_t len = std::strlen(texts[i]);
    uint16_t reclen = static_cast<uint16_t>((16 + len + 7) & ~size_t{7});
    put_le<uint64_t>(m, 0x100 + idx, 5000000ULL * (i + 1));
    put_le<uint16_t>(m, 0x100 + idx + 8, reclen);
    put_le<uint16_t>(m, 0x100 + idx + 10, static_cast<uint16_t>(len));
    put(m, 0x100 + idx + 16, texts[i], len);
    idx += reclen;
  }
  put_le<uint32_t>(m, 0x28, idx);
  return printk_input(0, vi, m);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  mkdir(g_dir.c_str(), 0755);

  Spec min = minimal_spec();
  Spec image = minimal_spec();  // plus the kernel image PT_LOAD repeating RAM
  image.loads.push_back({0x0, 0xffffffff80000000ULL, 0x1000, 0x400});
  Spec xnum = minimal_spec();
  xnum.pn_xnum = true;
  Spec overlap = minimal_spec();
  overlap.loads.push_back({0x1000, 0xffff888000001000ULL, 0x1000, 0x100});
  Spec incomplete = minimal_spec();
  incomplete.e_flags = 1;
  incomplete.cpus = 1;

  write_seed("elf-notes", "minimal", notes_of(min));
  Spec one = min;
  one.cpus = 1;
  one.vmcoreinfo = "OSRELEASE=6.1\n";
  write_seed("elf-notes", "one-cpu", notes_of(one));

  write_seed("vmcoreinfo", "default", text(kDefaultVmcoreinfo));
  write_seed("vmcoreinfo", "garbage",
             text("OSRELEASE=6.1\nno equals here\n=novalue\nSIZE(page)=sixty\nSYMBOL(x)=-1\nNUMBER(y)=-129\n"
                  "KERNELOFFSET= 10\nCRASHTIME=99999999999999999999999\n"));

  write_seed("elf-vmcore", "minimal", build(min));
  write_seed("elf-vmcore", "kernel-image", build(image));
  write_seed("elf-vmcore", "pn-xnum", build(xnum));
  write_seed("elf-vmcore", "overlap", build(overlap));
  write_seed("elf-vmcore", "incomplete", build(incomplete));

  write_seed("open-dump", "elf", build(min));
  write_seed("open-dump", "elf-image", build(image));
  write_seed("open-dump", "kdump", kdump_seed());
  write_seed("open-dump", "flattened", flattened_seed());
  write_seed("open-dump", "lkcd", lkcd_seed());

  write_seed("printk", "prb", prb_seed(0));
  write_seed("printk", "prb-partial-caller", prb_seed(3));
  write_seed("printk", "log-buf", log_buf_seed());
  return 0;
}

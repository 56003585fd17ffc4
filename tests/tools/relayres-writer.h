// SPDX-License-Identifier: GPL-2.0-or-later
// Test-side emulation of the flight recorder's writer (the protocol in
// formats/relayres-layout.h), used by the unit tests, the fuzzer and the
// bench generator. It writes the same bytes in the same order as the module,
// so a test can stop it at any step and hand the region to the reader:
// that is how the crash-in-the-middle states are built.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "formats/relayres-layout.h"

namespace salvage::testing {

struct RelayresGeometry {
  uint64_t phys = 0x5000000;
  uint32_t nr_cpus = 2;
  uint32_t subbuf_size = 4096;
  uint32_t n_subbufs = 4;
  bool overwrite = true;
  uint64_t generation = 1;
  uint64_t anchor_clock_ns = 1'000'000'000;               // local_clock() at init
  uint64_t anchor_real_ns = 1'700'000'000'000'000'000ULL;  // 2023-11-14 22:13:20 UTC
};

class RelayresWriter {
 public:
  explicit RelayresWriter(const RelayresGeometry& g) : g_(g) {
    cpu_ctl_off_ = RELAYRES_HEADER_SIZE;
    data_off_ = round4k(cpu_ctl_off_ + uint64_t{g.nr_cpus} * RELAYRES_CPU_CTL_SIZE);
    private_off_ = data_off_ + uint64_t{g.nr_cpus} * g.n_subbufs * g.subbuf_size;
    region.assign(private_off_ + RELAYRES_PAGE_SIZE, std::byte{0});
    cpus_.resize(g.nr_cpus);
    init(g.generation);
  }

  // (Re)initialises the channel as the module does at load: a new
  // generation, header, control blocks, sub-buffer 0 opened on every CPU.
  // Old sub-buffer contents stay (the module does not clear the data area).
  void init(uint64_t generation) {
    g_.generation = generation;
    relayres_header h{};
    h.magic = RELAYRES_MAGIC;
    h.version = RELAYRES_VERSION;
    h.header_size = sizeof h;
    h.region_phys = g_.phys;
    h.region_size = region.size();
    h.nr_cpus = g_.nr_cpus;
    h.flags = g_.overwrite ? RELAYRES_F_OVERWRITE : 0;
    h.subbuf_size = g_.subbuf_size;
    h.n_subbufs = g_.n_subbufs;
    h.cpu_ctl_off = cpu_ctl_off_;
    h.data_off = data_off_;
    h.private_off = private_off_;
    h.private_size = RELAYRES_PAGE_SIZE;
    h.clock_id = RELAYRES_CLOCK_LOCAL;
    h.generation = generation;
    for (int i = 0; i < 16; ++i) h.boot_id[i] = static_cast<rr_u8>(0x10 + i);
    std::strcpy(h.release, "6.1.0-test-amd64");
    h.anchor_clock_ns = g_.anchor_clock_ns;
    h.anchor_real_ns = g_.anchor_real_ns;
    std::memcpy(region.data(), &h, sizeof h);
    reseal_header();

    relayres_private p{};
    p.magic = RELAYRES_PRIVATE_MAGIC;
    p.generation = generation;
    const char info[] = "start=test\nevents=start,sched_switch,irq,marker,panic,test\n";
    p.used = sizeof info - 1;
    std::strcpy(p.producer, "relayres-demo");
    std::memcpy(region.data() + private_off_, &p, sizeof p);
    std::memcpy(region.data() + private_off_ + sizeof p, info, sizeof info - 1);

    for (uint32_t c = 0; c < g_.nr_cpus; ++c) {
      cpus_[c] = Cpu{};
      relayres_cpu_ctl ctl{};
      ctl.cpu = c;
      put(ctl_off(c), ctl);
      open_subbuf(c, 0);
    }
  }

  // Writes one record; false when refused (no-overwrite full: lost++).
  bool write(uint32_t cpu, uint16_t type, uint64_t ts, std::span<const std::byte> payload) {
    const uint64_t len = sizeof(relayres_record) + payload.size();
    const uint64_t space = (len + 7) & ~uint64_t{7};
    Cpu& c = cpus_[cpu];
    if (space > g_.subbuf_size - RELAYRES_SUBBUF_HDR_SIZE) return refuse(cpu);
    if (c.offset + space > g_.subbuf_size) {
      if (!g_.overwrite && c.produced + 1 >= g_.n_subbufs) return refuse(cpu);
      close_subbuf(cpu, true);
      if (c.produced >= g_.n_subbufs) bump_ctl(cpu, [](relayres_cpu_ctl& k) { ++k.overwritten; });
      open_subbuf(cpu, ts);
    }
    copy_record(cpu, type, ts, payload);
    commit_record(cpu, space);
    return true;
  }

  // Crash states. Each stops the writer part way through one step.
  // A record copied but commit not yet advanced past it.
  void crash_before_commit(uint32_t cpu, uint16_t type, uint64_t ts, std::span<const std::byte> payload) {
    copy_record(cpu, type, ts, payload);
  }
  // The current sub-buffer closed (final commit) but produced++ not done.
  void crash_before_produced(uint32_t cpu) { close_subbuf(cpu, false); }
  // Opening the next slot cut after the first `fields` header stores
  // (the module's order: commit = 0 to invalidate the old sub-buffer, then
  // magic, cpu, generation, sb_seq, ...), before hdr_crc. fields = 0 is
  // the invalidation alone.
  void crash_half_open(uint32_t cpu, int fields) {
    Cpu& c = cpus_[cpu];
    close_subbuf(cpu, true);
    const uint64_t base = slot_base(cpu, c.produced % g_.n_subbufs);
    relayres_subbuf sb{};
    get(base, sb);
    sb.commit = 0;
    if (fields > 0) sb.magic = RELAYRES_SUBBUF_MAGIC;
    if (fields > 1) sb.cpu = cpu;
    if (fields > 2) sb.generation = g_.generation;
    if (fields > 3) sb.sb_seq = c.produced;
    put(base, sb);
  }

  void reseal_header() {
    relayres_header h;
    std::memcpy(&h, region.data(), sizeof h);
    const uint32_t n = h.header_size <= region.size() ? h.header_size : sizeof h;
    std::vector<std::byte> copy(region.begin(), region.begin() + n);
    std::memset(copy.data() + offsetof(relayres_header, hdr_crc), 0, 4);
    h.hdr_crc = crc(copy.data(), copy.size());
    std::memcpy(region.data() + offsetof(relayres_header, hdr_crc), &h.hdr_crc, 4);
  }
  template <typename F>
  void edit_header(F f) {
    relayres_header h;
    std::memcpy(&h, region.data(), sizeof h);
    f(h);
    std::memcpy(region.data(), &h, sizeof h);
    reseal_header();
  }
  template <typename F>
  void bump_ctl(uint32_t cpu, F f) {
    relayres_cpu_ctl k;
    get(ctl_off(cpu), k);
    ++k.seqcount;
    f(k);
    ++k.seqcount;
    put(ctl_off(cpu), k);
  }

  uint64_t slot_base(uint32_t cpu, uint64_t slot) const {
    return data_off_ + (uint64_t{cpu} * g_.n_subbufs + slot) * g_.subbuf_size;
  }
  uint64_t ctl_off(uint32_t cpu) const { return cpu_ctl_off_ + uint64_t{cpu} * RELAYRES_CPU_CTL_SIZE; }
  uint64_t current_slot_base(uint32_t cpu) const { return slot_base(cpu, cpus_[cpu].produced % g_.n_subbufs); }
  uint64_t current_offset(uint32_t cpu) const { return cpus_[cpu].offset; }
  uint64_t next_seq(uint32_t cpu) const { return cpus_[cpu].next_seq; }
  uint64_t private_off() const { return private_off_; }
  const RelayresGeometry& geometry() const { return g_; }

  std::vector<std::byte> region;

 private:
  struct Cpu {
    uint64_t produced = 0, offset = RELAYRES_SUBBUF_HDR_SIZE, next_seq = 0;
  };
  static uint64_t round4k(uint64_t v) { return (v + 4095) & ~uint64_t{4095}; }
  static uint32_t crc(const std::byte* p, size_t n) {
    return static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(p), static_cast<uInt>(n)));
  }
  template <typename T>
  void put(uint64_t off, const T& v) { std::memcpy(region.data() + off, &v, sizeof v); }
  template <typename T>
  void get(uint64_t off, T& v) const { std::memcpy(&v, region.data() + off, sizeof v); }

  bool refuse(uint32_t cpu) {
    bump_ctl(cpu, [](relayres_cpu_ctl& k) { ++k.lost; });
    return false;
  }
  void open_subbuf(uint32_t cpu, uint64_t ts) {
    Cpu& c = cpus_[cpu];
    const uint64_t base = slot_base(cpu, c.produced % g_.n_subbufs);
    relayres_subbuf sb{};
    put(base + offsetof(relayres_subbuf, commit), uint64_t{0});  // invalidate the old one first
    sb.magic = RELAYRES_SUBBUF_MAGIC;
    sb.cpu = cpu;
    sb.generation = g_.generation;
    sb.sb_seq = c.produced;
    sb.first_ts = ts;
    sb.first_rec_seq = c.next_seq;
    sb.commit = RELAYRES_SUBBUF_HDR_SIZE;
    sb.hdr_crc = crc(reinterpret_cast<const std::byte*>(&sb), offsetof(relayres_subbuf, hdr_crc));
    put(base, sb);
    c.offset = RELAYRES_SUBBUF_HDR_SIZE;
    bump_ctl(cpu, [&](relayres_cpu_ctl& k) {
      k.produced = c.produced;
      k.offset = c.offset;
    });
  }
  void close_subbuf(uint32_t cpu, bool bump_produced) {
    Cpu& c = cpus_[cpu];
    put(current_slot_base(cpu) + offsetof(relayres_subbuf, commit), c.offset);
    if (!bump_produced) return;
    ++c.produced;
    bump_ctl(cpu, [&](relayres_cpu_ctl& k) { k.produced = c.produced; });
  }
  void copy_record(uint32_t cpu, uint16_t type, uint64_t ts, std::span<const std::byte> payload) {
    Cpu& c = cpus_[cpu];
    relayres_record r{};
    r.len = static_cast<uint32_t>(sizeof r + payload.size());
    r.type = type;
    r.cpu = static_cast<uint16_t>(cpu);
    r.seq = c.next_seq;
    r.ts = ts;
    const uint64_t at = current_slot_base(cpu) + c.offset;
    put(at, r);
    if (!payload.empty()) std::memcpy(region.data() + at + sizeof r, payload.data(), payload.size());
  }
  void commit_record(uint32_t cpu, uint64_t space) {
    Cpu& c = cpus_[cpu];
    c.offset += space;
    ++c.next_seq;
    put(current_slot_base(cpu) + offsetof(relayres_subbuf, commit), c.offset);
    bump_ctl(cpu, [&](relayres_cpu_ctl& k) {
      k.offset = c.offset;
      k.next_rec_seq = c.next_seq;
    });
  }

  RelayresGeometry g_;
  uint64_t cpu_ctl_off_ = 0, data_off_ = 0, private_off_ = 0;
  std::vector<Cpu> cpus_;
};

// A relayres_ev_test payload.
inline std::vector<std::byte> relayres_test_payload(uint64_t counter, uint32_t cpu) {
  relayres_ev_test e{};
  e.counter = counter;
  e.cpu = cpu;
  std::vector<std::byte> b(sizeof e);
  std::memcpy(b.data(), &e, sizeof e);
  return b;
}

}  // namespace salvage::testing

// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/relayres.h"

#include "formats/hex.h"
#include "formats/relayres-walk.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace salvage {

// The layout header is written for little-endian x86_64 and read here by
// copying its structs: salvage builds for x86_64 only.
static_assert(std::endian::native == std::endian::little, "relayres structs are read in place");

namespace {

template <typename T>
T load(std::span<const std::byte> b, u64 off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

u32 crc32_ieee(std::span<const std::byte> b) {
  uLong c = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; headers and sub-buffer headers are small.
  return static_cast<u32>(crc32(c, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size())));
}

std::string field_error(const char* field, u64 off, const std::string& what) {
  return std::string("relayres header ") + field + " (offset " + std::to_string(off) + "): " + what;
}

Error too_small(u64 size) {
  return make_error("relayres region of " + std::to_string(size) + " bytes is too small for a channel");
}

#define HDR_OFF(f) static_cast<u64>(offsetof(relayres_header, f))

std::string c_string(const char* p, size_t max) { return std::string(p, strnlen(p, max)); }

std::string format_boot_id(const rr_u8* id) {
  char b[40];
  std::snprintf(b, sizeof b, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0], id[1],
                id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12], id[13], id[14], id[15]);
  return b;
}

// Overflow-safe a*b+c <= limit.
bool fits(u64 a, u64 b, u64 c, u64 limit) {
  unsigned __int128 v = static_cast<unsigned __int128>(a) * b + c;
  return v <= limit;
}

// Reads the 64-byte header of every slot of one CPU, keeps the valid ones
// of this generation, then the newest run of consecutive sb_seq.
Result<void> scan_slots(ByteSource& src, const RelayresHeaderInfo& h, u32 cpu, RelayresCpuStream& out) {
  std::vector<RelayresSubbufRef> valid;
  for (u64 s = 0; s < h.n_subbufs; ++s) {
    const u64 base = h.data_off + (u64{cpu} * h.n_subbufs + s) * h.subbuf_size;
    std::array<std::byte, sizeof(relayres_subbuf)> raw;
    TRY_CTX(src.read_at(FileOffset(base), raw),
            "cpu " + std::to_string(cpu) + " sub-buffer header (slot " + std::to_string(s) + ") at region offset " + hex(base));
    const auto sb = load<relayres_subbuf>(raw, 0);
    if (sb.magic == 0) { ++out.slots_empty; continue; }
    const u32 crc = crc32_ieee(std::span<const std::byte>(raw).first(offsetof(relayres_subbuf, hdr_crc)));
    if (sb.magic != RELAYRES_SUBBUF_MAGIC || sb.cpu != cpu || crc != sb.hdr_crc) { ++out.slots_bad; continue; }
    if (sb.generation != h.generation) { ++out.slots_stale; continue; }
    if (sb.commit < RELAYRES_SUBBUF_HDR_SIZE || sb.commit > h.subbuf_size) {
      out.warnings.push_back("cpu " + std::to_string(cpu) + " sub-buffer " + std::to_string(sb.sb_seq) + " (slot " +
                             std::to_string(s) + "): commit " + std::to_string(sb.commit) + " outside [64, " +
                             std::to_string(h.subbuf_size) + "]; dropped");
      ++out.slots_bad;
      continue;
    }
    valid.push_back(RelayresSubbufRef{base, sb.sb_seq, sb.first_rec_seq, sb.commit});
  }
  out.slots_valid = valid.size();
  if (out.slots_bad)
    out.warnings.push_back("cpu " + std::to_string(cpu) + ": " + std::to_string(out.slots_bad) +
                           " sub-buffer header(s) damaged or cut by the crash; dropped");
  if (out.slots_stale)
    out.warnings.push_back("cpu " + std::to_string(cpu) + ": " + std::to_string(out.slots_stale) +
                           " sub-buffer(s) of an older generation; ignored");
  if (valid.empty()) return Ok();

  // Newest run of consecutive sb_seq (a duplicate keeps the longer commit).
  std::sort(valid.begin(), valid.end(), [](const RelayresSubbufRef& a, const RelayresSubbufRef& b) {
    return a.sb_seq != b.sb_seq ? a.sb_seq < b.sb_seq : a.commit < b.commit;
  });
  std::vector<RelayresSubbufRef> uniq;
  for (const auto& s : valid) {
    if (!uniq.empty() && uniq.back().sb_seq == s.sb_seq) {
      out.warnings.push_back("cpu " + std::to_string(cpu) + ": sub-buffer " + std::to_string(s.sb_seq) +
                             " found in two slots; keeping the longer one");
      uniq.back() = s;
    } else {
      uniq.push_back(s);
    }
  }
  size_t start = uniq.size() - 1;
  while (start > 0 && uniq[start - 1].sb_seq + 1 == uniq[start].sb_seq) --start;
  out.subbufs_dropped = start;
  if (start)
    out.warnings.push_back("cpu " + std::to_string(cpu) + ": " + std::to_string(start) +
                           " older sub-buffer(s) not consecutive with the newest run (" +
                           std::to_string(uniq[start - 1].sb_seq) + " then " + std::to_string(uniq[start].sb_seq) +
                           "); dropped");
  out.subbufs_kept = uniq.size() - start;
  out.first_sb_seq = uniq[start].sb_seq;
  out.last_sb_seq = uniq.back().sb_seq;
  out.kept.assign(uniq.begin() + static_cast<std::ptrdiff_t>(start), uniq.end());
  return Ok();
}

Result<void> rebuild_cpu(ByteSource& src, const RelayresHeaderInfo& h, u32 cpu, bool keep_records,
                         RelayresCpuStream& out) {
  out.cpu = cpu;
  std::array<std::byte, sizeof(relayres_cpu_ctl)> raw;
  const u64 ctl_off = h.cpu_ctl_off + u64{cpu} * RELAYRES_CPU_CTL_SIZE;
  TRY_CTX(src.read_at(FileOffset(ctl_off), raw),
          "cpu " + std::to_string(cpu) + " control block at region offset " + hex(ctl_off));
  const auto ctl = load<relayres_cpu_ctl>(raw, 0);
  out.ctl = RelayresCtlInfo{ctl.seqcount, ctl.cpu, ctl.produced, ctl.offset, ctl.next_rec_seq, ctl.lost, ctl.overwritten};

  // 1-2. Sub-buffer headers, the retained run.
  TRY(scan_slots(src, h, cpu, out));
  if (out.kept.empty()) return Ok();

  // 3. Records, oldest first, one sub-buffer in memory at a time.
  for (const auto& sb : out.kept) out.padding_bytes += h.subbuf_size - sb.commit;
  RelayresCpuWalker w(src, h, cpu, out.kept, &out);
  for (;;) {
    ASSIGN_OR_RETURN(bool more, w.next());
    if (!more) break;
    const RelayresRecordRef& r = w.record();
    if (out.record_count == 0) out.first_seq = r.seq;
    out.last_seq = r.seq;
    ++out.record_count;
    out.stream_bytes += round_up(r.len, RELAYRES_RECORD_ALIGN);
    if (keep_records) out.records.push_back(r);
  }
  if (out.record_count) out.before_window = out.first_seq;

  // 4. Cross-check the control block; disagreement is only a warning.
  const std::string c = "cpu " + std::to_string(cpu) + " control block: ";
  if (ctl.seqcount & 1) {
    out.warnings.push_back(c + "seqcount odd (torn by the crash); not cross-checked");
    return Ok();
  }
  if (ctl.cpu != cpu) out.warnings.push_back(c + "says cpu " + std::to_string(ctl.cpu));
  // produced is the current sub-buffer's sb_seq, or one more between a
  // close (produced++) and the next open.
  if (ctl.produced != out.last_sb_seq && ctl.produced != out.last_sb_seq + 1)
    out.warnings.push_back(c + "produced " + std::to_string(ctl.produced) + " but the newest sub-buffer is " +
                           std::to_string(out.last_sb_seq) + " (inconsistent counters)");
  if (out.record_count && ctl.next_rec_seq < out.last_seq + 1)
    out.warnings.push_back(c + "next_rec_seq " + std::to_string(ctl.next_rec_seq) + " but record " +
                           std::to_string(out.last_seq) + " is committed (inconsistent counters)");
  return Ok();
}

}  // namespace

u64 RelayresChannel::total_records() const {
  u64 n = 0;
  for (const auto& c : cpus) n += c.record_count;
  return n;
}

u64 relayres_consumed_offset(const RelayresHeaderInfo& h) {
  return h.private_off + offsetof(relayres_private, consumed);
}

namespace {

// magic, version, header_size, hdr_crc: is this a channel at all?
Result<relayres_header> check_identity(std::span<const std::byte> region) {
  if (region.size() < RELAYRES_HEADER_SIZE)
    return too_small(region.size());
  const auto hd = load<relayres_header>(region, 0);
  if (hd.magic != RELAYRES_MAGIC) {
    const bool zero = std::all_of(region.begin(), region.begin() + RELAYRES_HEADER_SIZE,
                                  [](std::byte b) { return b == std::byte{0}; });
    if (zero) return make_error(field_error("magic", 0, "the header page is all zeroes: no channel was ever written here"));
    return make_error(field_error("magic", 0, hex(hd.magic) + " is not a relayres channel (garbage or another use of this memory)"));
  }
  if (hd.version == 0 || hd.version > RELAYRES_VERSION)
    return make_error(field_error("version", HDR_OFF(version), std::to_string(hd.version) + " not supported (this reader knows 1.." +
                                                                   std::to_string(RELAYRES_VERSION) + "); update salvage"));
  if (hd.header_size < sizeof(relayres_header) || hd.header_size > RELAYRES_HEADER_SIZE)
    return make_error(field_error("header_size", HDR_OFF(header_size),
                                  std::to_string(hd.header_size) + " outside [256, 4096]"));
  {
    std::vector<std::byte> copy(region.begin(), region.begin() + hd.header_size);
    std::memset(copy.data() + offsetof(relayres_header, hdr_crc), 0, sizeof hd.hdr_crc);
    const u32 crc = crc32_ieee(copy);
    if (crc != hd.hdr_crc)
      return make_error(field_error("hdr_crc", HDR_OFF(hdr_crc), "stored " + hex(hd.hdr_crc) + ", computed " + hex(crc) +
                                                                      " over " + std::to_string(hd.header_size) + " bytes"));
  }
  return hd;
}

RelayresHeaderInfo header_info(const relayres_header& hd) {
  RelayresHeaderInfo h;
  h.version = hd.version;
  h.header_size = hd.header_size;
  h.region_phys = hd.region_phys;
  h.region_size = hd.region_size;
  h.nr_cpus = hd.nr_cpus;
  h.flags = hd.flags;
  h.subbuf_size = hd.subbuf_size;
  h.n_subbufs = hd.n_subbufs;
  h.cpu_ctl_off = hd.cpu_ctl_off;
  h.data_off = hd.data_off;
  h.private_off = hd.private_off;
  h.private_size = hd.private_size;
  h.clock_id = hd.clock_id;
  h.generation = hd.generation;
  h.boot_id = format_boot_id(hd.boot_id);
  h.release = c_string(hd.release, sizeof hd.release);
  h.anchor_clock_ns = hd.anchor_clock_ns;
  h.anchor_real_ns = hd.anchor_real_ns;
  h.init_jiffies = hd.init_jiffies;
  h.clock = relayres_clock(hd);
  return h;
}

}  // namespace

Result<RelayresHeaderInfo> decode_relayres_header_page(std::span<const std::byte> page) {
  ASSIGN_OR_RETURN(relayres_header hd, check_identity(page));
  return header_info(hd);
}

namespace {

// `page` is the region's header page; region_size what was read (at least
// a header page and a page after it).
Result<RelayresHeaderInfo> check_header(std::span<const std::byte> page, u64 region_size, u64 read_phys) {
  ASSIGN_OR_RETURN(relayres_header hd, check_identity(page));
  if (hd.region_phys != read_phys)
    return make_error(field_error("region_phys", HDR_OFF(region_phys), "the writer's region was at " + hex(hd.region_phys) +
                                                                           ", this one was read at " + hex(read_phys)));
  if (hd.region_size != region_size || hd.region_size % RELAYRES_PAGE_SIZE)
    return make_error(field_error("region_size", HDR_OFF(region_size), std::to_string(hd.region_size) + " bytes, but " +
                                                                           std::to_string(region_size) + " were read (a page multiple is required)"));
  if (hd.nr_cpus == 0 || hd.nr_cpus > RELAYRES_MAX_CPUS)
    return make_error(field_error("nr_cpus", HDR_OFF(nr_cpus), std::to_string(hd.nr_cpus) + " outside [1, 8192]"));
  if (hd.subbuf_size < RELAYRES_MIN_SUBBUF_SIZE || (hd.subbuf_size & (hd.subbuf_size - 1)))
    return make_error(field_error("subbuf_size", HDR_OFF(subbuf_size), std::to_string(hd.subbuf_size) + " is not a power of two >= 4096"));
  if (hd.n_subbufs < 2)
    return make_error(field_error("n_subbufs", HDR_OFF(n_subbufs), std::to_string(hd.n_subbufs) + " (at least 2 are needed)"));
  const u64 size = hd.region_size;
  if (hd.cpu_ctl_off < RELAYRES_HEADER_SIZE || !fits(hd.nr_cpus, RELAYRES_CPU_CTL_SIZE, hd.cpu_ctl_off, size))
    return make_error(field_error("cpu_ctl_off", HDR_OFF(cpu_ctl_off), hex(hd.cpu_ctl_off) + ": " + std::to_string(hd.nr_cpus) +
                                                                           " control blocks do not fit between the header and the region end"));
  if (hd.data_off % RELAYRES_PAGE_SIZE || hd.data_off < hd.cpu_ctl_off + u64{hd.nr_cpus} * RELAYRES_CPU_CTL_SIZE)
    return make_error(field_error("data_off", HDR_OFF(data_off), hex(hd.data_off) + " is not page aligned or overlaps the control blocks"));
  if (hd.private_off % RELAYRES_PAGE_SIZE || hd.private_size < sizeof(relayres_private) ||
      !fits(1, hd.private_off, hd.private_size, size))
    return make_error(field_error("private_off", HDR_OFF(private_off), hex(hd.private_off) + " + " + std::to_string(hd.private_size) +
                                                                           " bytes is not a page-aligned area inside the region"));
  const unsigned __int128 data_bytes =
      static_cast<unsigned __int128>(hd.nr_cpus) * hd.n_subbufs * hd.subbuf_size;
  if (hd.data_off + data_bytes > hd.private_off)
    return make_error(field_error("n_subbufs", HDR_OFF(n_subbufs), std::to_string(hd.nr_cpus) + " CPUs x " + std::to_string(hd.n_subbufs) +
                                                                       " x " + std::to_string(hd.subbuf_size) + " bytes from " + hex(hd.data_off) +
                                                                       " overlap the private area at " + hex(hd.private_off)));
  return header_info(hd);
}

}  // namespace

Result<RelayresHeaderInfo> parse_relayres_header(std::span<const std::byte> region, u64 read_phys) {
  MemorySource src(region, "relayres region");
  return parse_relayres_header(src, read_phys);
}

Result<RelayresHeaderInfo> parse_relayres_header(ByteSource& region, u64 read_phys) {
  const u64 size = region.size();
  if (size < RELAYRES_HEADER_SIZE + RELAYRES_PAGE_SIZE)
    return too_small(size);
  std::vector<std::byte> page(RELAYRES_HEADER_SIZE);
  TRY_CTX(region.read_at(FileOffset(0), page), "relayres header page");
  return check_header(page, size, read_phys);
}

namespace {

Result<RelayresChannel> parse_channel(ByteSource& region, u64 read_phys, bool keep_records) {
  RelayresChannel ch;
  ASSIGN_OR_RETURN(ch.header, parse_relayres_header(region, read_phys));
  const RelayresHeaderInfo& h = ch.header;
  if (h.flags & ~RELAYRES_F_OVERWRITE) ch.warnings.push_back("header flags " + hex(h.flags) + " has unknown bits");
  if (auto problem = relayres_clock_problem(h.clock)) ch.warnings.push_back(*problem);
  ch.cpus.resize(h.nr_cpus);
  for (u32 c = 0; c < h.nr_cpus; ++c) TRY(rebuild_cpu(region, h, c, keep_records, ch.cpus[c]));

  ch.private_off = h.private_off;
  ch.private_size = h.private_size;
  std::array<std::byte, sizeof(relayres_private)> raw;
  TRY_CTX(region.read_at(FileOffset(h.private_off), raw), "private area at region offset " + hex(h.private_off));
  const auto p = load<relayres_private>(raw, 0);
  ch.priv.valid = p.magic == RELAYRES_PRIVATE_MAGIC;
  if (ch.priv.valid) {
    ch.priv.consumed = p.consumed;
    ch.priv.generation = p.generation;
    ch.priv.used = p.used;
    ch.priv.producer = c_string(p.producer, sizeof p.producer);
    if (p.generation != h.generation)
      ch.warnings.push_back("private area is for generation " + std::to_string(p.generation) + ", the header is " +
                            std::to_string(h.generation));
    if (p.used > h.private_size - sizeof(relayres_private))
      ch.warnings.push_back("private area says " + std::to_string(p.used) + " bytes used, more than it holds");
  } else {
    ch.warnings.push_back("private area (offset " + hex(h.private_off) + "): magic " + hex(p.magic) +
                          " is not RRPV; exported verbatim anyway");
  }
  return ch;
}

}  // namespace

Result<RelayresChannel> parse_relayres(ByteSource& region, u64 read_phys) {
  return parse_channel(region, read_phys, false);
}

Result<RelayresChannel> parse_relayres(std::span<const std::byte> region, u64 read_phys) {
  MemorySource src(region, "relayres region");
  return parse_channel(src, read_phys, true);
}

std::vector<RelayresRecordRef> merge_relayres(const RelayresChannel& ch) {
  std::vector<RelayresRecordRef> out;
  out.reserve(ch.total_records());
  for_each_merged(ch, [&out](const RelayresRecordRef& r) { out.push_back(r); });
  return out;
}

void for_each_merged(const RelayresChannel& ch, const std::function<void(const RelayresRecordRef&)>& fn) {
  // The streaming merge's queue, over the record lists (streams = cpus).
  std::vector<size_t> next(ch.cpus.size(), 0);
  RelayresMergeQueue q;
  for (size_t c = 0; c < ch.cpus.size(); ++c)
    if (!ch.cpus[c].records.empty()) q.push(ch.cpus[c].records[0], c);
  while (!q.empty()) {
    const size_t c = q.pop();
    const auto& recs = ch.cpus[c].records;
    fn(recs[next[c]]);
    if (++next[c] < recs.size()) q.push(recs[next[c]], c);
  }
}

std::string relayres_type_name(u16 type) {
  switch (type) {
    case RELAYRES_EV_PADDING: return "padding";
    case RELAYRES_EV_START: return "start";
    case RELAYRES_EV_SCHED_SWITCH: return "sched_switch";
    case RELAYRES_EV_IRQ: return "irq";
    case RELAYRES_EV_MARKER: return "marker";
    case RELAYRES_EV_PANIC: return "panic";
    case RELAYRES_EV_TEST: return "test";
  }
  char b[16];
  std::snprintf(b, sizeof b, "type-0x%04x", type);
  return b;
}

namespace {

// Printable text: control bytes and non-ASCII shown as \xNN, so a marker
// cannot move the terminal around.
std::string printable(const char* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      s += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      s += b;
    }
  }
  return s;
}

template <typename T>
bool payload_as(std::span<const std::byte> payload, T& out) {
  if (payload.size() < sizeof(T)) return false;
  std::memcpy(&out, payload.data(), sizeof(T));
  return true;
}

std::string decode_payload(u16 type, std::span<const std::byte> payload) {
  char b[256];
  switch (type) {
    case RELAYRES_EV_START: {
      relayres_ev_start e;
      if (!payload_as(payload, e)) break;
      std::snprintf(b, sizeof b, "nr_cpus=%u flags=0x%x release=%s", e.nr_cpus, e.flags,
                    printable(e.release, strnlen(e.release, sizeof e.release)).c_str());
      return b;
    }
    case RELAYRES_EV_SCHED_SWITCH: {
      relayres_ev_sched_switch e;
      if (!payload_as(payload, e)) break;
      std::snprintf(b, sizeof b, "prev=%s/%u state=0x%" PRIx64 " next=%s/%u",
                    printable(e.prev_comm, strnlen(e.prev_comm, 16)).c_str(), e.prev_pid, e.prev_state,
                    printable(e.next_comm, strnlen(e.next_comm, 16)).c_str(), e.next_pid);
      return b;
    }
    case RELAYRES_EV_IRQ: {
      relayres_ev_irq e;
      if (!payload_as(payload, e)) break;
      std::snprintf(b, sizeof b, "irq=%u", e.irq);
      return b;
    }
    case RELAYRES_EV_MARKER: {
      const char* p = reinterpret_cast<const char*>(payload.data());
      size_t n = payload.size();
      while (n && (p[n - 1] == '\n' || p[n - 1] == '\0')) --n;
      return "\"" + printable(p, n) + "\"";
    }
    case RELAYRES_EV_PANIC: {
      relayres_ev_panic e;
      if (!payload_as(payload, e)) break;
      std::string msg(e.message, strnlen(e.message, sizeof e.message));
      while (!msg.empty() && msg.back() == '\n') msg.pop_back();
      std::snprintf(b, sizeof b, "pid=%u comm=%s message=\"%s\"", e.pid, printable(e.comm, strnlen(e.comm, 16)).c_str(),
                    printable(msg.data(), msg.size()).c_str());
      return b;
    }
    case RELAYRES_EV_TEST: {
      relayres_ev_test e;
      if (!payload_as(payload, e)) break;
      std::snprintf(b, sizeof b, "counter=%" PRIu64 " cpu=%u", e.counter, e.cpu);
      return b;
    }
    default: {
      std::string s = std::to_string(payload.size()) + " bytes:";
      for (size_t i = 0; i < payload.size() && i < 16; ++i) {
        std::snprintf(b, sizeof b, " %02x", static_cast<unsigned>(payload[i]));
        s += b;
      }
      return s;
    }
  }
  return "(payload of " + std::to_string(payload.size()) + " bytes too short for " + relayres_type_name(type) + ")";
}

}  // namespace

std::string format_relayres_record(const RelayresHeaderInfo& h, std::span<const std::byte> frame) {
  if (frame.size() < sizeof(relayres_record)) return "(short record)";
  const auto r = load<relayres_record>(frame, 0);
  const i64 wall = h.wall_ns(r.ts);
  std::time_t secs = static_cast<std::time_t>(wall >= 0 ? wall / 1000000000 : 0);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  char b[160];
  std::snprintf(b, sizeof b, "%s.%09" PRIi64 " cpu%u seq=%" PRIu64 " %s ", when, wall >= 0 ? wall % 1000000000 : 0,
                r.cpu, r.seq, relayres_type_name(r.type).c_str());
  return b + decode_payload(r.type, frame.subspan(sizeof(relayres_record), std::min<size_t>(r.len, frame.size()) -
                                                                               sizeof(relayres_record)));
}

std::string render_relayres_summary(const RelayresChannel& ch) {
  const RelayresHeaderInfo& h = ch.header;
  std::string s;
  char b[512];
  auto add = [&](const char* fmt, auto... a) {
    std::snprintf(b, sizeof b, fmt, a...);
    s += b;
  };
  add("relayres channel at 0x%" PRIx64 ", %" PRIu64 " bytes, version %u\n", h.region_phys, h.region_size, h.version);
  add("writer:      %s, boot_id %s, generation %" PRIu64 "\n", h.release.c_str(), h.boot_id.c_str(), h.generation);
  add("geometry:    %u CPUs x %u sub-buffers x %u bytes, %s mode\n", h.nr_cpus, h.n_subbufs, h.subbuf_size,
      h.overwrite() ? "overwrite (flight recorder)" : "no-overwrite");
  add("private:     %s, producer \"%s\", consumed=%u, %u bytes used\n", ch.priv.valid ? "valid" : "INVALID",
      ch.priv.producer.c_str(), ch.priv.consumed, ch.priv.used);
  add("records:     %" PRIu64 " retained\n", ch.total_records());
  for (const auto& c : ch.cpus) {
    if (c.record_count == 0 && c.slots_valid == 0 && c.ctl.produced == 0 && c.ctl.lost == 0) {
      add("cpu %u: no data\n", c.cpu);
      continue;
    }
    add("cpu %u: %" PRIu64 " records", c.cpu, c.record_count);
    if (c.record_count) add(", seq %" PRIu64 "..%" PRIu64, c.first_seq, c.last_seq);
    if (c.subbufs_kept) add(", sub-buffers %" PRIu64 "..%" PRIu64, c.first_sb_seq, c.last_sb_seq);
    add("; gaps %" PRIu64 ", before window %" PRIu64 ", lost %" PRIu64 ", overwritten %" PRIu64 ", torn %" PRIu64
        ", padding %" PRIu64 " bytes\n",
        c.gaps, c.before_window, c.ctl.lost, c.ctl.overwritten, c.torn, c.padding_bytes);
  }
  for (const auto& w : ch.warnings) s += "warning: " + w + "\n";
  for (const auto& c : ch.cpus)
    for (const auto& w : c.warnings) s += "warning: " + w + "\n";
  return s;
}

}  // namespace salvage

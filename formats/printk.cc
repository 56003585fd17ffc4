// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/printk.h"

#include <cinttypes>
#include <cstdio>

#include "formats/endian.h"

namespace salvage {

namespace {

// Largest array salvage reads in one go. The kernel allows log_buf_len up to
// 2 GiB (LOG_BUF_LEN_MAX, kernel/printk/printk.c); nobody runs that, and a
// garbage size_bits/count_bits must not make us allocate gigabytes.
constexpr u64 kMaxArrayBytes = 1ULL << 30;
constexpr u64 kMaxStructBytes = 1ULL << 16;

// kernel/printk/printk_ringbuffer.h: the top two bits of a descriptor's
// state_var are its state, the rest its id.
constexpr u64 kDescFlagsShift = 62;
constexpr u64 kDescIdMask = ~(3ULL << kDescFlagsShift);
constexpr u64 kDescCommitted = 1, kDescFinalized = 2;

std::string hex(u64 v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

// C-locale isprint()/isspace(), as makedumpfile (which never calls
// setlocale) sees them. Bytes >= 0x80 are negative chars there: neither.
bool printable_or_space(u8 c) { return (c >= 0x20 && c <= 0x7e) || (c >= 0x09 && c <= 0x0d); }

// A VMCOREINFO value, or an error naming the key.
struct Keys {
  const Vmcoreinfo& vi;
  // Offsets past 64 KiB are garbage; rejecting them here also keeps the
  // sums below from overflowing.
  Result<u64> off(const std::string& k) const {
    ASSIGN_OR_RETURN(u64 v, vi.offset(k));
    if (v > kMaxStructBytes)
      return make_error("VMCOREINFO OFFSET(" + k + ")=" + std::to_string(v) + " is not a plausible member offset");
    return v;
  }
  Result<u64> size(const std::string& k) const {
    ASSIGN_OR_RETURN(u64 v, vi.size(k));
    if (v == 0 || v > kMaxStructBytes)
      return make_error("VMCOREINFO SIZE(" + k + ")=" + std::to_string(v) + " is not a plausible struct size");
    return v;
  }
};

// Checks that a field of `width` bytes at `off` lies inside a struct of
// `limit` bytes; `what` names the VMCOREINFO keys the offset came from.
Result<void> need(const std::string& what, u64 off, u64 width, u64 limit, const std::string& limit_key) {
  if (off > limit || width > limit - off)
    return make_error("VMCOREINFO " + what + "=" + std::to_string(off) + " plus " + std::to_string(width) +
                      " bytes exceeds " + limit_key + "=" + std::to_string(limit));
  return Ok();
}

// Reads `len` bytes at `va` into a new buffer; `what` names the object.
Result<std::vector<std::byte>> read_array(const VirtReader& read, u64 va, u64 len, const std::string& what) {
  if (len > kMaxArrayBytes)
    return make_error(what + ": " + std::to_string(len) + " bytes is more than salvage accepts (" +
                      std::to_string(kMaxArrayBytes) + ")");
  std::vector<std::byte> buf(len);
  TRY_CTX(read(VirtAddr(va), buf), "reading " + what + " (" + std::to_string(len) + " bytes at " + hex(va) + ")");
  return buf;
}

Result<u64> read_word(const VirtReader& read, u64 va, unsigned width, const std::string& what) {
  std::byte b[8] = {};
  TRY_CTX(read(VirtAddr(va), std::span<std::byte>(b, width)), "reading " + what + " at " + hex(va));
  return load_le<u64>(b);
}

template <typename T>
T get(const std::vector<std::byte>& buf, u64 off) {
  return load_le<T>(buf.data() + off);  // callers have bounds-checked off
}

// ---- Linux 5.10+: the lockless ringbuffer (kernel/printk/printk_ringbuffer.h)

struct PrbLayout {
  u64 size_prb, size_desc, size_info;
  u64 desc_ring, text_ring;  // offsets inside printk_ringbuffer
  u64 count_bits, descs, infos, head_id, tail_id;  // inside prb_desc_ring
  u64 state_var, lpos_begin, lpos_next;            // inside prb_desc
  u64 ts_nsec, text_len;                           // inside printk_info
  std::optional<u64> caller_id;
  u64 size_bits, data;  // inside prb_data_ring
  u64 counter;          // atomic_long_t.counter
};

Result<PrbLayout> prb_layout(const Vmcoreinfo& vi) {
  Keys k{vi};
  PrbLayout l{};
  ASSIGN_OR_RETURN(l.size_prb, k.size("printk_ringbuffer"));
  ASSIGN_OR_RETURN(l.size_desc, k.size("prb_desc"));
  ASSIGN_OR_RETURN(l.size_info, k.size("printk_info"));
  ASSIGN_OR_RETURN(l.desc_ring, k.off("printk_ringbuffer.desc_ring"));
  ASSIGN_OR_RETURN(l.text_ring, k.off("printk_ringbuffer.text_data_ring"));
  ASSIGN_OR_RETURN(u64 count_bits, k.off("prb_desc_ring.count_bits"));
  ASSIGN_OR_RETURN(u64 descs, k.off("prb_desc_ring.descs"));
  ASSIGN_OR_RETURN(u64 infos, k.off("prb_desc_ring.infos"));
  ASSIGN_OR_RETURN(u64 head_id, k.off("prb_desc_ring.head_id"));
  ASSIGN_OR_RETURN(u64 tail_id, k.off("prb_desc_ring.tail_id"));
  ASSIGN_OR_RETURN(u64 state_var, k.off("prb_desc.state_var"));
  ASSIGN_OR_RETURN(u64 text_blk_lpos, k.off("prb_desc.text_blk_lpos"));
  ASSIGN_OR_RETURN(u64 begin, k.off("prb_data_blk_lpos.begin"));
  ASSIGN_OR_RETURN(u64 next, k.off("prb_data_blk_lpos.next"));
  ASSIGN_OR_RETURN(l.ts_nsec, k.off("printk_info.ts_nsec"));
  ASSIGN_OR_RETURN(l.text_len, k.off("printk_info.text_len"));
  if (vi.has("OFFSET(printk_info.caller_id)")) {
    ASSIGN_OR_RETURN(u64 c, k.off("printk_info.caller_id"));
    l.caller_id = c;
  }
  ASSIGN_OR_RETURN(u64 size_bits, k.off("prb_data_ring.size_bits"));
  ASSIGN_OR_RETURN(u64 data, k.off("prb_data_ring.data"));
  ASSIGN_OR_RETURN(l.counter, k.off("atomic_long_t.counter"));

  // Every field is read from a buffer of the struct's size: prove it fits,
  // so that garbage offsets give an error naming the key, not a wild read.
  const std::string P = "SIZE(printk_ringbuffer)";
  auto in_prb = [&](u64 outer, u64 inner, u64 w, const char* name) {
    return need(name, outer + inner, w, l.size_prb, P);
  };
  TRY(in_prb(l.desc_ring, count_bits, 4, "OFFSET(printk_ringbuffer.desc_ring)+OFFSET(prb_desc_ring.count_bits)"));
  TRY(in_prb(l.desc_ring, descs, 8, "OFFSET(printk_ringbuffer.desc_ring)+OFFSET(prb_desc_ring.descs)"));
  TRY(in_prb(l.desc_ring, infos, 8, "OFFSET(printk_ringbuffer.desc_ring)+OFFSET(prb_desc_ring.infos)"));
  TRY(in_prb(l.desc_ring, head_id + l.counter, 8, "OFFSET(printk_ringbuffer.desc_ring)+OFFSET(prb_desc_ring.head_id)"));
  TRY(in_prb(l.desc_ring, tail_id + l.counter, 8, "OFFSET(printk_ringbuffer.desc_ring)+OFFSET(prb_desc_ring.tail_id)"));
  TRY(in_prb(l.text_ring, size_bits, 4, "OFFSET(printk_ringbuffer.text_data_ring)+OFFSET(prb_data_ring.size_bits)"));
  TRY(in_prb(l.text_ring, data, 8, "OFFSET(printk_ringbuffer.text_data_ring)+OFFSET(prb_data_ring.data)"));
  l.count_bits = l.desc_ring + count_bits;
  l.descs = l.desc_ring + descs;
  l.infos = l.desc_ring + infos;
  l.head_id = l.desc_ring + head_id + l.counter;
  l.tail_id = l.desc_ring + tail_id + l.counter;
  l.size_bits = l.text_ring + size_bits;
  l.data = l.text_ring + data;

  const std::string D = "SIZE(prb_desc)", I = "SIZE(printk_info)";
  TRY(need("OFFSET(prb_desc.state_var)+OFFSET(atomic_long_t.counter)", state_var + l.counter, 8, l.size_desc, D));
  TRY(need("OFFSET(prb_desc.text_blk_lpos)+OFFSET(prb_data_blk_lpos.begin)", text_blk_lpos + begin, 8, l.size_desc, D));
  TRY(need("OFFSET(prb_desc.text_blk_lpos)+OFFSET(prb_data_blk_lpos.next)", text_blk_lpos + next, 8, l.size_desc, D));
  TRY(need("OFFSET(printk_info.ts_nsec)", l.ts_nsec, 8, l.size_info, I));
  TRY(need("OFFSET(printk_info.text_len)", l.text_len, 2, l.size_info, I));
  if (l.caller_id) TRY(need("OFFSET(printk_info.caller_id)", *l.caller_id, 4, l.size_info, I));
  l.state_var = state_var + l.counter;
  l.lpos_begin = text_blk_lpos + begin;
  l.lpos_next = text_blk_lpos + next;
  return l;
}

struct PrbMap {
  u64 count = 0;      // descriptors
  u64 data_size = 0;  // text data ring bytes
  std::vector<std::byte> descs, infos, text;
};

// Prints one record if its descriptor is committed or finalized, exactly
// as makedumpfile 1.7.2 printk.c dump_record() does.
bool dump_record(const PrbLayout& l, const PrbMap& m, u64 id, const DmesgOptions& opt, DmesgLog& log) {
  const u64 idx = id % m.count;
  const u64 d = idx * l.size_desc;
  const u64 sv = get<u64>(m.descs, d + l.state_var);
  if ((sv & kDescIdMask) != id) return false;  // desc_miss: slot reused or never written
  const u64 state = sv >> kDescFlagsShift;
  if (state != kDescCommitted && state != kDescFinalized) return false;  // reserved or reusable

  u64 begin = get<u64>(m.descs, d + l.lpos_begin) % m.data_size;
  u64 next = get<u64>(m.descs, d + l.lpos_next) % m.data_size;
  if (begin == next) return false;  // data-less record
  // A block that ends exactly at the end of the ring: up to 6.17 the kernel
  // wrapped such a block to offset 0 (get_next_lpos compares DATA_WRAPS of
  // begin and next), so next % size was never 0 for a real block; 6.18
  // ("printk_ringbuffer: don't needlessly wrap data blocks around") keeps it
  // in place. makedumpfile 1.7.2 would take it for a wrapped block and print
  // the text at offset 0; reading it in place is right for both kernels and
  // changes nothing on older ones.
  if (next == 0) next = m.data_size;
  const u64 inf = idx * l.size_info;
  u64 text_len = get<u16>(m.infos, inf + l.text_len);
  if (begin > next) begin = 0;  // the block wrapped: its text starts at offset 0
  begin += sizeof(u64);         // skip the block's descriptor id
  if (next - begin < text_len) text_len = next - begin;  // truncated record (unsigned, as in makedumpfile)
  if (begin >= m.data_size) {
    log.warnings.push_back("record id " + hex(id) + ": text block begins past the data ring, skipped");
    return false;
  }
  if (text_len > m.data_size - begin) {
    log.warnings.push_back("record id " + hex(id) + ": text runs past the data ring, cut at its end");
    text_len = m.data_size - begin;
  }
  std::optional<u32> caller;
  if (opt.caller_id && l.caller_id) caller = get<u32>(m.infos, inf + *l.caller_id);
  format_record(log.text, get<u64>(m.infos, inf + l.ts_nsec), caller,
                std::span<const std::byte>(m.text.data() + begin, text_len));
  return true;
}

// The clear_seq that `dmesg -c` left; a latched_seq on 5.13+ (two copies,
// the low bit of the sequence count picks the stable one).
Result<u64> read_clear_seq(const Vmcoreinfo& vi, const VirtReader& read) {
  ASSIGN_OR_RETURN(u64 sym, vi.symbol("clear_seq"));
  ASSIGN_OR_RETURN(u64 seq, read_word(read, sym, 8, "clear_seq"));
  if (vi.has("SIZE(latched_seq)")) {
    ASSIGN_OR_RETURN(u64 val, Keys{vi}.off("latched_seq.val"));
    ASSIGN_OR_RETURN(seq, read_word(read, sym + val + (seq & 1) * 8, 8, "clear_seq.val"));
  }
  return seq;
}

Result<DmesgLog> dump_prb(const Vmcoreinfo& vi, const VirtReader& read, const DmesgOptions& opt) {
  ASSIGN_OR_RETURN(PrbLayout l, prb_layout(vi));
  ASSIGN_OR_RETURN(u64 prb_sym, vi.symbol("prb"));
  ASSIGN_OR_RETURN(u64 prb_addr, read_word(read, prb_sym, 8, "prb (SYMBOL(prb))"));
  ASSIGN_OR_RETURN(auto prb, read_array(read, prb_addr, l.size_prb, "struct printk_ringbuffer"));

  PrbMap m;
  const u32 count_bits = get<u32>(prb, l.count_bits);
  const u32 size_bits = get<u32>(prb, l.size_bits);
  if (count_bits > 30)
    return make_error("prb.desc_ring.count_bits=" + std::to_string(count_bits) + " at " + hex(prb_addr + l.count_bits) +
                      " is implausible");
  if (size_bits < 4 || size_bits > 30)
    return make_error("prb.text_data_ring.size_bits=" + std::to_string(size_bits) + " at " +
                      hex(prb_addr + l.size_bits) + " is implausible");
  m.count = 1ULL << count_bits;
  m.data_size = 1ULL << size_bits;
  if (l.size_desc > kMaxArrayBytes / m.count || l.size_info > kMaxArrayBytes / m.count)
    return make_error("prb.desc_ring.count_bits=" + std::to_string(count_bits) + " makes the descriptor arrays too large");
  ASSIGN_OR_RETURN(m.descs, read_array(read, get<u64>(prb, l.descs), l.size_desc * m.count, "prb.desc_ring.descs"));
  ASSIGN_OR_RETURN(m.infos, read_array(read, get<u64>(prb, l.infos), l.size_info * m.count, "prb.desc_ring.infos"));
  ASSIGN_OR_RETURN(m.text, read_array(read, get<u64>(prb, l.data), m.data_size, "prb.text_data_ring.data"));

  DmesgLog log;
  log.layout = "printk_ringbuffer";
  const u64 head = get<u64>(prb, l.head_id) & kDescIdMask;
  u64 tail = get<u64>(prb, l.tail_id) & kDescIdMask;
  if (opt.partial && vi.has("SYMBOL(clear_seq)")) {
    ASSIGN_OR_RETURN(u64 clear_seq, read_clear_seq(vi, read));
    // makedumpfile's formula: the id in head's lap whose index is clear_seq's
    // (seq and id share their index, kernel prb_reserve). If that lands
    // after head the record is one lap earlier; makedumpfile would then
    // loop through 2^62 ids, we step back a lap instead.
    tail = (head - head % m.count + clear_seq % m.count) & kDescIdMask;
    if (((head - tail) & kDescIdMask) >= m.count) tail = (tail - m.count) & kDescIdMask;
  }
  // makedumpfile walks tail..head inclusive. In a sane ring there are at
  // most count ids in that range; anything else is corruption, and walking
  // it could take 2^62 steps, so keep only the newest count ids.
  u64 span = (head - tail) & kDescIdMask;
  if (span >= m.count) {
    log.warnings.push_back("descriptor ring tail id " + hex(tail) + " and head id " + hex(head) + " are " +
                           std::to_string(span) + " apart in a ring of " + std::to_string(m.count) +
                           "; reading only the newest " + std::to_string(m.count) + " ids");
    span = m.count - 1;
    tail = (head - span) & kDescIdMask;
  }
  u64 id = tail;
  for (u64 i = 0; i <= span; ++i, id = (id + 1) & kDescIdMask)
    if (dump_record(l, m, id, opt, log)) ++log.records;
  return log;
}

// ---- Linux 3.5 to 5.9: variable-length struct printk_log records in log_buf

Result<DmesgLog> dump_log_buf(const Vmcoreinfo& vi, const VirtReader& read, const DmesgOptions& opt) {
  // 3.5-3.10 named the struct "log"; makedumpfile accepts either name.
  const std::string s = vi.has("SIZE(printk_log)") ? "printk_log" : "log";
  Keys k{vi};
  ASSIGN_OR_RETURN(u64 size_log, k.size(s));
  ASSIGN_OR_RETURN(u64 off_len, k.off(s + ".len"));
  ASSIGN_OR_RETURN(u64 off_text_len, k.off(s + ".text_len"));
  ASSIGN_OR_RETURN(u64 off_ts, k.off(s + ".ts_nsec"));
  const std::string S = "SIZE(" + s + ")";
  TRY(need("OFFSET(" + s + ".len)", off_len, 2, size_log, S));
  TRY(need("OFFSET(" + s + ".text_len)", off_text_len, 2, size_log, S));
  TRY(need("OFFSET(" + s + ".ts_nsec)", off_ts, 8, size_log, S));

  ASSIGN_OR_RETURN(u64 buf_sym, vi.symbol("log_buf"));
  ASSIGN_OR_RETURN(u64 len_sym, vi.symbol("log_buf_len"));
  ASSIGN_OR_RETURN(u64 next_sym, vi.symbol("log_next_idx"));
  auto first_sym = vi.symbol(opt.partial && vi.has("SYMBOL(clear_idx)") ? "clear_idx" : "log_first_idx");
  if (!first_sym.ok()) return std::move(first_sym).error();
  ASSIGN_OR_RETURN(u64 buf_addr, read_word(read, buf_sym, 8, "log_buf"));
  ASSIGN_OR_RETURN(u64 buf_len, read_word(read, len_sym, 4, "log_buf_len"));
  ASSIGN_OR_RETURN(u64 first, read_word(read, *first_sym, 4, "log_first_idx"));
  ASSIGN_OR_RETURN(u64 next_idx, read_word(read, next_sym, 4, "log_next_idx"));
  if (buf_len < size_log || buf_len > kMaxArrayBytes)
    return make_error("log_buf_len=" + std::to_string(buf_len) + " at " + hex(len_sym) + " is implausible");
  ASSIGN_OR_RETURN(auto buf, read_array(read, buf_addr, buf_len, "log_buf"));

  DmesgLog log;
  log.layout = "printk_log";
  // Every record is at least size_log bytes, so a ring holds at most
  // buf_len / size_log of them: more steps mean a cycle (makedumpfile's
  // detect_cycle) or a zero-length record.
  const u64 max_steps = buf_len / size_log + 1;
  u64 ptr = first;
  for (u64 step = 0; ptr != next_idx; ++step) {
    if (step > max_steps) {
      log.warnings.push_back("log_buf records form a cycle; log cut at index " + hex(ptr));
      break;
    }
    if (ptr > buf_len - size_log) {
      log.warnings.push_back("log_buf index " + hex(ptr) + " is outside log_buf (" + hex(buf_len) + " bytes); log cut there");
      break;
    }
    // A zero len marks the end of the buffer: the record is at offset 0.
    u64 msglen = get<u16>(buf, ptr + off_len);
    const u64 rec = msglen ? ptr : 0;
    if (!msglen) msglen = get<u16>(buf, off_len);
    u64 text_len = get<u16>(buf, rec + off_text_len);
    if (text_len > buf_len - rec - size_log) {
      log.warnings.push_back("log_buf record at " + hex(rec) + " runs past log_buf; text cut");
      text_len = buf_len - rec - size_log;
    }
    format_record(log.text, get<u64>(buf, rec + off_ts), std::nullopt,
                  std::span<const std::byte>(buf.data() + rec + size_log, text_len));
    ++log.records;
    ptr = rec + msglen;
  }
  return log;
}

}  // namespace

void format_record(std::string& out, u64 ts_nsec, std::optional<u32> caller_id, std::span<const std::byte> text) {
  char prefix[64];
  int n = std::snprintf(prefix, sizeof prefix, "[%5" PRIu64 ".%06" PRIu64 "] ", ts_nsec / 1000000000,
                        ts_nsec % 1000000000 / 1000);
  out.append(prefix, static_cast<size_t>(n));
  if (caller_id) {
    // makedumpfile >= 1.7.5: 'C' + cpu for the CPU bit (0x80000000), else
    // 'T' + pid, right-aligned in PID_CHARS_DEFAULT (8) columns.
    const u32 cpu_bit = 0x80000000u;
    char cid[16], col[32];
    std::snprintf(cid, sizeof cid, "%c%u", (*caller_id & cpu_bit) ? 'C' : 'T', *caller_id & ~cpu_bit);
    int c = std::snprintf(col, sizeof col, "[%8s] ", cid);
    out.append(col, static_cast<size_t>(c));
    n += c;
  }
  const std::string indent(static_cast<size_t>(n), ' ');
  for (std::byte b : text) {
    const u8 c = static_cast<u8>(b);
    if (c == '\n') {
      out += '\n';
      out += indent;
    } else if (printable_or_space(c)) {
      out += static_cast<char>(c);
    } else {
      // "\\x%02x" of a (signed) char promoted to int: 0x80.. print as ffffffXX.
      char esc[16];
      int e = std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned>(static_cast<int>(static_cast<signed char>(c))));
      out.append(esc, static_cast<size_t>(e));
    }
  }
  out += '\n';
}

Result<DmesgLog> extract_dmesg(const Vmcoreinfo& vi, const VirtReader& read, const DmesgOptions& opt) {
  // Same choice as makedumpfile dump_dmesg(): SYMBOL(prb) means 5.10+.
  if (vi.has("SYMBOL(prb)")) return dump_prb(vi, read, opt).context("printk ringbuffer");
  if (vi.has("SYMBOL(log_buf)")) {
    if (!vi.has("SYMBOL(log_first_idx)"))
      return make_error("log_buf: the pre-3.5 plain-text log_buf format is not supported");
    return dump_log_buf(vi, read, opt).context("log_buf");
  }
  return make_error("VMCOREINFO has neither SYMBOL(prb) nor SYMBOL(log_buf): cannot find the kernel log");
}

}  // namespace salvage

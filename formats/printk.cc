// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/hex.h"
#include "formats/printk.h"

#include <cinttypes>
#include <cstdio>

#include "formats/endian.h"

namespace salvage {

namespace {

// Ring sizes. The kernel caps log_buf_len at LOG_BUF_LEN_MAX = 2 GiB
// (kernel/printk/printk.c, 3.5 through 6.x; CONFIG_LOG_BUF_SHIFT itself
// stops at 25 but the log_buf_len= boot parameter may go up to the cap),
// and 5.10+ sizes the descriptor ring as log_buf_len >> PRB_AVGBITS (5)
// descriptors. Nothing of ring size is ever allocated: the rings are read a
// chunk or a record at a time, so these bounds only reject garbage.
constexpr u32 kMaxSizeBits = 31;              // ilog2(LOG_BUF_LEN_MAX)
constexpr u32 kMaxCountBits = kMaxSizeBits - 5;  // ... >> PRB_AVGBITS
constexpr u64 kMaxLogBufLen = 1ULL << kMaxSizeBits;
// Descriptor/info arrays are read in chunks of about a page: small enough
// for a capture kernel, and an unreadable page loses only its own records.
constexpr u64 kChunkBytes = 4096;
constexpr u64 kMaxStructBytes = 1ULL << 16;

// kernel/printk/printk_ringbuffer.h: the top two bits of a descriptor's
// state_var are its state, the rest its id.
constexpr u64 kDescFlagsShift = 62;
constexpr u64 kDescIdMask = ~(3ULL << kDescFlagsShift);
constexpr u64 kDescCommitted = 1, kDescFinalized = 2;


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
// Only for small objects (a struct, one record's text: callers bound len).
Result<std::vector<std::byte>> read_array(const VirtReader& read, u64 va, u64 len, const std::string& what) {
  std::vector<std::byte> buf(len);
  TRY_CTX(read(VirtAddr(va), buf), "reading " + what + " (" + std::to_string(len) + " bytes at " + hex(va) + ")");
  return buf;
}

// An array of `count` elements of `elem` bytes in the crashed kernel's
// memory, read lazily a chunk at a time. A chunk that cannot be read is
// remembered, so walking through a large unreadable area costs no more
// reads and no error strings per element.
class LazyArray {
 public:
  LazyArray(const VirtReader& read, u64 base, u64 elem, u64 count, std::string what)
      : read_(read), base_(base), elem_(elem), count_(count), what_(std::move(what)),
        per_chunk_(std::max<u64>(1, kChunkBytes / elem)) {}

  // The first element must be readable: otherwise the array is not there at
  // all and the caller fails with this error (naming the array and address).
  Result<void> probe() {
    std::vector<std::byte> one(elem_);
    TRY_CTX(read_(VirtAddr(base_), one), "reading " + what_ + " (" + std::to_string(count_) + " x " +
                                             std::to_string(elem_) + " bytes at " + hex(base_) + ")");
    return Ok();
  }

  // Element idx (< count), or nullptr if its chunk is unreadable.
  const std::byte* at(u64 idx) {
    const u64 c = idx / per_chunk_;
    if (c != chunk_) {
      chunk_ = c;
      const u64 first = c * per_chunk_, n = std::min(per_chunk_, count_ - first);
      buf_.resize(n * elem_);
      ok_ = read_(VirtAddr(base_ + first * elem_), buf_).ok();
      if (!ok_) ++bad_chunks_;
    }
    return ok_ ? buf_.data() + (idx % per_chunk_) * elem_ : nullptr;
  }
  u64 bad_chunks() const { return bad_chunks_; }
  const std::string& what() const { return what_; }

 private:
  const VirtReader& read_;
  u64 base_, elem_, count_;
  std::string what_;
  u64 per_chunk_;
  u64 chunk_ = ~u64{0};
  bool ok_ = false;
  u64 bad_chunks_ = 0;
  std::vector<std::byte> buf_;
};

Result<u64> read_word(const VirtReader& read, u64 va, unsigned width, const std::string& what) {
  std::byte b[8] = {};
  TRY_CTX(read(VirtAddr(va), std::span<std::byte>(b, width)), "reading " + what + " at " + hex(va));
  return load_le<u64>(b);
}

template <typename T>
T get(const std::vector<std::byte>& buf, u64 off) {
  return load_le<T>(buf.data() + off);  // callers have bounds-checked off
}
template <typename T>
T get(const std::byte* p, u64 off) {
  return load_le<T>(p + off);  // callers have bounds-checked off
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
  u64 data = 0;       // address of the text data ring
  LazyArray* descs;
  LazyArray* infos;
  u64 unreadable_text = 0;  // records whose text could not be read
  u64 text_bytes = 0;       // text printed so far
  std::vector<std::byte> text;  // one record's text
};

// Prints one record if its descriptor is committed or finalized, exactly
// as makedumpfile 1.7.2 printk.c dump_record() does.
bool dump_record(const PrbLayout& l, PrbMap& m, const VirtReader& read, u64 id, const DmesgOptions& opt,
                 DmesgLog& log) {
  const u64 idx = id % m.count;
  const std::byte* desc = m.descs->at(idx);
  if (!desc) return false;  // counted in bad_chunks()
  const u64 sv = get<u64>(desc, l.state_var);
  if ((sv & kDescIdMask) != id) return false;  // desc_miss: slot reused or never written
  const u64 state = sv >> kDescFlagsShift;
  if (state != kDescCommitted && state != kDescFinalized) return false;  // reserved or reusable

  u64 begin = get<u64>(desc, l.lpos_begin) % m.data_size;
  u64 next = get<u64>(desc, l.lpos_next) % m.data_size;
  if (begin == next) return false;  // data-less record
  // A block that ends exactly at the end of the ring: up to 6.17 the kernel
  // wrapped such a block to offset 0 (get_next_lpos compares DATA_WRAPS of
  // begin and next), so next % size was never 0 for a real block; 6.18
  // ("printk_ringbuffer: don't needlessly wrap data blocks around") keeps it
  // in place. makedumpfile 1.7.2 would take it for a wrapped block and print
  // the text at offset 0; reading it in place is right for both kernels and
  // changes nothing on older ones.
  if (next == 0) next = m.data_size;
  const std::byte* info = m.infos->at(idx);
  if (!info) return false;
  u64 text_len = get<u16>(info, l.text_len);
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
  // text_len <= 0xffff: one record's text is read at a time, never the ring.
  m.text.resize(text_len);
  if (text_len && !read(VirtAddr(m.data + begin), m.text).ok()) {
    ++m.unreadable_text;
    return false;
  }
  m.text_bytes += text_len;
  std::optional<u32> caller;
  if (opt.caller_id && l.caller_id) caller = get<u32>(info, *l.caller_id);
  format_record(log.text, get<u64>(info, l.ts_nsec), caller, m.text);
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
  if (count_bits > kMaxCountBits)
    return make_error("prb.desc_ring.count_bits=" + std::to_string(count_bits) + " at " + hex(prb_addr + l.count_bits) +
                      " is implausible (the kernel's maximum is " + std::to_string(kMaxCountBits) + ")");
  if (size_bits < 4 || size_bits > kMaxSizeBits)
    return make_error("prb.text_data_ring.size_bits=" + std::to_string(size_bits) + " at " +
                      hex(prb_addr + l.size_bits) + " is implausible (expected 4.." + std::to_string(kMaxSizeBits) +
                      ")");
  m.count = 1ULL << count_bits;
  m.data_size = 1ULL << size_bits;
  m.data = get<u64>(prb, l.data);
  LazyArray descs(read, get<u64>(prb, l.descs), l.size_desc, m.count, "prb.desc_ring.descs");
  LazyArray infos(read, get<u64>(prb, l.infos), l.size_info, m.count, "prb.desc_ring.infos");
  TRY(descs.probe());
  TRY(infos.probe());
  {
    std::byte first[1];
    TRY_CTX(read(VirtAddr(m.data), first), "reading prb.text_data_ring.data (" + std::to_string(m.data_size) +
                                                " bytes at " + hex(m.data) + ")");
  }
  m.descs = &descs;
  m.infos = &infos;

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
  for (u64 i = 0; i <= span; ++i, id = (id + 1) & kDescIdMask) {
    if (dump_record(l, m, read, id, opt, log)) ++log.records;
    // Live records own disjoint blocks of the data ring, so a sane ring
    // never prints more text than the ring holds; descriptors pointing at
    // the same bytes again and again would make the log grow without end.
    if (m.text_bytes > 2 * m.data_size) {
      log.warnings.push_back("records after id " + hex(id) + " skipped: " + std::to_string(m.text_bytes) +
                             " bytes of text printed from a data ring of " + std::to_string(m.data_size) +
                             " (descriptors overlap)");
      break;
    }
  }
  for (LazyArray* a : {&descs, &infos})
    if (a->bad_chunks())
      log.warnings.push_back(std::to_string(a->bad_chunks()) + " chunks of " + a->what() +
                             " could not be read; their records are missing");
  if (m.unreadable_text)
    log.warnings.push_back("the text of " + std::to_string(m.unreadable_text) +
                           " records could not be read from prb.text_data_ring.data; they are missing");
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
  if (buf_len < size_log || buf_len > kMaxLogBufLen)
    return make_error("log_buf_len=" + std::to_string(buf_len) + " at " + hex(len_sym) +
                      " is implausible (expected " + std::to_string(size_log) + ".." + std::to_string(kMaxLogBufLen) +
                      ", LOG_BUF_LEN_MAX)");

  // Records are read one at a time (header, then text), never the whole
  // buffer. A ring that cannot be read at its first record is an error;
  // damage further on ends the log with a warning.
  std::vector<std::byte> hdr(size_log), text;
  auto read_hdr = [&](u64 idx) { return read(VirtAddr(buf_addr + idx), hdr); };

  DmesgLog log;
  log.layout = "printk_log";
  // The walk from first to next covers less than one lap of the ring: at
  // most one wrap to index 0, and each record moves ptr forward by at least
  // size_log bytes within a lap. More means a cycle (makedumpfile's
  // detect_cycle) or a zero-length record.
  u64 ptr = first, wraps = 0, consumed = 0;
  bool first_rec = true;
  while (ptr != next_idx) {
    if (ptr > buf_len - size_log) {
      log.warnings.push_back("log_buf index " + hex(ptr) + " is outside log_buf (" + hex(buf_len) + " bytes); log cut there");
      break;
    }
    if (auto r = read_hdr(ptr); !r.ok()) {
      if (first_rec)
        return std::move(r).error().with_context("reading log_buf record at index " + hex(ptr) + " (" +
                                                  hex(buf_addr + ptr) + ")");
      log.warnings.push_back("log_buf record at index " + hex(ptr) + " is unreadable; log cut there");
      break;
    }
    first_rec = false;
    // A zero len marks the end of the buffer: the record is at offset 0.
    u64 msglen = get<u16>(hdr, off_len);
    u64 rec = ptr;
    if (!msglen) {
      rec = 0;
      if (++wraps > 1 || !read_hdr(0).ok()) {
        log.warnings.push_back("log_buf records wrap to index 0 again at " + hex(ptr) + " (a cycle); log cut there");
        break;
      }
      msglen = get<u16>(hdr, off_len);
    }
    if (msglen < size_log || consumed + msglen > buf_len) {
      log.warnings.push_back("log_buf record at " + hex(rec) + " has len " + std::to_string(msglen) +
                             (msglen < size_log ? ", shorter than its header" : ", past one lap of the ring") +
                             " (a cycle); log cut there");
      break;
    }
    consumed += msglen;
    u64 text_len = get<u16>(hdr, off_text_len);
    if (text_len > buf_len - rec - size_log) {
      log.warnings.push_back("log_buf record at " + hex(rec) + " runs past log_buf; text cut");
      text_len = buf_len - rec - size_log;
    }
    text.resize(text_len);  // <= 0xffff
    if (text_len && !read(VirtAddr(buf_addr + rec + size_log), text).ok()) {
      log.warnings.push_back("log_buf record text at " + hex(rec + size_log) + " is unreadable; log cut there");
      break;
    }
    format_record(log.text, get<u64>(hdr, off_ts), std::nullopt, text);
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

// SPDX-License-Identifier: GPL-2.0-or-later
// The printk decoders against rings built in memory the way the kernel
// builds them (kernel/printk/printk_ringbuffer.c: data blocks of
// [id][text] aligned to 8, wrapping blocks stored at offset 0, descriptors
// reused modulo the ring), then damaged: every result must be a log or an
// error, never a crash or an endless loop.
#include "formats/printk.h"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstring>
#include <deque>
#include <map>
#include <random>

#include "formats/endian.h"

namespace salvage {
namespace {

constexpr u64 kIdMask = ~(3ULL << 62);

// Kernel memory as a few mapped regions; anything else is unreadable.
struct FakeMemory {
  std::map<u64, std::vector<std::byte>> regions;
  std::vector<std::byte>& map(u64 va, u64 len) { return regions[va] = std::vector<std::byte>(len); }
  Result<void> read(VirtAddr va, std::span<std::byte> out) const {
    auto it = regions.upper_bound(va.value);
    if (it != regions.begin()) {
      --it;
      u64 off = va.value - it->first;
      if (off <= it->second.size() && out.size() <= it->second.size() - off) {
        std::memcpy(out.data(), it->second.data() + off, out.size());
        return Ok();
      }
    }
    char b[64];
    std::snprintf(b, sizeof b, "virtual address 0x%" PRIx64 " is not mapped", va.value);
    return make_error(b);
  }
  VirtReader reader() const {
    return [this](VirtAddr va, std::span<std::byte> out) { return read(va, out); };
  }
};

// Where the fields live. Default: the real 6.1 x86_64 layout; tests also
// shuffle it to prove the decoder takes everything from VMCOREINFO.
struct Layout {
  u64 size_prb = 88, desc_ring = 0, text_ring = 48;
  u64 count_bits = 0, descs = 8, infos = 16, head_id = 24, tail_id = 32;
  u64 size_desc = 24, state_var = 0, lpos = 8, begin = 0, next = 8;
  u64 size_info = 88, ts = 8, text_len = 16, caller = 20;
  u64 size_bits = 0, data = 8;

  std::string vmcoreinfo() const {
    auto kv = [](const std::string& k, u64 v) { return k + "=" + std::to_string(v) + "\n"; };
    return "OSRELEASE=6.1.0-synthetic\nSYMBOL(prb)=ffffffff81000000\nSYMBOL(clear_seq)=ffffffff81000100\n" +
           kv("SIZE(printk_ringbuffer)", size_prb) + kv("OFFSET(printk_ringbuffer.desc_ring)", desc_ring) +
           kv("OFFSET(printk_ringbuffer.text_data_ring)", text_ring) + kv("OFFSET(prb_desc_ring.count_bits)", count_bits) +
           kv("OFFSET(prb_desc_ring.descs)", descs) + kv("OFFSET(prb_desc_ring.infos)", infos) +
           kv("OFFSET(prb_desc_ring.head_id)", head_id) + kv("OFFSET(prb_desc_ring.tail_id)", tail_id) +
           kv("SIZE(prb_desc)", size_desc) + kv("OFFSET(prb_desc.state_var)", state_var) +
           kv("OFFSET(prb_desc.text_blk_lpos)", lpos) + kv("OFFSET(prb_data_blk_lpos.begin)", begin) +
           kv("OFFSET(prb_data_blk_lpos.next)", next) + kv("SIZE(printk_info)", size_info) +
           kv("OFFSET(printk_info.ts_nsec)", ts) + kv("OFFSET(printk_info.text_len)", text_len) +
           kv("OFFSET(printk_info.caller_id)", caller) + kv("OFFSET(prb_data_ring.size_bits)", size_bits) +
           kv("OFFSET(prb_data_ring.data)", data) + "SIZE(atomic_long_t)=8\nOFFSET(atomic_long_t.counter)=0\n" +
           "SIZE(latched_seq)=24\nOFFSET(latched_seq.val)=8\n";
  }
};

constexpr u64 kPrbPtr = 0xffffffff81000000ULL, kClearSeq = 0xffffffff81000100ULL;
constexpr u64 kPrb = 0xffff888000010000ULL, kDescs = 0xffff888000100000ULL;
constexpr u64 kInfos = 0xffff888000200000ULL, kData = 0xffff888000400000ULL;

struct Rec {
  u64 id, ts, seq;
  std::string text;
};

// A kernel-like writer: descriptor ids start just below the 62-bit id wrap
// so tests cross it; the oldest records are evicted when either ring is full.
class SynthRing {
 public:
  SynthRing(unsigned cbits, unsigned sbits, Layout l = {}) : l_(l), count_(1ULL << cbits), size_(1ULL << sbits) {
    auto& p = mem.map(kPrbPtr, 8);
    store_le<u64>(p.data(), kPrb);
    auto& c = mem.map(kClearSeq, 24);  // latched_seq: seqcount, val[2]
    (void)c;
    prb_ = &mem.map(kPrb, l.size_prb);
    descs_ = &mem.map(kDescs, count_ * l.size_desc);
    infos_ = &mem.map(kInfos, count_ * l.size_info);
    data_ = &mem.map(kData, size_);
    put32(*prb_, l.desc_ring + l.count_bits, cbits);
    put64(*prb_, l.desc_ring + l.descs, kDescs);
    put64(*prb_, l.desc_ring + l.infos, kInfos);
    put32(*prb_, l.text_ring + l.size_bits, sbits);
    put64(*prb_, l.text_ring + l.data, kData);
    // Every descriptor starts reusable with an id that is not its own.
    for (u64 i = 0; i < count_; ++i) put64(*descs_, i * l.size_desc + l.state_var, (3ULL << 62) | 0x1234567);
    // The kernel's first id is -count (DESC0_ID + 1): index 0, and a seq
    // that shares its index with its id. It also crosses the id wrap soon.
    next_id_ = (0 - count_) & kIdMask;
    sync_ids();
    vi = Vmcoreinfo::parse(l.vmcoreinfo());
  }

  void append(const std::string& text, u64 ts, u32 caller = 1) {
    const u64 id = next_id_;
    next_id_ = (next_id_ + 1) & kIdMask;
    if (live.size() == count_) evict();
    u64 begin = 3, next = 3;  // data-less: NO_LPOS in the kernel
    if (!text.empty()) {
      const u64 blk = (8 + text.size() + 7) & ~7ULL;
      begin = head_lpos_;
      next = begin + blk;
      u64 at = begin % size_;
      // Up to 6.17 a block wraps (data at offset 0) when begin and next are
      // in different wraps, even if it would end exactly at the ring's end
      // (get_next_lpos); 6.18+ keeps an exact fit in place.
      const bool wraps = exact_fit_in_place ? begin / size_ != (next - 1) / size_ : begin / size_ != next / size_;
      if (wraps) {
        next = (begin / size_ + 1) * size_ + blk;
        put64(*data_, at, id);
        at = 0;
      }
      while (!live.empty() && live.front().second.first + size_ < next) evict();
      put64(*data_, at, id);
      std::memcpy(data_->data() + at + 8, text.data(), text.size());
      head_lpos_ = next;
    }
    const u64 d = (id % count_) * l_.size_desc, in = (id % count_) * l_.size_info;
    put64(*descs_, d + l_.state_var, (2ULL << 62) | id);  // finalized
    put64(*descs_, d + l_.lpos + l_.begin, begin);
    put64(*descs_, d + l_.lpos + l_.next, next);
    put64(*infos_, in + l_.ts, ts);
    put16(*infos_, in + l_.text_len, static_cast<u16>(text.size()));
    put32(*infos_, in + l_.caller, caller);
    live.push_back({id, {begin, next}});
    recs.push_back({id, ts, seq_++, text});
    if (recs.size() > count_) recs.pop_front();
    sync_ids();
  }

  // What makedumpfile prints for the live records.
  std::string expected() const {
    std::string out;
    for (const auto& r : recs)
      if (!r.text.empty() && is_live(r.id))
        format_record(out, r.ts, std::nullopt, std::as_bytes(std::span(r.text.data(), r.text.size())));
    return out;
  }

  void set_state(u64 id, u64 sv) { put64(*descs_, (id % count_) * l_.size_desc + l_.state_var, sv); }
  void set_lpos(u64 id, u64 b, u64 n) {
    put64(*descs_, (id % count_) * l_.size_desc + l_.lpos + l_.begin, b);
    put64(*descs_, (id % count_) * l_.size_desc + l_.lpos + l_.next, n);
  }
  void set_tail(u64 id) { put64(*prb_, l_.desc_ring + l_.tail_id, id); }
  void set_clear_seq(u64 seq) {
    auto& c = mem.regions[kClearSeq];
    put64(c, 0, 1);  // odd sequence count: val[1] is the stable copy
    put64(c, 16, seq);
  }
  Result<DmesgLog> extract(DmesgOptions o = {}) const { return extract_dmesg(vi, mem.reader(), o); }

  FakeMemory mem;
  bool exact_fit_in_place = false;  // the 6.18+ writer
  Vmcoreinfo vi = Vmcoreinfo::parse("");
  std::deque<std::pair<u64, std::pair<u64, u64>>> live;  // id, lpos
  std::deque<Rec> recs;
  std::vector<std::byte>* prb_;
  std::vector<std::byte>* descs_;
  std::vector<std::byte>* infos_;
  std::vector<std::byte>* data_;

 private:
  static void put64(std::vector<std::byte>& b, u64 off, u64 v) { store_le<u64>(b.data() + off, v); }
  static void put32(std::vector<std::byte>& b, u64 off, u32 v) { store_le<u32>(b.data() + off, v); }
  static void put16(std::vector<std::byte>& b, u64 off, u16 v) { store_le<u16>(b.data() + off, v); }
  bool is_live(u64 id) const {
    for (const auto& e : live)
      if (e.first == id) return true;
    return false;
  }
  void evict() {
    set_state(live.front().first, (3ULL << 62) | live.front().first);  // reusable
    live.pop_front();
  }
  void sync_ids() {
    const u64 head = (next_id_ - 1) & kIdMask;
    put64(*prb_, l_.desc_ring + l_.head_id, head);
    put64(*prb_, l_.desc_ring + l_.tail_id, live.empty() ? head : live.front().first);
  }

  Layout l_;
  u64 count_, size_;
  u64 next_id_ = 0, head_lpos_ = 0, seq_ = 0;
};

std::string fmt(u64 ts, const std::string& text, std::optional<u32> caller = std::nullopt) {
  std::string out;
  format_record(out, ts, caller, std::as_bytes(std::span(text.data(), text.size())));
  return out;
}

TEST(PrintkFormat, MatchesMakedumpfile) {
  EXPECT_EQ(fmt(1234567890, "hello"), "[    1.234567] hello\n");
  EXPECT_EQ(fmt(0, ""), "[    0.000000] \n");
  EXPECT_EQ(fmt(123456789012345678ULL, "x"), "[123456789.012345] x\n");
  // A newline continues under the text, indented by the prefix width.
  EXPECT_EQ(fmt(5000000000ULL, "a\nb"), "[    5.000000] a\n               b\n");
  // Whitespace passes through, control bytes and DEL are escaped, and bytes
  // >= 0x80 are escaped as makedumpfile's sign-extended char.
  EXPECT_EQ(fmt(0, "\t\r\x01\x7f"), "[    0.000000] \t\r\\x01\\x7f\n");
  EXPECT_EQ(fmt(0, std::string("\xe2\x80\x99", 3)), "[    0.000000] \\xffffffe2\\xffffff80\\xffffff99\n");
  EXPECT_EQ(fmt(0, std::string("a\0b", 3)), "[    0.000000] a\\x00b\n");
}

TEST(PrintkFormat, CallerIdColumn) {
  EXPECT_EQ(fmt(1000000, "x", 42u), "[    0.001000] [     T42] x\n");
  EXPECT_EQ(fmt(1000000, "a\nb", 0x80000003u), "[    0.001000] [      C3] a\n                          b\n");
}

TEST(PrintkRing, SimpleRing) {
  SynthRing r(4, 10);
  r.append("Linux version 6.1", 0);
  r.append("second", 1500000000ULL);
  r.append("", 1600000000ULL);  // data-less: not printed
  r.append("third\nline", 2000001000ULL);
  auto log = r.extract();
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log->layout, "printk_ringbuffer");
  EXPECT_EQ(log->records, 3u);
  EXPECT_TRUE(log->warnings.empty());
  EXPECT_EQ(log->text,
            "[    0.000000] Linux version 6.1\n[    1.500000] second\n[    2.000001] third\n               line\n");
  auto with_caller = r.extract({.partial = false, .caller_id = true});
  ASSERT_TRUE(with_caller.ok());
  EXPECT_EQ(with_caller->text.substr(0, with_caller->text.find('\n') + 1),
            "[    0.000000] [      T1] Linux version 6.1\n");
}

TEST(PrintkRing, WrapsDataAndReusesDescriptors) {
  // 16 descriptors, 512 data bytes: both rings wrap many times, and the ids
  // cross the 62-bit wrap. Check the whole log after every append.
  SynthRing r(4, 9);
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string text(rng() % 90, 'a' + static_cast<char>(i % 26));
    if (i % 7 == 0) text += "\nmore";
    r.append(text, 1000000ULL * static_cast<u64>(i));
    auto log = r.extract();
    ASSERT_TRUE(log.ok()) << log.error().message;
    ASSERT_EQ(log->text, r.expected()) << "after append " << i;
    ASSERT_TRUE(log->warnings.empty()) << log->warnings[0];
  }
}

TEST(PrintkRing, ExactFitBlocksOfNewKernels) {
  for (bool in_place : {false, true}) {
    SynthRing r(4, 8);
    r.exact_fit_in_place = in_place;
    // 8 + 24 = 32 bytes a block: the 8th block ends exactly at 256.
    for (int i = 0; i < 12; ++i) r.append(std::string(24, static_cast<char>('a' + i)), 0);
    auto log = r.extract();
    ASSERT_TRUE(log.ok());
    EXPECT_EQ(log->text, r.expected()) << "in_place=" << in_place;
  }
}

TEST(PrintkRing, OffsetsComeFromVmcoreinfo) {
  Layout l;
  l.size_prb = 200, l.desc_ring = 100, l.text_ring = 8, l.count_bits = 40, l.descs = 0, l.infos = 24;
  l.head_id = 8, l.tail_id = 16, l.size_bits = 16, l.data = 0;
  l.size_desc = 40, l.state_var = 32, l.lpos = 8, l.begin = 8, l.next = 0;
  l.size_info = 32, l.ts = 0, l.text_len = 30, l.caller = 8;
  SynthRing r(3, 8, l);
  for (int i = 0; i < 40; ++i) r.append("msg " + std::to_string(i), 1000ULL * static_cast<u64>(i));
  auto log = r.extract();
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log->text, r.expected());
  EXPECT_NE(log->text.find("msg 39"), std::string::npos);
}

TEST(PrintkRing, SkipsReservedReusableAndStaleDescriptors) {
  SynthRing r(4, 10);
  for (int i = 0; i < 6; ++i) r.append("r" + std::to_string(i), 0);
  const u64 id1 = r.live[1].first, id2 = r.live[2].first, id3 = r.live[3].first;
  r.set_state(id1, (0ULL << 62) | id1);          // reserved: writer still busy
  r.set_state(id2, (3ULL << 62) | id2);          // reusable
  r.set_state(id3, (1ULL << 62) | (id3 + 16));  // committed, but a later id's
  auto log = r.extract();
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->text, "[    0.000000] r0\n[    0.000000] r4\n[    0.000000] r5\n");
  r.set_state(id3, (1ULL << 62) | id3);  // committed (not finalized) prints
  EXPECT_EQ(r.extract()->records, 4u);
}

TEST(PrintkRing, BogusLposNeverReadsOutsideTheRing) {
  SynthRing r(4, 9);
  for (int i = 0; i < 5; ++i) r.append("record" + std::to_string(i), 0);
  const u64 ids[] = {r.live[0].first, r.live[1].first, r.live[2].first, r.live[3].first};
  r.set_lpos(ids[0], 0xffffffffffffff00ULL, 0x7fffffffffffffffULL);  // huge, "wrapping"
  r.set_lpos(ids[1], 500, 4);    // wraps, then next < 8: unsigned underflow in makedumpfile
  r.set_lpos(ids[2], 8, 600);    // next past the ring (mod 512 = 88)
  r.set_lpos(ids[3], 512, 1024);  // same offset mod size: data-less
  auto log = r.extract();
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_NE(log->text.find("record4"), std::string::npos);
  EXPECT_LT(log->text.size(), 5u * (512 * 16 + 64));
}

TEST(PrintkRing, HeadAndTailFarApartIsBounded) {
  SynthRing r(4, 10);
  for (int i = 0; i < 5; ++i) r.append("x" + std::to_string(i), 0);
  r.set_tail((r.live.back().first - 1000000000000ULL) & kIdMask);
  auto log = r.extract();
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->text, r.expected());
  ASSERT_EQ(log->warnings.size(), 1u);
  EXPECT_NE(log->warnings[0].find("tail id"), std::string::npos);
}

TEST(PrintkRing, RandomDamageNeverCrashes) {
  SynthRing r(5, 10);
  for (int i = 0; i < 100; ++i) r.append(std::string(static_cast<size_t>(i % 50), 'z'), 0);
  std::mt19937_64 rng(1);
  for (int round = 0; round < 2000; ++round) {
    auto* target = (round % 3 == 0) ? r.descs_ : (round % 3 == 1) ? r.infos_ : r.prb_;
    for (int k = 0; k < 4; ++k) (*target)[rng() % target->size()] = static_cast<std::byte>(rng());
    auto log = r.extract();
    if (log.ok()) EXPECT_LE(log->records, 32u);
    else EXPECT_FALSE(log.error().message.empty());
  }
}

TEST(PrintkRing, PartialStartsAtClearSeq) {
  SynthRing r(4, 10);
  for (int i = 0; i < 20; ++i) r.append("p" + std::to_string(i), 0);
  // seq 17 is the 18th record; seq and id share their ring index.
  r.set_clear_seq(r.recs.back().seq - 2);
  auto log = r.extract({.partial = true, .caller_id = false});
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log->text, "[    0.000000] p17\n[    0.000000] p18\n[    0.000000] p19\n");
  // A clear_seq whose index lies after head's: one lap earlier, not 2^62 steps.
  r.set_clear_seq(r.recs.back().seq + 3);
  auto wrapped = r.extract({.partial = true, .caller_id = false});
  ASSERT_TRUE(wrapped.ok());
  EXPECT_LE(wrapped->records, 16u);
}

TEST(PrintkErrors, GarbageVmcoreinfoNamesTheKey) {
  SynthRing r(4, 10);
  r.append("a", 0);
  // Replaces one key's line of the good VMCOREINFO.
  auto with = [&](const std::string& line) {
    std::string text = Layout{}.vmcoreinfo();
    const std::string key = line.substr(0, line.find('=') + 1);
    const size_t at = text.find(key);
    text.replace(at, text.find('\n', at) + 1 - at, line);
    return extract_dmesg(Vmcoreinfo::parse(text), r.mem.reader());
  };
  auto bad_off = with("OFFSET(prb_desc.state_var)=9999\n");
  ASSERT_FALSE(bad_off.ok());
  EXPECT_NE(bad_off.error().message.find("OFFSET(prb_desc.state_var)"), std::string::npos) << bad_off.error().message;
  auto huge = with("OFFSET(printk_info.text_len)=18446744073709551615\n");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message.find("printk_info.text_len"), std::string::npos);
  auto size = with("SIZE(printk_ringbuffer)=99999999\n");
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.error().message.find("SIZE(printk_ringbuffer)"), std::string::npos);
  auto missing = extract_dmesg(Vmcoreinfo::parse("SYMBOL(prb)=ffffffff81000000\n"), r.mem.reader());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("SIZE(printk_ringbuffer)"), std::string::npos);
  auto none = extract_dmesg(Vmcoreinfo::parse("OSRELEASE=x\n"), r.mem.reader());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("SYMBOL(prb)"), std::string::npos);
}

TEST(PrintkErrors, ImplausibleRingSizesAreRefused) {
  SynthRing r(4, 10);
  r.append("a", 0);
  store_le<u32>(r.prb_->data() + 0, 63);  // count_bits
  auto log = r.extract();
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("count_bits=63"), std::string::npos) << log.error().message;
  store_le<u32>(r.prb_->data() + 0, 4);
  store_le<u32>(r.prb_->data() + 48, 200);  // size_bits
  log = r.extract();
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("size_bits=200"), std::string::npos);
}

TEST(PrintkErrors, UnreadableMemoryNamesTheAddress) {
  SynthRing r(4, 10);
  r.append("a", 0);
  r.mem.regions.erase(kInfos);
  auto log = r.extract();
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("prb.desc_ring.infos"), std::string::npos) << log.error().message;
  EXPECT_NE(log.error().message.find("0xffff888000200000"), std::string::npos);
  r.mem.regions.erase(kPrbPtr);
  log = r.extract();
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("SYMBOL(prb)"), std::string::npos);
}

// ---- pre-5.10 printk_log records

struct LogBuf {
  static constexpr u64 kBuf = 0xffff888001000000ULL, kSyms = 0xffffffff82000000ULL;
  FakeMemory mem;
  std::vector<std::byte>* buf;
  Vmcoreinfo vi = Vmcoreinfo::parse(
      "SYMBOL(log_buf)=ffffffff82000000\nSYMBOL(log_buf_len)=ffffffff82000008\n"
      "SYMBOL(log_first_idx)=ffffffff8200000c\nSYMBOL(log_next_idx)=ffffffff82000010\n"
      "SYMBOL(clear_idx)=ffffffff82000014\nSIZE(printk_log)=16\nOFFSET(printk_log.ts_nsec)=0\n"
      "OFFSET(printk_log.len)=8\nOFFSET(printk_log.text_len)=10\n");
  explicit LogBuf(u32 len) {
    auto& s = mem.map(kSyms, 24);
    store_le<u64>(s.data(), kBuf);
    store_le<u32>(s.data() + 8, len);
    buf = &mem.map(kBuf, len);
  }
  void idx(u32 first, u32 next) {
    store_le<u32>(mem.regions[kSyms].data() + 12, first);
    store_le<u32>(mem.regions[kSyms].data() + 16, next);
  }
  u32 put(u32 at, u64 ts, const std::string& text) {  // returns the next index
    u16 len = static_cast<u16>((16 + text.size() + 7) & ~7ULL);
    store_le<u64>(buf->data() + at, ts);
    store_le<u16>(buf->data() + at + 8, len);
    store_le<u16>(buf->data() + at + 10, static_cast<u16>(text.size()));
    std::memcpy(buf->data() + at + 16, text.data(), text.size());
    return at + len;
  }
};

TEST(PrintkLogBuf, WalksRecordsAndWraps) {
  LogBuf b(128);
  u32 p = b.put(0, 3000000, "wrapped");  // newest, at the start after the wrap
  u32 old = b.put(64, 1000000, "old one");
  store_le<u16>(b.buf->data() + old + 8, 0);  // end-of-buffer marker
  b.idx(64, p);
  auto log = extract_dmesg(b.vi, b.mem.reader());
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log->layout, "printk_log");
  EXPECT_EQ(log->text, "[    0.001000] old one\n[    0.003000] wrapped\n");
}

TEST(PrintkLogBuf, CorruptIndexesStopWithWarnings) {
  LogBuf b(128);
  b.put(0, 0, "loop");
  store_le<u16>(b.buf->data() + 8, 0);  // len 0 at offset 0: a record that never advances
  b.idx(0, 64);
  auto log = extract_dmesg(b.vi, b.mem.reader());
  ASSERT_TRUE(log.ok());
  ASSERT_FALSE(log->warnings.empty());
  EXPECT_LE(log->records, 10u);
  b.idx(4000, 64);  // outside log_buf
  log = extract_dmesg(b.vi, b.mem.reader());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->records, 0u);
  EXPECT_NE(log->warnings.at(0).find("outside log_buf"), std::string::npos);
}

// ---- bounds found by fuzz-printk: the rings are never read whole

// A VirtReader that remembers the largest single read.
struct ReadSizes {
  const FakeMemory& mem;
  u64 largest = 0;
  VirtReader reader() {
    return [this](VirtAddr va, std::span<std::byte> out) {
      largest = std::max<u64>(largest, out.size());
      return mem.read(va, out);
    };
  }
};

TEST(PrintkBounds, LargestLegalRingsAreReadLazily) {
  // count_bits 26 / size_bits 31 are the kernel's maxima (log_buf_len= up
  // to LOG_BUF_LEN_MAX). Before, salvage allocated and read 1.5 GiB of
  // descriptors and 2 GiB of text up front; now it reads a chunk or one
  // record at a time, and the unmapped parts are reported.
  SynthRing r(4, 10);
  for (int i = 0; i < 5; ++i) r.append("m" + std::to_string(i), 0);
  store_le<u32>(r.prb_->data() + 0, 26);
  store_le<u32>(r.prb_->data() + 48, 31);
  ReadSizes rs{r.mem};
  auto log = extract_dmesg(r.vi, rs.reader());
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_LE(rs.largest, 64u * 1024);
  ASSERT_FALSE(log->warnings.empty());
  EXPECT_NE(log->warnings.back().find("could not be read"), std::string::npos) << log->warnings.back();
}

TEST(PrintkBounds, RingSizesPastTheKernelMaximumNameTheKey) {
  SynthRing r(4, 10);
  r.append("a", 0);
  store_le<u32>(r.prb_->data() + 0, 27);
  auto log = r.extract();
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("prb.desc_ring.count_bits=27"), std::string::npos) << log.error().message;
  store_le<u32>(r.prb_->data() + 0, 4);
  store_le<u32>(r.prb_->data() + 48, 32);
  log = r.extract();
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("prb.text_data_ring.size_bits=32"), std::string::npos) << log.error().message;
}

TEST(PrintkBounds, AnUnreadableChunkLosesOnlyItsRecords) {
  // 512 descriptors of 24 bytes: chunks of 170. Unmap the second chunk.
  SynthRing r(9, 14);
  for (int i = 0; i < 400; ++i) r.append("rec" + std::to_string(i), 0);  // rec i at index i
  std::vector<std::byte> all = r.mem.regions[kDescs];
  const u64 chunk = 170 * 24;
  r.mem.regions[kDescs] = std::vector<std::byte>(all.begin(), all.begin() + chunk);
  r.mem.regions[kDescs + 2 * chunk] = std::vector<std::byte>(all.begin() + 2 * chunk, all.end());
  auto log = r.extract();
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log->records, 400u - 170u);
  EXPECT_NE(log->text.find("] rec0\n"), std::string::npos);
  EXPECT_EQ(log->text.find("] rec200\n"), std::string::npos);
  EXPECT_NE(log->text.find("] rec399\n"), std::string::npos);
  ASSERT_FALSE(log->warnings.empty());
  EXPECT_NE(log->warnings.back().find("prb.desc_ring.descs"), std::string::npos) << log->warnings.back();
  r.mem.regions.erase(kData);  // no text ring at all: an error naming it
  auto none = r.extract();
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("prb.text_data_ring.data"), std::string::npos) << none.error().message;
}

TEST(PrintkBounds, DescriptorsSharingOneBlockDoNotGrowTheLogWithoutEnd) {
  SynthRing r(4, 8);
  for (int i = 0; i < 16; ++i) r.append("x", 0);
  for (const auto& e : r.live) {
    r.set_lpos(e.first, 256, 256 + 248);  // every record: nearly the whole ring
    store_le<u16>(r.infos_->data() + (e.first % 16) * 88 + 16, 240);
  }
  auto log = r.extract();
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_LE(log->records, 3u);
  ASSERT_FALSE(log->warnings.empty());
  EXPECT_NE(log->warnings.back().find("descriptors overlap"), std::string::npos) << log->warnings.back();
}

TEST(PrintkBounds, LogBufIsReadARecordAtATime) {
  LogBuf b(128);
  u32 p = b.put(0, 1000000, "first");
  p = b.put(p, 2000000, "second");
  b.idx(0, p);
  store_le<u32>(b.mem.regions[LogBuf::kSyms].data() + 8, 1u << 31);  // LOG_BUF_LEN_MAX, 128 bytes mapped
  ReadSizes rs{b.mem};
  auto log = extract_dmesg(b.vi, rs.reader());
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log->text, "[    0.001000] first\n[    0.002000] second\n");
  EXPECT_LE(rs.largest, 64u * 1024);
  store_le<u32>(b.mem.regions[LogBuf::kSyms].data() + 8, 0xffffffffu);
  log = extract_dmesg(b.vi, b.mem.reader());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("log_buf_len=4294967295"), std::string::npos) << log.error().message;
  b.mem.regions.erase(LogBuf::kBuf);
  store_le<u32>(b.mem.regions[LogBuf::kSyms].data() + 8, 128);
  log = extract_dmesg(b.vi, b.mem.reader());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("log_buf record at index 0x0"), std::string::npos) << log.error().message;
}

}  // namespace
}  // namespace salvage

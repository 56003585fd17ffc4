// SPDX-License-Identifier: GPL-2.0-or-later
// Pages move in batches: the main thread reads a batch (reads from
// /proc/vmcore are sequential and cheap next to compression), the pool
// compresses it with one codec per thread into fixed slots, and the main
// thread passes the slots to the writer in pfn order. Memory is bounded by
// the batch, whatever the dump's size.
#include "formats/hex.h"
#include "agent/write-pages.h"

#include <cinttypes>
#include <cstring>
#include <memory>

namespace salvage {

namespace {
constexpr size_t kBatchPages = 256;  // 1 MiB of input per batch


// Collects up to kBatchPages set pfns starting at `from`.
size_t next_batch(const PageBitmap& kept, Pfn& from, Pfn* out) {
  size_t n = 0;
  const Pfn end = kept.max_pfn();
  const auto bytes = kept.bytes();
  while (from < end && n < kBatchPages) {
    // Skip whole empty bytes quickly: filtered dumps are mostly holes.
    if ((from.value & 7) == 0 && bytes[from.value >> 3] == std::byte{0}) {
      from += 8;
      continue;
    }
    if (kept.test(from)) out[n++] = from;
    ++from;
  }
  return n;
}
}  // namespace

// Pages that repeat one 8-byte word are common in a kernel: zero pages at
// dump level 0, 0xcc-filled text padding, 0xff-filled bitmaps. Compression
// is deterministic, so their compressed form is computed once per word and
// copied: the output bytes are the same as compressing each page, and at
// -d 0 this removes most of the work (zero pages were 80% of the lab's RAM).
class RepeatedWordCache {
 public:
  static bool repeated_word(const std::byte* p, u64* word) {
    const u64* w = reinterpret_cast<const u64*>(p);
    const u64 first = w[0];
    u64 diff = 0;
    for (size_t i = 0; i < kPageSize / 8; i += 8)
      diff |= (w[i] ^ first) | (w[i + 1] ^ first) | (w[i + 2] ^ first) | (w[i + 3] ^ first) | (w[i + 4] ^ first) |
              (w[i + 5] ^ first) | (w[i + 6] ^ first) | (w[i + 7] ^ first);
    *word = first;
    return diff == 0;
  }
  // Compressed bytes for a page of `word`, or an error; len 0 means "store raw".
  Result<std::span<const std::byte>> get(u64 word, const std::byte* page, Codec& codec) {
    Entry& e = entries_[(word * 0x9e3779b97f4a7c15ULL) >> 58];
    if (e.valid && e.word == word) return std::span<const std::byte>(e.data.data(), e.len);
    e.data.resize(std::max(kPageSize, codec.bound(kPageSize)));
    ASSIGN_OR_RETURN(size_t n, codec.compress(std::span<const std::byte>(page, kPageSize), e.data));
    e.word = word;
    e.len = n < kPageSize ? n : 0;
    e.valid = true;
    return std::span<const std::byte>(e.data.data(), e.len);
  }

 private:
  struct Entry {
    bool valid = false;
    u64 word = 0;
    size_t len = 0;
    std::vector<std::byte> data;
  };
  Entry entries_[64];
};

bool is_zero_page(const std::byte* p) {
  const u64* w = reinterpret_cast<const u64*>(p);
  u64 acc = 0;
  for (size_t i = 0; i < kPageSize / 8; i += 8)
    acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7];
  return acc == 0;
}

static Result<void> read_batch(DumpReader& dump, const Pfn* pfns, size_t n, std::byte* buf) {
  PageState states[kBatchPages];
  for (size_t i = 0; i < n;) {
    size_t run = 1;  // consecutive pfns are read with one call
    while (i + run < n && pfns[i + run] == pfns[i] + run) ++run;
    TRY(dump.read_pages(pfns[i], run, std::span<std::byte>(buf + i * kPageSize, run * kPageSize), states + i));
    for (size_t k = i; k < i + run; ++k)
      if (states[k] == PageState::kHole || states[k] == PageState::kExcluded || states[k] == PageState::kMissing)
        return make_error("pfn " + hex(pfns[k].value) + " is kept but the source has it " + page_state_name(states[k]));
    i += run;
  }
  return Ok();
}

Result<u64> drop_zero_pages(DumpReader& dump, PageBitmap& kept, ParallelFor& pool, const Log& log) {
  StepTimer t(log, "find zero pages");
  (void)pool;
  std::vector<std::byte> buf(kBatchPages * kPageSize);
  std::vector<Pfn> pfns(kBatchPages);
  Pfn cursor(0);
  u64 dropped = 0;
  for (;;) {
    size_t n = next_batch(kept, cursor, pfns.data());
    if (n == 0) break;
    TRY(read_batch(dump, pfns.data(), n, buf.data()));
    for (size_t i = 0; i < n; ++i)
      if (is_zero_page(buf.data() + i * kPageSize)) {
        kept.set(pfns[i], false);
        ++dropped;
      }
  }
  return dropped;
}

Result<WriteStats> write_pages(DumpReader& dump, const PageBitmap& kept, DumpWriter& writer,
                               PageEncoding encoding, bool zero_sharing, ParallelFor& pool, const Log& log,
                               const PageProgress* progress) {
  StepTimer t(log, "write pages");
  WriteStats stats;
  const u64 total = progress ? kept.count() : 0;
  const bool compress = encoding != PageEncoding::kRaw && writer.accepts(encoding);
  std::vector<std::unique_ptr<Codec>> codecs;
  std::vector<RepeatedWordCache> repeated(pool.threads());
  size_t slot_size = kPageSize;
  if (compress) {
    for (unsigned i = 0; i < pool.threads(); ++i) {
      codecs.push_back(make_codec(encoding));
      if (!codecs.back()) return make_error(std::string("codec ") + encoding_name(encoding) + " is not available");
    }
    slot_size = std::max(slot_size, codecs[0]->bound(kPageSize));
  }
  std::vector<std::byte> in(kBatchPages * kPageSize);
  std::vector<std::byte> out(compress ? kBatchPages * slot_size : 0);
  std::vector<Pfn> pfns(kBatchPages);
  struct Slot {
    bool zero = false;
    size_t len = 0;  // 0: store raw
    std::string error;
  };
  std::vector<Slot> slots(kBatchPages);
  Pfn cursor(0);
  for (;;) {
    size_t n = next_batch(kept, cursor, pfns.data());
    if (n == 0) break;
    TRY(read_batch(dump, pfns.data(), n, in.data()));
    pool.run(n, [&](size_t i, unsigned thread) {
      Slot& s = slots[i];
      const std::byte* page = in.data() + i * kPageSize;
      s = Slot{};
      u64 word = 0;
      const bool uniform = RepeatedWordCache::repeated_word(page, &word);
      s.zero = zero_sharing && uniform && word == 0;
      if (s.zero || !compress) return;
      if (uniform) {
        auto cached = repeated[thread].get(word, page, *codecs[thread]);
        if (!cached.ok()) {
          s.error = cached.error().message;
        } else if (!cached->empty()) {
          std::memcpy(out.data() + i * slot_size, cached->data(), cached->size());
          s.len = cached->size();
        }
        return;
      }
      auto r = codecs[thread]->compress(std::span<const std::byte>(page, kPageSize),
                                        std::span<std::byte>(out.data() + i * slot_size, slot_size));
      if (!r.ok()) s.error = r.error().message;
      else if (*r < kPageSize) s.len = *r;  // compressed only if it got smaller (makedumpfile rule)
    });
    for (size_t i = 0; i < n; ++i) {
      const Slot& s = slots[i];
      if (!s.error.empty()) return make_error("compressing pfn " + hex(pfns[i].value) + ": " + s.error);
      PageRecord rec;
      rec.pfn = pfns[i];
      rec.zero = s.zero;
      if (s.len) {
        rec.encoding = encoding;
        rec.data = std::span<const std::byte>(out.data() + i * slot_size, s.len);
        ++stats.compressed;
      } else {
        rec.encoding = PageEncoding::kRaw;
        rec.data = std::span<const std::byte>(in.data() + i * kPageSize, kPageSize);
        if (!s.zero) ++stats.raw;
      }
      if (s.zero) ++stats.zero_pages;
      TRY_CTX(writer.write_page(rec), "writing pfn " + hex(rec.pfn.value));
      ++stats.pages_written;
    }
    stats.input_bytes += n * kPageSize;
    if (progress) (*progress)(stats.pages_written, total);
  }
  return stats;
}

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/container.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "formats/crc32c.h"
#include "formats/hex.h"

namespace salvage {

namespace {

// Bytes before the trailing CRC field of an on-disk struct.
template <typename T>
u32 struct_crc(const T& t) {
  return crc32c(std::as_bytes(std::span(&t, 1)).first(sizeof(T) - sizeof(u32)));
}

template <size_t N>
void put_str(char (&dst)[N], const std::string& s) {
  std::memset(dst, 0, N);
  std::memcpy(dst, s.data(), std::min(s.size(), N - 1));
}

template <size_t N>
std::string get_str(const char (&src)[N]) {
  return std::string(src, strnlen(src, N));
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > kSectionNameMax) return false;
  for (char c : n)
    if (c <= ' ' || c > '~' || c == '/') return false;
  return true;
}

u64 table_bytes() { return u64{kMaxSections} * sizeof(SectionEntryDisk); }
u64 data_start() { return round_up(kTableOffset + table_bytes(), kContainerBlock); }
u64 crc_table_bytes(u64 length) { return div_round_up(length, kCrcChunk) * sizeof(u32); }

// Where a section's CRC table goes: the block after its data.
u64 crc_table_offset(u64 offset, u64 length) { return round_up(offset + length, kContainerBlock); }

constexpr std::byte kZeros[64 * 1024] = {};

// ByteSource view of one section's data.
class SectionSource final : public ByteSource {
 public:
  SectionSource(ByteSource& dev, u64 base, u64 length, std::string name)
      : dev_(dev), base_(base), length_(length), name_(std::move(name)) {}
  Result<void> read_at(FileOffset off, std::span<std::byte> out) override {
    if (off.value > length_ || out.size() > length_ - off.value)
      return make_error(name_ + ": read of " + std::to_string(out.size()) + " bytes at " + hex(off.value) +
                        " is beyond the section's " + std::to_string(length_) + " bytes");
    return dev_.read_at(FileOffset(base_ + off.value), out);
  }
  u64 size() const override { return length_; }
  std::string name() const override { return name_; }

 private:
  ByteSource& dev_;
  u64 base_, length_;
  std::string name_;
};

}  // namespace

const char* section_type_name(SectionType t) {
  switch (t) {
    case SectionType::kDmesg: return "dmesg";
    case SectionType::kDump: return "dump";
    case SectionType::kTrace: return "trace";
    case SectionType::kSummary: return "summary";
    case SectionType::kOther: return "other";
  }
  return "unknown";
}

const char* section_state_name(SectionState s) {
  switch (s) {
    case SectionState::kUnused: return "unused";
    case SectionState::kWriting: return "writing";
    case SectionState::kComplete: return "complete";
    case SectionState::kIncomplete: return "incomplete";
    case SectionState::kSaved: return "saved";
  }
  return "unknown";
}

// ---- SectionSink ----

std::string SectionSink::name() const { return w_.dev_.name() + ": section '" + name_ + "'"; }

Result<void> SectionSink::write_at(FileOffset off, std::span<const std::byte> data) {
  if (off.value > capacity_ || data.size() > capacity_ - off.value) {
    u64 left = off.value < capacity_ ? capacity_ - off.value : 0;
    return Error{"section '" + name_ + "' is full at " + hex(off.value) + " (device " + hex(base_ + off.value) +
                     "): " + std::to_string(left) + " bytes left on device for a write of " +
                     std::to_string(data.size()),
                 ENOSPC};
  }
  TRY(w_.dev_.write_at(FileOffset(base_ + off.value), data));
  track(off.value, data);
  return Ok();
}

void SectionSink::track(u64 off, std::span<const std::byte> data) {
  if (data.empty()) return;
  u64 end = off + data.size();
  high_water_ = std::max(high_water_, end);
  // Merge [off, end) into the written ranges.
  u64 s = off, e = end;
  auto it = written_.upper_bound(s);
  if (it != written_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= s) {
      s = prev->first;
      e = std::max(e, prev->second);
      it = written_.erase(prev);
    }
  }
  while (it != written_.end() && it->first <= e) {
    e = std::max(e, it->second);
    it = written_.erase(it);
  }
  written_[s] = e;
  // Per-MiB running CRCs for bytes that arrive in order.
  u64 last = (end - 1) / kCrcChunk;
  if (chunks_.size() <= last) chunks_.resize(last + 1);
  u64 pos = off;
  while (pos < end) {
    u64 idx = pos / kCrcChunk;
    u64 in = pos - idx * kCrcChunk;
    u64 n = std::min(end - pos, kCrcChunk - in);
    Chunk& c = chunks_[idx];
    if (!c.dirty && in == c.filled) {
      c.crc = crc32c(data.subspan(pos - off, n), c.crc);
      c.filled += static_cast<u32>(n);
    } else {
      c.dirty = true;
    }
    pos += n;
  }
}

Result<void> SectionSink::finish() { return w_.dev_.finish(); }

Result<void> SectionSink::checkpoint() {
  TRY_CTX(w_.dev_.finish(), "checkpoint of section '" + name_ + "'");
  SectionEntryDisk e = w_.open_entry_;
  e.length = high_water_;
  TRY(w_.write_entry(w_.next_index_, e));
  w_.open_entry_ = e;
  return Ok();
}

// ---- ContainerWriter ----

u64 ContainerWriter::space_left() const {
  u64 used = open_ ? open_->base_ + open_->high_water_ : next_free_;
  return device_size_ > used ? device_size_ - used : 0;
}

Result<void> ContainerWriter::write_entry(size_t index, const SectionEntryDisk& e0) {
  SectionEntryDisk e = e0;
  e.entry_crc = struct_crc(e);
  u64 off = kTableOffset + index * sizeof(SectionEntryDisk);
  TRY_CTX(dev_.write_at(FileOffset(off), std::as_bytes(std::span(&e, 1))), "writing section entry " +
                                                                               std::to_string(index) + " at " + hex(off));
  return dev_.finish();
}

Result<void> ContainerWriter::begin(const ContainerInfo& info) {
  if (begun_) return make_error("container: begin called twice");
  if (device_size_ < data_start() + 2 * kContainerBlock)
    return make_error("container: " + dev_.name() + " holds " + std::to_string(device_size_) + " bytes, less than the " +
                      std::to_string(data_start() + 2 * kContainerBlock) + " a container needs");
  // An empty table first: a crash before the new header lands leaves
  // no stale sections that the old header would vouch for.
  std::vector<std::byte> table(data_start() - kTableOffset);
  TRY_CTX(dev_.write_at(FileOffset(kTableOffset), table), "container: clearing the section table");
  TRY_CTX(dev_.finish(), "container: clearing the section table");

  ContainerHeaderDisk h{};
  std::memcpy(h.magic, kContainerMagic, sizeof h.magic);
  h.version = kContainerVersion;
  h.header_size = sizeof(ContainerHeaderDisk);
  h.entry_size = sizeof(SectionEntryDisk);
  h.max_sections = kMaxSections;
  h.table_offset = kTableOffset;
  h.data_offset = data_start();
  h.device_size = device_size_;
  h.crash_time = info.crash_time;
  h.write_time = info.write_time;
  put_str(h.release, info.release);
  put_str(h.hostname, info.hostname);
  put_str(h.build_id, info.build_id);
  put_str(h.panic_string, info.panic_string);
  put_str(h.machine, info.machine);
  h.header_crc = struct_crc(h);
  std::vector<std::byte> block(kContainerBlock);
  std::memcpy(block.data(), &h, sizeof h);
  TRY_CTX(dev_.write_at(FileOffset(0), block), "container: writing the header");
  TRY_CTX(dev_.finish(), "container: writing the header");
  begun_ = true;
  next_free_ = data_start();
  return Ok();
}

Result<SectionSink*> ContainerWriter::open_section(const std::string& name, SectionType type) {
  if (!begun_) return make_error("container: open_section before begin");
  if (open_) return make_error("container: section '" + open_->name_ + "' is still open");
  if (!valid_name(name)) return make_error("container: bad section name '" + name + "'");
  if (next_index_ >= kMaxSections) return make_error("container: all " + std::to_string(kMaxSections) + " sections used");
  u64 base = next_free_;
  u64 avail = device_size_ > base ? device_size_ - base : 0;
  // Reserve room for the largest CRC table this section could need.
  u64 reserve = round_up(crc_table_bytes(avail), kContainerBlock);
  u64 capacity = avail > reserve ? (avail - reserve) / kContainerBlock * kContainerBlock : 0;
  if (capacity == 0)
    return Error{"container: no room for section '" + name + "' at " + hex(base) + ": " + std::to_string(avail) +
                     " bytes left on device",
                 ENOSPC};
  SectionEntryDisk e{};
  put_str(e.name, name);
  e.type = static_cast<u32>(type);
  e.state = static_cast<u32>(SectionState::kWriting);
  e.crc_chunk_shift = 20;
  e.offset = base;
  e.capacity = capacity;
  TRY_CTX(write_entry(next_index_, e), "container: opening section '" + name + "'");
  open_entry_ = e;
  open_.reset(new SectionSink(*this, name, base, capacity));
  return open_.get();
}

Result<std::vector<u32>> ContainerWriter::section_crcs(SectionSink& s) {
  const u64 length = s.high_water_;
  std::vector<u32> crcs(div_round_up(length, kCrcChunk));
  std::vector<std::byte> buf;
  for (size_t i = 0; i < crcs.size(); ++i) {
    u64 start = i * kCrcChunk;
    u64 want = std::min(kCrcChunk, length - start);
    const SectionSink::Chunk* c = i < s.chunks_.size() ? &s.chunks_[i] : nullptr;
    if (c && !c->dirty && c->filled == want) {
      crcs[i] = c->crc;
      continue;
    }
    if (!readback_)
      return make_error("MiB " + std::to_string(i) + " was written out of order and there is no way to read it back");
    buf.resize(want);
    TRY_CTX(readback_->read_at(FileOffset(s.base_ + start), buf), "reading back MiB " + std::to_string(i));
    crcs[i] = crc32c(buf);
  }
  return crcs;
}

Result<void> ContainerWriter::close_section(SectionState state, i64 when) {
  if (!open_) return make_error("container: close_section with no open section");
  if (state != SectionState::kComplete && state != SectionState::kIncomplete)
    return make_error(std::string("container: a section closes complete or incomplete, not ") + section_state_name(state));
  SectionSink& s = *open_;
  const std::string ctx = "container: closing section '" + s.name_ + "'";
  // Never-written gaps below the length hold whatever the device held
  // before (an older dump): zero them, so a reader sees "nothing" there.
  const u64 length = s.high_water_;
  u64 pos = 0;
  std::vector<std::pair<u64, u64>> gaps;
  for (const auto& [a, b] : s.written_) {
    if (a > pos) gaps.emplace_back(pos, a);
    pos = std::max(pos, b);
  }
  for (auto [a, b] : gaps)
    for (u64 p = a; p < b;) {
      u64 n = std::min<u64>(b - p, sizeof kZeros);
      TRY_CTX(s.write_at(FileOffset(p), std::span(kZeros, n)), ctx + ": zeroing a gap");
      p += n;
    }
  // Data must be durable before anything is read back or vouched for.
  TRY_CTX(dev_.finish(), ctx);
  ASSIGN_OR_RETURN(std::vector<u32> crcs, section_crcs(s).context(ctx));
  const u64 crc_off = crc_table_offset(s.base_, length);
  const u64 crc_len = crcs.size() * sizeof(u32);
  if (crc_len) {
    auto bytes = std::as_bytes(std::span(crcs));
    TRY_CTX(dev_.write_at(FileOffset(crc_off), bytes), ctx + ": writing the CRC table at " + hex(crc_off));
  }
  TRY_CTX(dev_.finish(), ctx);
  SectionEntryDisk e = open_entry_;
  e.state = static_cast<u32>(state);
  e.flags = state == SectionState::kIncomplete ? kSectionFlagIncomplete : 0;
  e.length = length;
  e.crc_offset = crc_off;
  e.crc_count = static_cast<u32>(crcs.size());
  e.crc_table_crc = crc32c(std::as_bytes(std::span(crcs)));
  e.closed_time = when;
  TRY_CTX(write_entry(next_index_, e), ctx);
  next_free_ = round_up(crc_off + crc_len, kContainerBlock);
  ++next_index_;
  open_.reset();
  return Ok();
}

// ---- ContainerReader ----

Result<bool> ContainerReader::probe(ByteSource& dev) {
  if (dev.size() < sizeof kContainerMagic) return false;
  char magic[sizeof kContainerMagic];
  TRY(dev.read_at(FileOffset(0), std::as_writable_bytes(std::span(magic))));
  return std::memcmp(magic, kContainerMagic, sizeof magic) == 0;
}

Result<ContainerReader> ContainerReader::open(ByteSource& dev) {
  const std::string where = dev.name() + ": container";
  if (dev.size() < sizeof(ContainerHeaderDisk))
    return make_error(where + ": header needs " + std::to_string(sizeof(ContainerHeaderDisk)) + " bytes, the device has " +
                      std::to_string(dev.size()));
  ContainerHeaderDisk h{};
  TRY_CTX(dev.read_at(FileOffset(0), std::as_writable_bytes(std::span(&h, 1))), where + ": reading the header");
  if (std::memcmp(h.magic, kContainerMagic, sizeof h.magic) != 0)
    return make_error(where + ": magic at offset 0x0 is not \"" + kContainerMagic + "\": not a salvage dump container");
  if (h.version != kContainerVersion)
    return make_error(where + ": version at offset " + hex(offsetof(ContainerHeaderDisk, version)) + " is " +
                      std::to_string(h.version) + ", this salvage reads version " + std::to_string(kContainerVersion));
  if (u32 c = struct_crc(h); c != h.header_crc)
    return make_error(where + ": header_crc at offset " + hex(offsetof(ContainerHeaderDisk, header_crc)) + " is " +
                      hex(h.header_crc) + ", the header's CRC32C is " + hex(c) + ": header damaged");
  auto field = [&](const char* name, size_t off, u64 v, const std::string& why) {
    return make_error(where + ": " + name + " at offset " + hex(off) + " is " + hex(v) + ": " + why);
  };
  if (h.header_size != sizeof(ContainerHeaderDisk))
    return field("header_size", offsetof(ContainerHeaderDisk, header_size), h.header_size, "expected 1024");
  if (h.entry_size != sizeof(SectionEntryDisk))
    return field("entry_size", offsetof(ContainerHeaderDisk, entry_size), h.entry_size, "expected 128");
  if (h.max_sections == 0 || h.max_sections > 4096)
    return field("max_sections", offsetof(ContainerHeaderDisk, max_sections), h.max_sections, "expected 1..4096");
  if (h.table_offset < sizeof(ContainerHeaderDisk) || h.table_offset % 128)
    return field("table_offset", offsetof(ContainerHeaderDisk, table_offset), h.table_offset,
                 "must be 128-byte aligned and after the header");
  const u64 table_end = h.table_offset + u64{h.max_sections} * sizeof(SectionEntryDisk);
  if (h.data_offset < table_end)
    return field("data_offset", offsetof(ContainerHeaderDisk, data_offset), h.data_offset, "inside the section table");
  if (table_end > dev.size())
    return make_error(where + ": section table " + hex(h.table_offset) + ".." + hex(table_end) +
                      " is beyond the end of the device (" + std::to_string(dev.size()) + " bytes): truncated");

  ContainerReader r(dev);
  r.table_offset_ = h.table_offset;
  auto& in = r.info_;
  in.crash_time = h.crash_time;
  in.write_time = h.write_time;
  in.release = get_str(h.release);
  in.hostname = get_str(h.hostname);
  in.build_id = get_str(h.build_id);
  in.panic_string = get_str(h.panic_string);
  in.machine = get_str(h.machine);
  in.device_size = h.device_size;

  std::vector<SectionEntryDisk> table(h.max_sections);
  TRY_CTX(dev.read_at(FileOffset(h.table_offset), std::as_writable_bytes(std::span(table))), where + ": reading the section table");
  const u64 limit = std::min(dev.size(), h.device_size ? h.device_size : dev.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const SectionEntryDisk& e = table[i];
    const u64 eoff = h.table_offset + i * sizeof(SectionEntryDisk);
    bool all_zero = std::all_of(reinterpret_cast<const std::byte*>(&e), reinterpret_cast<const std::byte*>(&e + 1),
                                [](std::byte b) { return b == std::byte{0}; });
    if (all_zero) continue;
    auto bad = [&](const std::string& why) { r.warnings_.push_back("section entry " + std::to_string(i) + " at " + hex(eoff) + ": " + why); };
    if (u32 c = struct_crc(e); c != e.entry_crc) {
      bad("entry_crc is " + hex(e.entry_crc) + ", the entry's CRC32C is " + hex(c) + ": entry damaged, skipped");
      continue;
    }
    SectionInfo s;
    s.index = i;
    s.name = get_str(e.name);
    s.type = static_cast<SectionType>(e.type);
    s.state = static_cast<SectionState>(e.state);
    s.incomplete = (e.flags & kSectionFlagIncomplete) != 0;
    s.offset = e.offset;
    s.length = e.length;
    s.capacity = e.capacity;
    s.crc_offset = e.crc_offset;
    s.crc_count = e.crc_count;
    s.crc_table_crc = e.crc_table_crc;
    s.closed_time = e.closed_time;
    s.saved_time = e.saved_time;
    if (e.state == 0 || e.state > static_cast<u32>(SectionState::kSaved)) {
      bad("state " + std::to_string(e.state) + " is unknown, skipped");
      continue;
    }
    if (!valid_name(s.name)) {
      bad("name is not printable, skipped");
      continue;
    }
    if (e.crc_chunk_shift != 20) {
      bad("crc_chunk_shift is " + std::to_string(e.crc_chunk_shift) + ", expected 20, skipped");
      continue;
    }
    if (s.offset < h.data_offset || s.offset > limit || s.length > limit - s.offset || s.length > s.capacity) {
      bad("data " + hex(s.offset) + " + " + hex(s.length) + " (capacity " + hex(s.capacity) +
          ") is outside the device, skipped");
      continue;
    }
    if (s.state != SectionState::kWriting) {
      u64 want = div_round_up(s.length, kCrcChunk);
      if (s.crc_count != want || s.crc_offset > limit || u64{s.crc_count} * 4 > limit - s.crc_offset) {
        bad("crc_count " + std::to_string(s.crc_count) + " at " + hex(s.crc_offset) + " does not fit length " +
            hex(s.length) + ", skipped");
        continue;
      }
    }
    r.sections_.push_back(s);
    r.raw_.push_back(e);
  }
  return r;
}

const SectionInfo* ContainerReader::find(const std::string& name) const {
  for (const auto& s : sections_)
    if (s.name == name) return &s;
  return nullptr;
}

std::unique_ptr<ByteSource> ContainerReader::section_data(const SectionInfo& s) const {
  return std::make_unique<SectionSource>(*dev_, s.offset, s.length, dev_->name() + ": section '" + s.name + "'");
}

Result<CrcReport> ContainerReader::verify(const SectionInfo& s) const {
  const std::string ctx = dev_->name() + ": section '" + s.name + "'";
  CrcReport rep;
  if (s.state == SectionState::kWriting) return make_error(ctx + ": still marked writing, it has no CRCs");
  std::vector<u32> crcs(s.crc_count);
  TRY_CTX(dev_->read_at(FileOffset(s.crc_offset), std::as_writable_bytes(std::span(crcs))),
          ctx + ": reading the CRC table at " + hex(s.crc_offset));
  if (u32 c = crc32c(std::as_bytes(std::span(crcs))); c != s.crc_table_crc)
    return make_error(ctx + ": CRC table at " + hex(s.crc_offset) + " is damaged (its CRC32C is " + hex(c) +
                      ", the entry says " + hex(s.crc_table_crc) + ")");
  std::vector<std::byte> buf;
  for (u64 i = 0; i < crcs.size(); ++i) {
    u64 start = i * kCrcChunk;
    buf.resize(std::min(kCrcChunk, s.length - start));
    TRY_CTX(dev_->read_at(FileOffset(s.offset + start), buf), ctx + ": reading MiB " + std::to_string(i));
    ++rep.chunks_checked;
    if (crc32c(buf) != crcs[i]) rep.bad_chunks.push_back(i);
  }
  return rep;
}

Result<void> ContainerReader::set_state(Sink& dev, const SectionInfo& s, SectionState state, i64 when) const {
  size_t k = 0;
  while (k < sections_.size() && sections_[k].index != s.index) ++k;
  if (k == sections_.size()) return make_error("set_state: section '" + s.name + "' is not in this container");
  SectionEntryDisk e = raw_[k];
  e.state = static_cast<u32>(state);
  if (state == SectionState::kSaved) e.saved_time = when;
  e.entry_crc = struct_crc(e);
  const u64 off = table_offset_ + s.index * sizeof(SectionEntryDisk);
  TRY_CTX(dev.write_at(FileOffset(off), std::as_bytes(std::span(&e, 1))),
          "marking section '" + s.name + "' " + section_state_name(state) + " at " + hex(off));
  return dev.finish();
}

}  // namespace salvage

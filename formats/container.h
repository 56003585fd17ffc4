// SPDX-License-Identifier: GPL-2.0-or-later
// The dump container salvage writes to a raw block device or partition
// (docs/formats/container.md). A fixed header says which crash this is; a
// table of named, typed sections follows, one per artifact (dmesg, the dump,
// trace files, a summary). Each section has its own state and a CRC32C for
// every MiB of its data, so `salvage save` can tell what survived.
//
// Crash safety: data and its CRC table are made durable (Sink::finish, an
// fdatasync) before the section's table entry is rewritten in place. A table
// entry is 128 bytes at a 128-byte aligned offset, so it never straddles a
// 512-byte sector, and carries its own CRC: an entry is either old or new.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/byte-source.h"
#include "formats/result.h"
#include "formats/sink.h"
#include "formats/types.h"

namespace salvage {

inline constexpr char kContainerMagic[16] = "SALVAGE-DUMPDEV";  // 15 chars + NUL
inline constexpr u32 kContainerVersion = 1;
inline constexpr u64 kContainerBlock = 4096;     // every section starts block aligned
inline constexpr u64 kCrcChunk = u64{1} << 20;   // one CRC32C per MiB of section data
inline constexpr u64 kTableOffset = kContainerBlock;
inline constexpr u32 kMaxSections = 64;
inline constexpr size_t kSectionNameMax = 31;    // + NUL in a 32-byte field

// New artifact kinds get a new number; readers show unknown types by name.
enum class SectionType : u32 { kDmesg = 1, kDump = 2, kTrace = 3, kSummary = 4, kOther = 0xffff };
enum class SectionState : u32 { kUnused = 0, kWriting = 1, kComplete = 2, kIncomplete = 3, kSaved = 4 };
const char* section_type_name(SectionType t);
const char* section_state_name(SectionState s);

// On-disk header at offset 0, little-endian. Written once by begin().
struct ContainerHeaderDisk {
  char magic[16];        // kContainerMagic
  u32 version;           // kContainerVersion
  u32 header_size;       // sizeof(ContainerHeaderDisk)
  u32 entry_size;        // sizeof(SectionEntryDisk)
  u32 max_sections;      // entries in the table
  u64 table_offset;      // byte offset of the section table
  u64 data_offset;       // first byte of section data
  u64 device_size;       // bytes the writer was allowed to use
  i64 crash_time;        // VMCOREINFO CRASHTIME, seconds since the epoch (0: unknown)
  i64 write_time;        // capture kernel's clock when writing began
  char release[80];      // utsname.release (kernel limit: 64 + NUL)
  char hostname[80];     // utsname.nodename
  char build_id[80];     // VMCOREINFO BUILD-ID, hex
  char panic_string[512];
  char machine[16];      // utsname.machine
  u8 reserved[180];
  u32 header_crc;        // CRC32C of the bytes before it
};
static_assert(sizeof(ContainerHeaderDisk) == 1024);

// One section table entry, little-endian.
struct SectionEntryDisk {
  char name[32];          // NUL-padded, printable, no '/'
  u32 type;               // SectionType
  u32 state;              // SectionState
  u32 flags;              // kSectionFlagIncomplete: closed incomplete (kept when saved)
  u32 crc_chunk_shift;    // 20: CRCs cover 1 MiB each
  u64 offset;             // absolute byte offset of the data
  u64 length;             // valid data bytes (writing: last checkpoint)
  u64 capacity;           // bytes reserved for data when the section was opened
  u64 crc_offset;         // absolute byte offset of the CRC table (u32 per chunk)
  u32 crc_count;          // CRCs in the table: ceil(length / chunk), 0 while writing
  u32 crc_table_crc;      // CRC32C of the CRC table itself
  i64 closed_time;        // when it became complete/incomplete
  i64 saved_time;         // when `salvage save` copied it
  u8 reserved[20];
  u32 entry_crc;          // CRC32C of the bytes before it
};
static_assert(sizeof(SectionEntryDisk) == 128);
inline constexpr u32 kSectionFlagIncomplete = 1;

// What the header says, in host types.
struct ContainerInfo {
  i64 crash_time = 0;
  i64 write_time = 0;
  std::string release, hostname, build_id, panic_string, machine = "x86_64";
  u64 device_size = 0;
};

struct SectionInfo {
  size_t index = 0;  // table slot
  std::string name;
  SectionType type = SectionType::kOther;
  SectionState state = SectionState::kUnused;
  bool incomplete = false;  // closed incomplete (also after saving)
  u64 offset = 0, length = 0, capacity = 0, crc_offset = 0;
  u32 crc_count = 0, crc_table_crc = 0;
  i64 closed_time = 0, saved_time = 0;
};

class ContainerWriter;

// The open section, a Sink whose offsets are relative to the section start,
// bounded by the space left on the device. Writers (kdump, ELF, LKCD) write
// into it as into a file.
class SectionSink final : public Sink {
 public:
  Result<void> write_at(FileOffset off, std::span<const std::byte> data) override;
  Result<void> finish() override;  // makes the data durable (the device's finish)
  std::string name() const override;
  u64 capacity() const { return capacity_; }
  u64 length() const { return high_water_; }
  // Records the length written so far in the table entry (state stays
  // writing), after syncing: a capture cut off by power loss is then still
  // readable up to here, without CRCs.
  Result<void> checkpoint();

 private:
  friend class ContainerWriter;
  struct Chunk {
    u32 crc = 0;
    u32 filled = 0;      // bytes checksummed in order from the chunk start
    bool dirty = false;  // written out of order: checksum by reading back
  };
  SectionSink(ContainerWriter& w, std::string name, u64 base, u64 capacity)
      : w_(w), name_(std::move(name)), base_(base), capacity_(capacity) {}
  void track(u64 off, std::span<const std::byte> data);
  ContainerWriter& w_;
  std::string name_;
  u64 base_, capacity_;
  u64 high_water_ = 0;
  std::vector<Chunk> chunks_;
  std::map<u64, u64> written_;  // start -> end of written byte ranges, merged
};

// Writes a container onto a device in one pass. The device is `dev` (pwrite)
// of `device_size` bytes; `readback` reads the same device and is used only
// to checksum the few MiBs a writer revisits (kdump's header rewrite), since
// no writer's final length or write order is known up front.
class ContainerWriter {
 public:
  ContainerWriter(Sink& dev, ByteSource* readback, u64 device_size)
      : dev_(dev), readback_(readback), device_size_(device_size) {}
  // Clears the old table, then writes the header. Both synced.
  Result<void> begin(const ContainerInfo& info);
  // Starts a section at the next free block; it may use all the space left
  // except what its CRC table needs. One section is open at a time.
  Result<SectionSink*> open_section(const std::string& name, SectionType type);
  // Zero-fills never-written gaps below the length (the device holds older
  // bytes there), writes the CRC table, syncs, then marks the entry
  // complete or incomplete in place and syncs again.
  Result<void> close_section(SectionState state, i64 when = 0);
  u64 space_left() const;
  u64 device_size() const { return device_size_; }

 private:
  friend class SectionSink;
  Result<void> write_entry(size_t index, const SectionEntryDisk& e);
  Result<std::vector<u32>> section_crcs(SectionSink& s);
  Sink& dev_;
  ByteSource* readback_;
  u64 device_size_;
  bool begun_ = false;
  u64 next_free_ = 0;
  size_t next_index_ = 0;
  std::unique_ptr<SectionSink> open_;
  SectionEntryDisk open_entry_{};
};

struct CrcReport {
  u64 chunks_checked = 0;
  std::vector<u64> bad_chunks;  // indexes of MiBs whose CRC does not match
};

class ContainerReader {
 public:
  // True if the device starts with the container magic (no other checks).
  static Result<bool> probe(ByteSource& dev);
  // Validates header and table; entries with a bad CRC or impossible
  // fields are left out of sections() and described in warnings().
  static Result<ContainerReader> open(ByteSource& dev);

  const ContainerInfo& info() const { return info_; }
  const std::vector<SectionInfo>& sections() const { return sections_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const SectionInfo* find(const std::string& name) const;
  // A ByteSource over [offset, offset + length) of the section, so
  // open_dump() reads a dump inside the container directly.
  std::unique_ptr<ByteSource> section_data(const SectionInfo& s) const;
  // Reads the CRC table (checking its own CRC) and checks every MiB.
  Result<CrcReport> verify(const SectionInfo& s) const;
  // Rewrites one entry in place with a new state (e.g. kSaved) and syncs.
  Result<void> set_state(Sink& dev, const SectionInfo& s, SectionState state, i64 when) const;

 private:
  explicit ContainerReader(ByteSource& dev) : dev_(&dev) {}
  ByteSource* dev_;
  ContainerInfo info_;
  u64 table_offset_ = 0;
  std::vector<SectionInfo> sections_;
  std::vector<SectionEntryDisk> raw_;  // parallel to sections_
  std::vector<std::string> warnings_;
};

}  // namespace salvage

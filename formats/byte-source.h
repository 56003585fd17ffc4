// SPDX-License-Identifier: GPL-2.0-or-later
// Where format readers get their bytes from. formats/ makes no I/O choices:
// the agent supplies an implementation (mmap windows of /proc/vmcore with a
// pread fallback, a plain file, or an in-memory buffer for tests and fuzzing).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "formats/result.h"
#include "formats/types.h"

namespace salvage {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads exactly out.size() bytes at off; a short read is an error that
  // names the offset.
  virtual Result<void> read_at(FileOffset off, std::span<std::byte> out) = 0;
  virtual u64 size() const = 0;
  virtual std::string name() const = 0;
};

// A ByteSource over memory the caller owns (tests, fuzzers, headers).
class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::span<const std::byte> data, std::string name = "memory")
      : data_(data), name_(std::move(name)) {}
  Result<void> read_at(FileOffset off, std::span<std::byte> out) override;
  u64 size() const override { return data_.size(); }
  std::string name() const override { return name_; }

 private:
  std::span<const std::byte> data_;
  std::string name_;
};

// Reads [off, off+len) into a new vector.
Result<std::vector<std::byte>> read_bytes(ByteSource& src, FileOffset off, u64 len);

}  // namespace salvage

// SPDX-License-Identifier: GPL-2.0-or-later
#include "formats/byte-source.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace salvage {

Result<void> MemorySource::read_at(FileOffset off, std::span<std::byte> out) {
  if (off.value > data_.size() || out.size() > data_.size() - off.value) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s: read of %zu bytes at 0x%" PRIx64 " is past the end (size 0x%zx)",
                  name_.c_str(), out.size(), off.value, data_.size());
    return make_error(buf);
  }
  // An empty span may have a null data(); memcpy(nullptr, p, 0) is still UB.
  if (!out.empty()) std::memcpy(out.data(), data_.data() + off.value, out.size());
  return Ok();
}

Result<std::vector<std::byte>> read_bytes(ByteSource& src, FileOffset off, u64 len) {
  if (len > src.size() || off.value > src.size() - len) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s: %" PRIu64 " bytes at 0x%" PRIx64 " lie past the end of the file (size 0x%" PRIx64 ")",
                  src.name().c_str(), len, off.value, src.size());
    return make_error(buf);
  }
  std::vector<std::byte> v(len);
  TRY(src.read_at(off, v));
  return v;
}

}  // namespace salvage

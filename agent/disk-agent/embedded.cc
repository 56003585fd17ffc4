// SPDX-License-Identifier: GPL-2.0-or-later
// agent/disk-agent.h over the bytes blob.S or no-blob.S defines.
#include <zstd.h>

#include "agent/disk-agent.h"

extern "C" const unsigned char salvage_disk_agent_start[];
extern "C" const unsigned char salvage_disk_agent_end[];

namespace salvage {

std::span<const std::byte> embedded_disk_agent() {
  return {reinterpret_cast<const std::byte*>(salvage_disk_agent_start),
          static_cast<size_t>(salvage_disk_agent_end - salvage_disk_agent_start)};
}

Result<std::string> disk_agent_binary() {
  auto z = embedded_disk_agent();
  if (z.empty()) return make_error("this salvage carries no embedded disk-only agent");
  unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
  if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR || n > (256ull << 20))
    return make_error("embedded disk agent: bad zstd frame header");
  std::string out(n, '\0');
  size_t r = ZSTD_decompress(out.data(), out.size(), z.data(), z.size());
  if (ZSTD_isError(r) || r != n) return make_error(std::string("embedded disk agent: ") + ZSTD_getErrorName(r));
  return out;
}

}  // namespace salvage

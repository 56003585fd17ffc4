// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/crashkernel.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace salvage {
namespace {

// memparse() prefix of `s`: returns bytes and how many chars were used (0 =
// no number). Base 0 like simple_strtoull: 0x.. hex, 0.. octal, else decimal.
u64 memparse_prefix(std::string_view s, size_t* used) {
  std::string buf(s);
  char* end = nullptr;
  unsigned long long v = std::strtoull(buf.c_str(), &end, 0);
  size_t n = static_cast<size_t>(end - buf.c_str());
  if (n == 0 || buf[0] == '-' || buf[0] == '+') {
    *used = 0;
    return 0;
  }
  if (n < buf.size()) {
    int shift = 0;
    switch (buf[n]) {
      case 'E': case 'e': shift = 60; break;
      case 'P': case 'p': shift = 50; break;
      case 'T': case 't': shift = 40; break;
      case 'G': case 'g': shift = 30; break;
      case 'M': case 'm': shift = 20; break;
      case 'K': case 'k': shift = 10; break;
      default: break;
    }
    if (shift) {
      v <<= shift;
      ++n;
    }
  }
  *used = n;
  return v;
}

}  // namespace

Result<u64> parse_mem_size(std::string_view s) {
  size_t used = 0;
  u64 v = memparse_prefix(s, &used);
  if (used == 0 || used != s.size()) return make_error("'" + std::string(s) + "' is not a size (like 256M or 2G)");
  return v;
}

Result<u64> crashkernel_size(std::string_view value, u64 system_ram) {
  std::string ctx = "crashkernel=" + std::string(value);
  auto colon = value.find(':');
  if (colon == std::string_view::npos) {
    // "SIZE[@OFFSET]" or "SIZE,high" / "SIZE,low"
    size_t used = 0;
    u64 size = memparse_prefix(value, &used);
    if (used == 0) return make_error(ctx + ": size expected at offset 0");
    std::string_view rest = value.substr(used);
    if (!rest.empty() && rest != ",high" && rest != ",low" && rest[0] != '@')
      return make_error(ctx + ": unexpected '" + std::string(rest) + "' after the size");
    return size;
  }
  // "start-[end]:size,start-[end]:size,...[@offset]"
  size_t i = 0;
  for (;;) {
    size_t used = 0;
    u64 start = memparse_prefix(value.substr(i), &used);
    if (used == 0) return make_error(ctx + ": range start expected at offset " + std::to_string(i));
    i += used;
    if (i >= value.size() || value[i] != '-') return make_error(ctx + ": '-' expected at offset " + std::to_string(i));
    ++i;
    u64 end = UINT64_MAX;
    if (i < value.size() && value[i] != ':') {
      end = memparse_prefix(value.substr(i), &used);
      if (used == 0) return make_error(ctx + ": range end expected at offset " + std::to_string(i));
      if (end <= start) return make_error(ctx + ": range end <= start at offset " + std::to_string(i));
      i += used;
    }
    if (i >= value.size() || value[i] != ':') return make_error(ctx + ": ':' expected at offset " + std::to_string(i));
    ++i;
    u64 size = memparse_prefix(value.substr(i), &used);
    if (used == 0) return make_error(ctx + ": size expected at offset " + std::to_string(i));
    i += used;
    if (system_ram >= start && system_ram < end) return size;
    if (i >= value.size() || value[i] != ',') return u64{0};
    ++i;
  }
}

std::string human_bytes(u64 b) {
  char buf[32];
  if (b >= (1ull << 30) && b % (1ull << 30) == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 " GiB", static_cast<u64>(b >> 30));
  else if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", double(b) / double(1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%" PRIu64 " MiB", static_cast<u64>((b + (1ull << 19)) >> 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%" PRIu64 " KiB", static_cast<u64>((b + 512) >> 10));
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " bytes", b);
  return buf;
}

std::string crashkernel_advice(u64 system_ram) {
  std::string value(kSuggestedCrashkernel);
  auto size = crashkernel_size(value, system_ram);
  std::string out = "add crashkernel=" + value + " to the kernel command line";
  if (size.ok() && *size > 0)
    out += " (it reserves " + human_bytes(*size) + " on this machine's " + human_bytes(system_ram) + " of RAM)";
  else if (size.ok())
    out += " (it reserves nothing below 1 GiB of RAM; use crashkernel=192M there)";
  out += ": on Debian, append it to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and reboot";
  return out;
}

Result<MemInfo> parse_meminfo(std::string_view text) {
  MemInfo m;
  bool have_total = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::string num(line.substr(colon + 1));
    u64 kb = std::strtoull(num.c_str(), nullptr, 10);
    u64 bytes = kb * 1024;
    if (key == "MemTotal") m.total = bytes, have_total = true;
    else if (key == "MemFree") m.free = bytes;
    else if (key == "Buffers") m.buffers = bytes;
    else if (key == "Cached") m.cached = bytes;
    else if (key == "AnonPages") m.anon = bytes;
    else if (key == "Shmem") m.shmem = bytes;
  }
  if (!have_total) return make_error("meminfo: no MemTotal line");
  return m;
}

DumpEstimate estimate_dump(const MemInfo& m, int level, std::string_view codec) {
  u64 keep = m.total;
  auto sub = [&](u64 v) { keep = v > keep ? 0 : keep - v; };
  if (level & 16) sub(m.free);
  // -d 2 keeps private cache, -d 4 drops all of it; shmem sits in Cached but
  // is swap-backed, so makedumpfile keeps it (it is not "cache" to drop).
  if (level & (2 | 4)) sub(m.buffers + (m.cached > m.shmem ? m.cached - m.shmem : 0));
  if (level & 8) sub(m.anon);
  DumpEstimate e;
  e.raw_bytes = keep;
  // Compressed/raw ratios, chosen high on purpose (the check must not pass
  // a target that then fills up): RH's review of >1500 vmcores found -d 31
  // dumps "often under 10% of RAM". The ratios assume kernel pages shrink
  // at least 2.5x with zlib/zstd and 1.8x with lzo/snappy (an assumption,
  // not a measurement; docs/bench.md has the lab's real figures).
  if (codec == "zlib" || codec == "zstd") e.ratio = 0.4;
  else if (codec == "lzo" || codec == "snappy") e.ratio = 0.55;
  else e.ratio = 1.0;
  e.bytes = static_cast<u64>(double(keep) * e.ratio) + keep / 100;
  return e;
}

u64 reservation_needed(u64 kernel_init_size, u64 initrd_bytes, u64 initrd_unpacked_bytes, u64 system_ram_bytes) {
  const u64 bitmaps = 2 * (system_ram_bytes / 4096 / 8);
  return kernel_init_size + initrd_bytes + initrd_unpacked_bytes + kCaptureRuntimeFloor + bitmaps;
}

}  // namespace salvage

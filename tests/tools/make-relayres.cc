// SPDX-License-Identifier: GPL-2.0-or-later
// Test-only helper: writes a synthetic relayres= region image, filled by
// the test-side writer (tests/tools/relayres-writer.h, the module's
// protocol) with RELAYRES_EV_TEST events round-robin on every CPU until
// every sub-buffer has wrapped at least once (overwrite mode) or is full.
//   make-relayres [--size BYTES] [--cpus N] [--subbuf BYTES] [--phys ADDR] [--no-overwrite] OUT
// The region is close to --size (default 64 MiB): the header page, the
// control blocks, nr_cpus x n_subbufs x subbuf bytes, the private page.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/tools/relayres-writer.h"

using salvage::testing::RelayresGeometry;
using salvage::testing::RelayresWriter;
using salvage::testing::relayres_test_payload;

int main(int argc, char** argv) {
  uint64_t size = 64ull << 20;
  RelayresGeometry g;
  g.nr_cpus = 4;
  g.subbuf_size = 64 << 10;
  const char* out = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool next = i + 1 < argc;
    if (a == "--size" && next) size = std::strtoull(argv[++i], nullptr, 0);
    else if (a == "--cpus" && next) g.nr_cpus = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 0));
    else if (a == "--subbuf" && next) g.subbuf_size = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 0));
    else if (a == "--phys" && next) g.phys = std::strtoull(argv[++i], nullptr, 0);
    else if (a == "--no-overwrite") g.overwrite = false;
    else if (!out && a[0] != '-') out = argv[i];
    else {
      std::fprintf(stderr, "usage: make-relayres [--size BYTES] [--cpus N] [--subbuf BYTES] [--phys ADDR] [--no-overwrite] OUT\n");
      return 2;
    }
  }
  if (!out || g.nr_cpus == 0) return 2;
  const uint64_t overhead = 2 * 4096 + ((uint64_t{g.nr_cpus} * 64 + 4095) & ~4095ull);
  g.n_subbufs = static_cast<uint32_t>((size - overhead) / (uint64_t{g.nr_cpus} * g.subbuf_size));
  if (g.n_subbufs < 2) {
    std::fprintf(stderr, "make-relayres: --size too small for %u CPUs of 2 sub-buffers\n", g.nr_cpus);
    return 1;
  }
  RelayresWriter w(g);
  // 40-byte test events: enough of them to wrap every sub-buffer once more.
  const uint64_t per_cpu = uint64_t{g.n_subbufs + 1} * (g.subbuf_size / 40);
  for (uint64_t i = 0; i < per_cpu; ++i)
    for (uint32_t c = 0; c < g.nr_cpus; ++c)
      w.write(c, RELAYRES_EV_TEST, g.anchor_clock_ns + i * 1000 + c, relayres_test_payload(i, c));
  FILE* f = std::fopen(out, "wb");
  if (!f || std::fwrite(w.region.data(), 1, w.region.size(), f) != w.region.size() || std::fclose(f) != 0) {
    std::perror(out);
    return 1;
  }
  std::printf("%s: %zu bytes at phys 0x%llx, %u CPUs x %u x %u bytes, %llu events per CPU written\n", out,
              w.region.size(), static_cast<unsigned long long>(g.phys), g.nr_cpus, g.n_subbufs, g.subbuf_size,
              static_cast<unsigned long long>(per_cpu));
  return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// page-codec-bench PAGES_FILE: the per-page deflate options for salvage -c,
// timed on the pages a -d 31 dump keeps (a file of 4 KiB pages, extracted
// by tests/bench/page-codec-bench.sh). Answers one question of issue 2:
// how fast can any zlib-format per-page compressor packaged in Debian 12
// go, and at what size, against the 3x-faster-than-makedumpfile target.
// Each page is its own zlib stream, as the kdump format requires; a page
// that does not shrink is counted at 4096 bytes (stored raw).
#include <libdeflate.h>
#include <zlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { kPage = 4096 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void row(const char* name, double s, long bytes, long pages) {
  printf("| %s | %.3f | %.1f | %ld |\n", name, s, s * 1e6 / pages, bytes);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PAGES_FILE\n", argv[0]);
    return 2;
  }
  FILE* f = fopen(argv[1], "rb");
  if (!f || fseek(f, 0, SEEK_END) != 0) {
    perror(argv[1]);
    return 1;
  }
  long n = ftell(f);
  rewind(f);
  unsigned char* buf = malloc(n > 0 ? n : 1);
  if (!buf || fread(buf, 1, n, f) != (size_t)n) {
    fprintf(stderr, "%s: short read\n", argv[1]);
    return 1;
  }
  fclose(f);
  const long pages = n / kPage;
  unsigned char out[2 * kPage];
  printf("| per-page compressor (%ld pages) | seconds | us/page | bytes |\n|---|---:|---:|---:|\n", pages);

  for (int level = 1; level <= 3; ++level) {
    struct libdeflate_compressor* c = libdeflate_alloc_compressor(level);
    double t = now();
    long total = 0;
    for (long i = 0; i < pages; ++i) {
      size_t s = libdeflate_zlib_compress(c, buf + i * kPage, kPage, out, kPage - 1);
      total += s ? (long)s : kPage;
    }
    char name[64];
    snprintf(name, sizeof name, "libdeflate level %d%s", level, level == 2 ? " (salvage -c)" : "");
    row(name, now() - t, total, pages);
    libdeflate_free_compressor(c);
  }
  {  // makedumpfile 1.7.2: one zlib stream, deflateReset before each page
     // (`nm -D /usr/bin/makedumpfile` lists deflateInit_, deflateReset,
     // deflate), level Z_BEST_SPEED, zlib's default 32 KiB window
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit(&z, Z_BEST_SPEED);
    double t = now();
    long total = 0;
    for (long i = 0; i < pages; ++i) {
      deflateReset(&z);
      z.next_in = buf + i * kPage;
      z.avail_in = kPage;
      z.next_out = out;
      z.avail_out = sizeof out;
      deflate(&z, Z_FINISH);
      long s = (long)(sizeof out - z.avail_out);
      total += s < kPage ? s : kPage;
    }
    row("zlib level 1 with deflateReset (makedumpfile -c)", now() - t, total, pages);
    deflateEnd(&z);
  }
  free(buf);
  return 0;
}

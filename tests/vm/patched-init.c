// The static /init of the patched-kernel boot test (tests/vm/run-patched-kernel.sh).
// It runs under a kernel built with the relayres= series (kernel-config/patches/)
// and reports on the serial console, one "PINIT: " line per fact:
//
//   always       the "Relay reserved" entry in /proc/iomem and where the kernel
//                image sits (Kernel code/rodata/data/bss), and whether they overlap
//   pinit.mode=trace (default)
//     fresh region (/proc/relayres_test says "open"): writes pinit.markers=N
//                marker records alternately from CPU 0 and CPU 1, then warm-resets
//                with sysrq b; QEMU boots the same kernel again
//     next boot ("closed: error -16", the previous channel unsaved): reads the
//                region from /dev/mem, validates it (magic, CRCs, sub-buffer
//                headers), prints every recovered marker, checks the per-CPU
//                sequences, sets the consumed flag, reopens the channel through
//                "!open" and checks the generation went up by one; first, when
//                the runner added /salvage, runs `salvage trace show --region`
//   pinit.mode=kaslr  only the placement facts (the runner boots several times)
//   pinit.mode=refused  relayres= overlaps the kernel image (nokaslr): no
//                "Relay reserved" entry, and the channel does not open (-ENODEV)
//
// It ends with "PINIT: RESULT ok" or "PINIT: RESULT fail <why>" and leaves QEMU
// through the isa-debug-exit port. The decoding here is deliberately tiny and
// independent of salvage's reader (formats/relayres.*): the test is of the kernel.
#define _GNU_SOURCE
#include <inttypes.h>
#include <sched.h>
#include <sys/io.h>

#include "../../formats/relayres-layout.h"
#include "lab-util.h" /* say, read_file, lab_init_start, lab_run */

#define MAX_SLOTS 4096

static int failed;

static int lab_head(char *buf, size_t size) { return snprintf(buf, size, "PINIT: "); }

__attribute__((format(printf, 1, 2))) static void bad(const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  say("FAIL %s", msg);
  failed = 1;
}

// isa-debug-exit at 0xf4: QEMU exits with status (value << 1) | 1.
static void leave(void) {
  say("RESULT %s", failed ? "fail" : "ok");
  // The tty layer sends to the UART asynchronously: let it drain, or the
  // debug-exit port ends QEMU with the last lines still queued.
  tcdrain(1);
  usleep(300 * 1000);
  sync();
  if (ioperm(0xf4, 1, 1) == 0) outb(failed ? 1 : 0, 0xf4);
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

// The first line of a small /proc file into buf ("" if it cannot be read).
static int read_line(const char *path, char *buf, size_t size) {
  char *s = read_file(path, NULL);
  int rc = s ? 0 : -1;
  snprintf(buf, size, "%.*s", s ? (int)strcspn(s, "\n") : 0, s ? s : "");
  free(s);
  return rc;
}

// memparse: a number with an optional K/M/G suffix.
static uint64_t memparse(const char *s, char **end) {
  uint64_t v = strtoull(s, end, 0);
  switch (**end) {
    case 'G': case 'g': v <<= 10; /* fall through */
    case 'M': case 'm': v <<= 10; /* fall through */
    case 'K': case 'k': v <<= 10; (*end)++; break;
    default: break;
  }
  return v;
}

static const char *cmdline_value(const char *cmdline, const char *key) {
  size_t k = strlen(key);
  for (const char *p = cmdline; (p = strstr(p, key)) != NULL; p += k)
    if ((p == cmdline || p[-1] == ' ') && p[k] == '=') return p + k + 1;
  return NULL;
}

// zlib's crc32() (IEEE, reflected), as the layout's hdr_crc fields use.
static uint32_t crc32_ieee(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t crc = 0xffffffffu;
  while (len--) {
    crc ^= *p++;
    for (int i = 0; i < 8; i++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// /proc/iomem: the "Relay reserved" entry and the kernel image's entries.
static void check_iomem(uint64_t rbase, uint64_t rsize) {
  char *buf = read_file("/proc/iomem", NULL);
  if (!buf) { bad("cannot read /proc/iomem"); return; }
  int found = 0, kernel = 0;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    uint64_t a, b;
    char name[64];
    if (sscanf(line, " %" SCNx64 "-%" SCNx64 " : %63[^\n]", &a, &b, name) != 3) continue;
    if (strcmp(name, "Relay reserved") == 0) {
      say("iomem %s", line);
      if (a == rbase && b == rbase + rsize - 1) found = 1;
      else bad("Relay reserved is %" PRIx64 "-%" PRIx64 ", want %" PRIx64 "+%" PRIx64, a, b, rbase, rsize);
    } else if (strncmp(name, "Kernel ", 7) == 0) {
      kernel = 1;
      say("kernel %s [%#" PRIx64 "-%#" PRIx64 "]", name, a, b);
      if (a < rbase + rsize && b >= rbase) bad("the kernel's %s overlaps the relayres region", name);
    } else if (strcmp(name, "Reserved") == 0 && a <= rbase && b >= rbase + rsize - 1) {
      say("iomem %s (E820 reserved around the region)", line);
    }
  }
  if (!found) bad("no \"Relay reserved\" entry for the region in /proc/iomem");
  if (!kernel) bad("no Kernel code/data entries in /proc/iomem");
  if (!failed) say("placement ok: kernel image outside [%#" PRIx64 "-%#" PRIx64 "]", rbase, rbase + rsize - 1);
  free(buf);
}

static void write_markers(int n) {
  int fd = open("/proc/relayres_test", O_WRONLY);
  if (fd < 0) { bad("open /proc/relayres_test: %s", strerror(errno)); return; }
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  for (int i = 0; i < n; i++) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(i % (ncpu > 1 ? 2 : 1), &set);
    sched_setaffinity(0, sizeof(set), &set);
    char m[64];
    int len = snprintf(m, sizeof(m), "pinit marker %d of %d", i + 1, n);
    if (write(fd, m, (size_t)len) != len) { bad("marker %d: %s", i + 1, strerror(errno)); break; }
  }
  close(fd);
  say("wrote %d markers on %ld CPU(s)", n, ncpu > 1 ? 2L : 1L);
}

struct slot { uint64_t seq; uint64_t off; };
static int by_seq(const void *a, const void *b) {
  const struct slot *x = a, *y = b;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

// Reads the previous boot's channel from /dev/mem and prints its markers.
// Returns the channel's generation (0 on failure).
static uint64_t recover(uint64_t rbase, uint64_t rsize, int want_markers) {
  int fd = open("/dev/mem", O_RDWR | O_SYNC);
  if (fd < 0) { bad("open /dev/mem: %s", strerror(errno)); return 0; }
  uint8_t *r = malloc(rsize);
  if (!r || pread(fd, r, rsize, (off_t)rbase) != (ssize_t)rsize) {
    bad("read %#" PRIx64 "+%#" PRIx64 " from /dev/mem: %s", rbase, rsize, strerror(errno));
    close(fd);
    return 0;
  }
  struct relayres_header h;
  memcpy(&h, r, sizeof(h));
  uint32_t crc = h.hdr_crc;
  h.hdr_crc = 0;
  if (h.magic != RELAYRES_MAGIC || h.version != RELAYRES_VERSION || h.header_size != sizeof(h) ||
      crc32_ieee(&h, sizeof(h)) != crc || h.region_phys != rbase || h.region_size != rsize) {
    bad("no valid channel header at %#" PRIx64 " (magic %#" PRIx64 ")", rbase, h.magic);
    close(fd);
    return 0;
  }
  say("channel: generation %" PRIu64 " release %s nr_cpus %u subbuf_size %u n_subbufs %u",
      h.generation, h.release, h.nr_cpus, h.subbuf_size, h.n_subbufs);
  if (h.n_subbufs > MAX_SLOTS || h.data_off + (uint64_t)h.nr_cpus * h.n_subbufs * h.subbuf_size > h.private_off ||
      h.private_off + RELAYRES_PAGE_SIZE > rsize) {
    bad("inconsistent geometry");
    close(fd);
    return 0;
  }
  int markers = 0, seen[1024] = {0};
  static struct slot slots[MAX_SLOTS];
  for (uint32_t cpu = 0; cpu < h.nr_cpus; cpu++) {
    int n = 0;
    for (uint32_t s = 0; s < h.n_subbufs; s++) {
      uint64_t off = h.data_off + ((uint64_t)cpu * h.n_subbufs + s) * h.subbuf_size;
      struct relayres_subbuf sb;
      memcpy(&sb, r + off, sizeof(sb));
      if (sb.magic != RELAYRES_SUBBUF_MAGIC || sb.cpu != cpu || sb.generation != h.generation ||
          crc32_ieee(&sb, 40) != sb.hdr_crc || sb.commit < 64 || sb.commit > h.subbuf_size)
        continue;
      slots[n].seq = sb.sb_seq;
      slots[n++].off = off;
    }
    qsort(slots, (size_t)n, sizeof(slots[0]), by_seq);
    uint64_t last_seq = 0;
    int have_last = 0, records = 0;
    for (int i = 0; i < n; i++) {
      struct relayres_subbuf sb;
      memcpy(&sb, r + slots[i].off, sizeof(sb));
      for (uint64_t o = 64; o + sizeof(struct relayres_record) <= sb.commit;) {
        struct relayres_record rec;
        memcpy(&rec, r + slots[i].off + o, sizeof(rec));
        if (rec.len < sizeof(rec) || o + rec.len > sb.commit || rec.cpu != cpu) break;
        if (have_last && rec.seq != last_seq + 1)
          bad("cpu %u: record seq %" PRIu64 " after %" PRIu64, cpu, rec.seq, last_seq);
        last_seq = rec.seq;
        have_last = 1;
        records++;
        if (rec.type == RELAYRES_EV_MARKER) {
          int plen = (int)(rec.len - sizeof(rec));
          const char *pl = (const char *)(r + slots[i].off + o + sizeof(rec));
          say("recovered cpu %u seq %" PRIu64 " ts %" PRIu64 " marker \"%.*s\"", cpu, rec.seq, rec.ts, plen, pl);
          int k = 0, of = 0;
          char text[64];
          snprintf(text, sizeof(text), "%.*s", plen, pl);
          if (sscanf(text, "pinit marker %d of %d", &k, &of) == 2 && k >= 1 && k <= 1023) {
            if (seen[k]++) bad("marker %d recovered twice", k);
            markers++;
          }
        }
        o += (rec.len + RELAYRES_RECORD_ALIGN - 1) & ~(uint64_t)(RELAYRES_RECORD_ALIGN - 1);
      }
    }
    if (n) say("cpu %u: %d sub-buffers, %d records, sequences consecutive", cpu, n, records);
  }
  for (int k = 1; k <= want_markers && k < 1024; k++)
    if (!seen[k]) bad("marker %d of %d not recovered", k, want_markers);
  say("recovered %d of %d markers from generation %" PRIu64, markers, want_markers, h.generation);

  // Saved: set the consumed flag, as salvage does, so the next open may reuse the region.
  struct relayres_private pv;
  memcpy(&pv, r + h.private_off, sizeof(pv));
  if (pv.magic != RELAYRES_PRIVATE_MAGIC || pv.consumed != 0) bad("private area: magic %#x consumed %u", pv.magic, pv.consumed);
  say("private area: producer \"%.32s\" consumed %u", pv.producer, pv.consumed);
  uint32_t one = 1;
  if (pwrite(fd, &one, sizeof(one), (off_t)(rbase + h.private_off + offsetof(struct relayres_private, consumed))) != sizeof(one))
    bad("setting the consumed flag through /dev/mem: %s", strerror(errno));
  close(fd);
  free(r);
  return h.generation;
}

int main(void) {
  // The cpio has no /dev/console node (built without root): this takes the
  // console from devtmpfs. A failed mount shows as the reads below failing.
  lab_init_start();

  static char cmdline[4096], status[256];
  read_line("/proc/cmdline", cmdline, sizeof(cmdline));
  const char *rr = cmdline_value(cmdline, "relayres");
  const char *mode = cmdline_value(cmdline, "pinit.mode");
  const char *nm = cmdline_value(cmdline, "pinit.markers");
  int want = nm ? atoi(nm) : 40;
  if (!rr) { bad("no relayres= on the command line"); leave(); }
  char *end;
  uint64_t rsize = memparse(rr, &end);
  uint64_t rbase = *end == '@' ? memparse(end + 1, &end) : 0;
  say("boot: relayres %#" PRIx64 "@%#" PRIx64 " mode %.8s", rsize, rbase, mode ? mode : "trace");
  if (mode && strncmp(mode, "refused", 7) == 0) {
    // relayres= over the kernel image (nokaslr): setup_arch must refuse it.
    char *iomem = read_file("/proc/iomem", NULL);
    if (iomem && strstr(iomem, "Relay reserved")) bad("a refused region is in /proc/iomem");
    free(iomem);
    read_line("/proc/relayres_test", status, sizeof(status));
    say("relayres_test: %s", status);
    if (strcmp(status, "closed: error -19") != 0) bad("the channel should not open (-ENODEV) without a region");
    leave();
  }
  check_iomem(rbase, rsize);
  if (mode && strncmp(mode, "kaslr", 5) == 0) leave();

  if (read_line("/proc/relayres_test", status, sizeof(status)) < 0) { bad("no /proc/relayres_test"); leave(); }
  say("relayres_test: %s", status);
  if (strncmp(status, "open ", 5) == 0) {
    write_markers(want);
    say("warm reset: sysrq b");
    tcdrain(1);  // sysrq b resets at once: let the console drain first
    usleep(300 * 1000);
    int fd = open("/proc/sysrq-trigger", O_WRONLY);
    if (fd < 0 || write(fd, "b", 1) != 1) bad("sysrq b: %s", strerror(errno));
    leave();  // only if the reset did not happen
  }
  if (strcmp(status, "closed: error -16") != 0) { bad("unexpected relayres_test status"); leave(); }

  // salvage's own reader on the same region, when the runner put it in the
  // initramfs: it must decode the previous channel before it is marked saved.
  if (access("/salvage", X_OK) == 0) {
    char spec[64];
    snprintf(spec, sizeof(spec), "%.*s", (int)strcspn(rr, " "), rr);
    say("salvage trace show --region %s:", spec);
    tcdrain(1);
    char *argv[] = {"/salvage", "trace", "show", "--region", spec, NULL};
    int st = lab_run(argv, NULL, -1);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad("salvage trace show: status %#x", st);
    else say("salvage trace show: exit 0");
  }
  uint64_t gen = recover(rbase, rsize, want);
  int fd = open("/proc/relayres_test", O_WRONLY);
  if (fd < 0 || write(fd, "!open", 5) != 5) bad("reopen after saving: %s", strerror(errno));
  if (fd >= 0) close(fd);
  read_line("/proc/relayres_test", status, sizeof(status));
  say("relayres_test after saving: %s", status);
  unsigned long long g2 = 0;
  if (sscanf(status, "open generation %llu", &g2) != 1 || g2 != gen + 1)
    bad("after consumed=1 the channel should reopen with generation %" PRIu64, gen + 1);
  leave();
}

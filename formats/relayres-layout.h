/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The flight recorder's region layout (relayres=): a relay channel kept in
 * memory reserved at boot, so the last events before a crash survive into
 * the capture kernel or across a warm reset.
 *
 * This one header is shared, unchanged, by the writer (the out-of-tree
 * module in kernel-config/relayres/ and the kernel patch series, both C)
 * and the reader (salvage, C++). It therefore uses only fixed-width types,
 * no pointers and no kernel or libc headers beyond the integer types, and
 * every structure's size is asserted. All fields are little-endian (x86_64;
 * the module refuses to build big-endian). docs/formats/relayres.md is the
 * prose version.
 *
 * Why offsets and counts only: the 2006 RELAY_RESERVED patch stored live
 * struct rchan/rchan_buf (kernel pointers) in the region, so only the same
 * kernel could parse it, and it did not record the writer's CPU count, which
 * is what made SMP restore from a one-CPU capture kernel impossible. Here a
 * different kernel or a user-space tool parses the region from this header
 * alone, for however many CPUs wrote it.
 *
 * Region (region_size bytes at physical region_phys, page aligned):
 *
 *   [0, 4096)                      struct relayres_header (rest zero)
 *   [cpu_ctl_off, +nr_cpus*64)     struct relayres_cpu_ctl per CPU
 *   [data_off, ...)                per CPU c, n_subbufs sub-buffers of
 *                                  subbuf_size bytes, CPU c's first at
 *                                  data_off + c * n_subbufs * subbuf_size
 *   [private_off, region end)      struct relayres_private + the recording
 *                                  tool's bytes (the last page)
 *
 * Each sub-buffer starts with struct relayres_subbuf (64 bytes), followed by
 * records up to `commit`. The bytes from commit to subbuf_size are padding
 * (relay's padding[] array, kept per sub-buffer so no separate array must
 * agree with it).
 *
 * Writer protocol (a crash at any instruction leaves a parseable channel):
 *   Opening slot s for sub-buffer number N (N = produced): write magic,
 *   cpu, generation, sb_seq = N, first_ts, first_rec_seq, commit = 64, then
 *   hdr_crc over the immutable fields, a write barrier, and only then
 *   ctl->offset. Each record is copied in full first, a write barrier, then
 *   `commit` is advanced past it: a record at or beyond `commit` is never
 *   trusted. Closing a sub-buffer: final commit, barrier, produced++.
 *   Overwrite mode always reuses the oldest slot; no-overwrite mode refuses
 *   (and counts `lost`) once n_subbufs sub-buffers are full, as relay's
 *   default subbuf_start callback does.
 *
 * Reader algorithm: validate the header; per CPU scan every slot's
 * relayres_subbuf, keep those whose magic, cpu, generation and hdr_crc are
 * right and commit is within [64, subbuf_size]; sort by sb_seq and keep the
 * newest run of consecutive sb_seq values; walk records from 64 to commit,
 * stopping a sub-buffer at the first record whose frame is inconsistent.
 * The control block is only a cross-check: sb_seq ordering does not need
 * it, so a torn control block (seqcount odd) costs nothing.
 */
#ifndef SALVAGE_FORMATS_RELAYRES_LAYOUT_H
#define SALVAGE_FORMATS_RELAYRES_LAYOUT_H

#ifdef __KERNEL__
#include <linux/types.h>
typedef __u8 rr_u8;
typedef __u16 rr_u16;
typedef __u32 rr_u32;
typedef __u64 rr_u64;
#else
#include <stdint.h>
typedef uint8_t rr_u8;
typedef uint16_t rr_u16;
typedef uint32_t rr_u32;
typedef uint64_t rr_u64;
#endif

#ifdef __cplusplus
#define RELAYRES_ASSERT_SIZE(type, size) static_assert(sizeof(type) == (size), #type " size")
#else
#define RELAYRES_ASSERT_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " size")
#endif

/*
 * The header magic is "SLVGRLY1" as a little-endian u64. Programs keep only
 * the XOR'd constant below and compute the real value when they need it, as
 * lttng-ust does with its crash ABI magic: then a scan of physical memory
 * for the magic finds regions, not copies of the constant in code or data.
 */
#define RELAYRES_MAGIC_XORED 0xcea6b3adb8a9b3acULL /* "SLVGRLY1" ^ 0xff.. */
#define RELAYRES_MAGIC (RELAYRES_MAGIC_XORED ^ 0xffffffffffffffffULL)
#define RELAYRES_SUBBUF_MAGIC 0x42535252u /* "RRSB" */
#define RELAYRES_PRIVATE_MAGIC 0x56505252u /* "RRPV" */
#define RELAYRES_VERSION 1u

#define RELAYRES_PAGE_SIZE 4096u
#define RELAYRES_HEADER_SIZE 4096u   /* page 0 */
#define RELAYRES_CPU_CTL_SIZE 64u
#define RELAYRES_SUBBUF_HDR_SIZE 64u
#define RELAYRES_RECORD_ALIGN 8u
#define RELAYRES_MIN_SUBBUF_SIZE 4096u /* a power of two >= this */
#define RELAYRES_MAX_CPUS 8192u

/* relayres_header.flags */
#define RELAYRES_F_OVERWRITE 0x1u /* flight recorder: the oldest sub-buffer is reused */

/* relayres_header.clock_id: what record timestamps (relayres_record.ts and
 * relayres_subbuf.first_ts) count.
 *   LOCAL: local_clock() ns since boot (per CPU, not synchronised).
 *   TSC:   raw x86 TSC cycles (rdtsc). A reader converts a stamp to ns as
 *          anchor_clock_ns + (ts - anchor_tsc) * 1000000 / tsc_khz (signed;
 *          the same offset added to anchor_real_ns gives wall time). The
 *          writer chooses it only when the TSC is constant, nonstop and
 *          synchronised across CPUs, or when told to (flightrec clock=tsc):
 *          one rdtsc per record instead of local_clock(), whose sched_clock
 *          slow path costs hundreds of ns when the kernel marked the TSC
 *          unstable (docs/relayres.md). Added in version 1 through reserved
 *          bytes: a reader that does not know it sees an unknown clock_id. */
#define RELAYRES_CLOCK_LOCAL 1u
#define RELAYRES_CLOCK_TSC 2u

struct relayres_header {
  rr_u64 magic;           /* RELAYRES_MAGIC */
  rr_u32 version;         /* RELAYRES_VERSION; a reader refuses a newer major */
  rr_u32 header_size;     /* bytes of this struct that are meaningful: sizeof */
  rr_u64 region_phys;     /* where the writer found the region; must equal where it is read */
  rr_u64 region_size;     /* bytes, a multiple of 4096 */
  rr_u32 nr_cpus;         /* nr_cpu_ids of the writing kernel: the number of per-CPU buffers */
  rr_u32 flags;           /* RELAYRES_F_* */
  rr_u32 subbuf_size;     /* a power of two >= 4096, including the 64-byte sub-buffer header */
  rr_u32 n_subbufs;       /* per CPU, >= 2 */
  rr_u64 cpu_ctl_off;     /* region offset of the per-CPU control blocks */
  rr_u64 data_off;        /* region offset of CPU 0's first sub-buffer; page aligned */
  rr_u64 private_off;     /* region offset of the private area: the last page */
  rr_u32 private_size;    /* bytes of the private area (4096) */
  rr_u32 clock_id;        /* RELAYRES_CLOCK_* */
  rr_u64 generation;      /* bumped on each (re)initialisation; sub-buffers of another generation are stale */
  rr_u8 boot_id[16];      /* /proc/sys/kernel/random/boot_id of the writing boot */
  char release[65];       /* utsname release of the writing kernel, NUL-terminated */
  rr_u8 reserved0[7];
  rr_u64 anchor_clock_ns; /* local_clock() at initialisation ... */
  rr_u64 anchor_real_ns;  /* ... and CLOCK_REALTIME at the same moment: wall time of a record */
  rr_u64 init_jiffies;    /* informational */
  rr_u32 tsc_khz;         /* RELAYRES_CLOCK_TSC: TSC cycles per ms (the kernel's tsc_khz); else 0 */
  rr_u32 reserved3;       /* zero */
  rr_u64 anchor_tsc;      /* RELAYRES_CLOCK_TSC: the TSC at anchor_clock_ns/anchor_real_ns; else 0 */
  rr_u8 reserved1[32];    /* zero */
  rr_u32 reserved2;       /* zero */
  rr_u32 hdr_crc;         /* CRC-32 (IEEE, as zlib's crc32()) of bytes [0, header_size) with this field zero */
};
RELAYRES_ASSERT_SIZE(struct relayres_header, 256);

/* One cache line per CPU at cpu_ctl_off + cpu * 64. Updated inside a
 * seqcount (odd = in update); informational for the reader. */
struct relayres_cpu_ctl {
  rr_u32 seqcount;
  rr_u32 cpu;
  rr_u64 produced;     /* sub-buffers started on this CPU, minus one: the current sub-buffer's sb_seq */
  rr_u64 offset;       /* write offset in the current sub-buffer (>= 64) */
  rr_u64 next_rec_seq; /* sequence number the next record gets */
  rr_u64 lost;         /* records refused (no-overwrite full, too big, NMI) */
  rr_u64 overwritten;  /* sub-buffers overwritten (overwrite mode) */
  rr_u64 reserved[2];
};
RELAYRES_ASSERT_SIZE(struct relayres_cpu_ctl, 64);

/* The first 64 bytes of each sub-buffer. */
struct relayres_subbuf {
  rr_u32 magic;         /* RELAYRES_SUBBUF_MAGIC */
  rr_u32 cpu;           /* the CPU whose buffer this is */
  rr_u64 generation;    /* relayres_header.generation */
  rr_u64 sb_seq;        /* the CPU's sub-buffer number: strictly increasing, 0 first */
  rr_u64 first_ts;      /* timestamp of the first record (0 if none yet) */
  rr_u64 first_rec_seq; /* sequence of the first record in this sub-buffer */
  rr_u32 hdr_crc;       /* CRC-32 of bytes [0, 40) (magic..first_rec_seq) */
  rr_u32 reserved0;
  rr_u64 commit;        /* bytes committed, from the sub-buffer start, header included: 64..subbuf_size */
  rr_u64 reserved1;
};
RELAYRES_ASSERT_SIZE(struct relayres_subbuf, 64);

/* Every record is framed, so CPU streams merge by (ts, cpu, seq). A record
 * occupies RELAYRES_RECORD_ALIGN-aligned space: the next one starts at
 * offset + ((len + 7) & ~7). */
struct relayres_record {
  rr_u32 len;   /* header + payload bytes, >= 24, unaligned length */
  rr_u16 type;  /* RELAYRES_EV_* or a client's own >= 0x8000 */
  rr_u16 cpu;   /* the CPU that wrote it */
  rr_u64 seq;   /* per-CPU record sequence: strictly increasing by 1 */
  rr_u64 ts;    /* relayres_header.clock_id clock: ns (LOCAL) or cycles (TSC) */
  /* payload follows */
};
RELAYRES_ASSERT_SIZE(struct relayres_record, 24);

/* The private area (last page): the recording tool's start information and
 * event definitions, and the "consumed" flag that lets a new boot reuse the
 * region once the previous boot's channel has been saved. */
struct relayres_private {
  rr_u32 magic;        /* RELAYRES_PRIVATE_MAGIC */
  rr_u32 consumed;     /* 0: holds an unsaved channel; 1: saved, may be reinitialised */
  rr_u64 generation;   /* the header generation this applies to */
  rr_u32 used;         /* bytes of data[] in use */
  rr_u32 reserved0;
  char producer[32];   /* the producer's name, NUL-terminated ("relayres-demo") */
  rr_u8 reserved1[8];
  /* data[]: producer-defined, e.g. its start time and event table as text */
};
RELAYRES_ASSERT_SIZE(struct relayres_private, 64);

/* Event types of the demo producer (kernel-config/relayres/). Payloads are
 * little-endian structs of fixed widths. */
#define RELAYRES_EV_PADDING 0       /* never written; reserved */
#define RELAYRES_EV_START 1         /* payload: struct relayres_ev_start */
#define RELAYRES_EV_SCHED_SWITCH 2  /* payload: struct relayres_ev_sched_switch */
#define RELAYRES_EV_IRQ 3           /* payload: struct relayres_ev_irq */
#define RELAYRES_EV_MARKER 4        /* payload: the bytes user space wrote to the marker file */
#define RELAYRES_EV_PANIC 5         /* payload: struct relayres_ev_panic (last event at crash time) */
#define RELAYRES_EV_TEST 6          /* payload: struct relayres_ev_test (load generator) */

struct relayres_ev_start {
  rr_u32 nr_cpus;
  rr_u32 flags;
  char release[65];
  rr_u8 reserved[7];
};
RELAYRES_ASSERT_SIZE(struct relayres_ev_start, 80);

struct relayres_ev_sched_switch {
  rr_u32 prev_pid;
  rr_u32 next_pid;
  rr_u64 prev_state;
  char prev_comm[16];
  char next_comm[16];
};
RELAYRES_ASSERT_SIZE(struct relayres_ev_sched_switch, 48);

struct relayres_ev_irq {
  rr_u32 irq;
  rr_u32 reserved;
};
RELAYRES_ASSERT_SIZE(struct relayres_ev_irq, 8);

struct relayres_ev_panic {
  rr_u32 pid;
  rr_u32 reserved;
  char comm[16];
  char message[96]; /* the panic string, NUL-terminated, truncated */
};
RELAYRES_ASSERT_SIZE(struct relayres_ev_panic, 120);

struct relayres_ev_test {
  rr_u64 counter; /* the generator's own per-CPU count, strictly increasing */
  rr_u32 cpu;
  rr_u32 reserved;
};
RELAYRES_ASSERT_SIZE(struct relayres_ev_test, 16);

#endif /* SALVAGE_FORMATS_RELAYRES_LAYOUT_H */

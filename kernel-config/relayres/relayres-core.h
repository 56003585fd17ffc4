/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relayres-core: the writer of a relay channel kept in reserved memory
 * (relayres=), implementing the protocol of formats/relayres-layout.h.
 *
 * This file and relayres-core.c compile both inside the out-of-tree module
 * (flightrec.c) and in-tree (the patch series carries them unchanged through
 * its generator script): no MODULE_* or module_param here. The caller maps
 * the region and decides what to do with a previous boot's channel; the core
 * only validates, lays out and writes.
 *
 * API, modelled on relay (include/linux/relay.h):
 *   relayres_write(chan, type, payload, len)   copy one record (IRQ-safe)
 *   relayres_reserve(chan, type, len, &res)    space for one record; the
 *   relayres_commit(chan, &res)                caller fills res.payload in
 *                                              between, with IRQs off (the
 *                                              reserve disables them, the
 *                                              commit restores them)
 */
#ifndef RELAYRES_CORE_H
#define RELAYRES_CORE_H

#include <linux/types.h>
#include "relayres-layout.h"

#ifdef __BIG_ENDIAN
#error "relayres: the region layout is little-endian; big-endian writers are not supported"
#endif

/* Writer state of one CPU, in kernel memory: what addresses the region
 * (a corrupted region then cannot steer writes outside it). The record
 * sequence lives only in the region's relayres_cpu_ctl.next_rec_seq. Only
 * its own CPU, with IRQs off, touches either. */
struct relayres_wcpu {
	u8 *sb;           /* current sub-buffer */
	u32 offset;       /* write offset in it (>= 64) */
	u32 slot;         /* its slot index, 0..n_subbufs-1 */
	u64 produced;     /* its sb_seq */
	bool full;        /* no-overwrite: every slot used, refusing (offset is
			   * then subbuf_size, so the fast path's one bounds
			   * check sends every record to the slow path) */
	bool opened;      /* the first sub-buffer has been opened */
};

struct relayres_chan {
	u8 *base;                       /* the mapped region */
	u64 phys, size;
	struct relayres_header *hdr;
	struct relayres_cpu_ctl *ctl;   /* nr_cpus control blocks in the region */
	u8 *data;
	struct relayres_private *priv;
	u32 nr_cpus, subbuf_size, n_subbufs;
	bool overwrite;
	u32 clock_id;                   /* RELAYRES_CLOCK_LOCAL or _TSC */
	u64 generation;
	struct relayres_wcpu *w;        /* nr_cpus writer states (kernel memory) */
};

/* What a region holds, from relayres_inspect(). */
enum relayres_state {
	RELAYRES_NONE = 0,   /* no valid channel (zeroed, garbage, other place/size) */
	RELAYRES_UNSAVED,    /* a valid channel whose private area is not consumed */
	RELAYRES_SAVED,      /* a valid channel already saved (consumed == 1) */
};

struct relayres_found {
	u64 generation;
	u8 boot_id[16];
	char release[65];
	u32 nr_cpus;
};

/* Validate the header at base (magic, version, hdr_crc, place and size) and
 * the private area's consumed flag. Reads only. */
enum relayres_state relayres_inspect(const void *base, u64 phys, u64 size,
				     struct relayres_found *found);

struct relayres_params {
	u32 nr_cpus;        /* nr_cpu_ids */
	u32 subbuf_size;    /* 0: choose (16 KiB when >= 4 sub-buffers fit, else smaller) */
	bool overwrite;
	u64 generation;     /* previous + 1, or any fresh value */
	u8 boot_id[16];
	const char *release;
	/* What record timestamps count: RELAYRES_CLOCK_LOCAL (also for 0) or
	 * RELAYRES_CLOCK_TSC (x86 only; tsc_khz must then be the kernel's
	 * tsc_khz). The caller decides whether the TSC is trustworthy across
	 * CPUs (flightrec's clock= parameter); the core only records it. */
	u32 clock_id;
	u32 tsc_khz;
};

/* Lay out a new channel over the whole region (wiping it) and open every
 * CPU's first sub-buffer. Returns 0 or -errno (-EINVAL: the region is too
 * small for 2 sub-buffers per CPU or the sub-buffer size is not a power of
 * two >= 4096, or the clock is unknown or TSC without tsc_khz; -ENOMEM). */
int relayres_chan_init(struct relayres_chan *chan, void *base, u64 phys, u64 size,
		       const struct relayres_params *p);
void relayres_chan_free(struct relayres_chan *chan);

/* Fill the private area: producer name and free-form text (start info,
 * event table). Truncates text to what fits. */
void relayres_set_private(struct relayres_chan *chan, const char *producer,
			  const char *text, size_t len);

struct relayres_resv {
	void *payload;
	unsigned long flags;   /* saved IRQ state */
	struct relayres_wcpu *w;
	struct relayres_cpu_ctl *ctl;
	u32 alen;              /* aligned record length */
};

/* 0 on success (IRQs are then off until relayres_commit), -errno when the
 * record is refused (counted in the CPU's lost counter; IRQ state restored). */
int relayres_reserve(struct relayres_chan *chan, u16 type, u32 len, struct relayres_resv *res);
void relayres_commit(struct relayres_chan *chan, struct relayres_resv *res);
int relayres_write(struct relayres_chan *chan, u16 type, const void *payload, u32 len);

/* relayres_write for the crash path only (allowed in NMI context): see the
 * comment at its definition. */
int relayres_write_crash(struct relayres_chan *chan, u16 type, const void *payload, u32 len);

/* Sums over CPUs of the region's counters, for a stats file. */
struct relayres_totals {
	u64 records, subbufs, lost, overwritten;
};
void relayres_totals(struct relayres_chan *chan, struct relayres_totals *t);

#endif /* RELAYRES_CORE_H */

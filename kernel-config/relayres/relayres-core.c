// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * relayres-core: writer of a relay channel in reserved memory. The protocol
 * (what a crash at any instruction leaves behind) is described in
 * formats/relayres-layout.h; this file implements it:
 *
 *  - per-CPU buffers of n_subbufs sub-buffers, each starting with a 64-byte
 *    relayres_subbuf whose hdr_crc covers its identity (cpu, generation,
 *    sb_seq, first record), so a reader sorts sub-buffers by sb_seq without
 *    trusting any counter;
 *  - a record is copied in full, then a write barrier, then the sub-buffer's
 *    commit moves past it: a record the crash cut is beyond commit;
 *  - padding is what lies between the final commit and subbuf_size;
 *  - overwrite mode reuses the oldest slot; no-overwrite mode stops when all
 *    slots are used and counts the refused records in `lost` (relay's
 *    default subbuf_start callback behaves the same way).
 *
 * Concurrency is relay's: each CPU writes only its own buffer with local
 * IRQs off (relay_write uses local_irq_save too). NMIs are refused and
 * counted, since an NMI could land between a reserve and its commit.
 *
 * No MODULE_* here: the file is also built in-tree by the patch series.
 */
#include <linux/crc32.h>
#include <linux/errno.h>
#include <linux/hardirq.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <asm/unaligned.h>
#ifdef CONFIG_X86_TSC
#include <asm/msr.h> /* rdtsc() */
#endif

#include "relayres-core.h"

#ifndef noinline /* the user-space build (tests/readers/relay-host.sh) */
#define noinline __attribute__((__noinline__))
#endif

#define RR_HDR_CRC_OFF offsetof(struct relayres_header, hdr_crc)
#define RR_SB_CRC_LEN offsetof(struct relayres_subbuf, hdr_crc) /* 40 */

/* CRC-32 IEEE as zlib's crc32(): the kernel's crc32_le with ~ in and out. */
static u32 rr_crc32(u32 crc, const void *p, size_t n)
{
	return crc32_le(crc, p, n);
}

/* A record's timestamp. RELAYRES_CLOCK_TSC is one rdtsc (not
 * rdtsc_ordered: IRQs are off and a few cycles of reordering do not matter
 * to a stamp); local_clock() is sched_clock plus, when the kernel marked
 * the TSC unstable, sched_clock_cpu's per-CPU filtering (kernel/sched/clock.c),
 * which is what made it cost hundreds of ns a call under QEMU TCG. */
static __always_inline u64 rr_now(const struct relayres_chan *chan)
{
#ifdef CONFIG_X86_TSC
	if (chan->clock_id == RELAYRES_CLOCK_TSC)
		return rdtsc();
#endif
	return local_clock();
}

static inline u8 *rr_subbuf(struct relayres_chan *chan, u32 cpu, u32 slot)
{
	return chan->data + ((u64)cpu * chan->n_subbufs + slot) * chan->subbuf_size;
}

/* Seqcount around updates of the reader's informational control block. */
static inline void rr_ctl_begin(struct relayres_cpu_ctl *ctl)
{
	WRITE_ONCE(ctl->seqcount, ctl->seqcount + 1);
	smp_wmb();
}

static inline void rr_ctl_end(struct relayres_cpu_ctl *ctl)
{
	smp_wmb();
	WRITE_ONCE(ctl->seqcount, ctl->seqcount + 1);
}

enum relayres_state relayres_inspect(const void *base, u64 phys, u64 size,
				     struct relayres_found *found)
{
	struct relayres_header h;
	const struct relayres_private *priv;
	u32 crc;

	memcpy(&h, base, sizeof(h));
	if (h.magic != RELAYRES_MAGIC || h.version != RELAYRES_VERSION)
		return RELAYRES_NONE;
	if (h.header_size < sizeof(h) || h.header_size > RELAYRES_HEADER_SIZE)
		return RELAYRES_NONE;
	h.hdr_crc = 0;
	crc = rr_crc32(~0u, &h, sizeof(h));
	if (h.header_size > sizeof(h))
		crc = rr_crc32(crc, (const u8 *)base + sizeof(h), h.header_size - sizeof(h));
	if (~crc != ((const struct relayres_header *)base)->hdr_crc)
		return RELAYRES_NONE;
	/* A channel laid out for another place or size is not ours to keep. */
	if (h.region_phys != phys || h.region_size != size ||
	    h.private_off != size - RELAYRES_PAGE_SIZE)
		return RELAYRES_NONE;
	if (found) {
		found->generation = h.generation;
		memcpy(found->boot_id, h.boot_id, sizeof(found->boot_id));
		memcpy(found->release, h.release, sizeof(found->release));
		found->release[sizeof(found->release) - 1] = 0;
		found->nr_cpus = h.nr_cpus;
	}
	priv = (const void *)((const u8 *)base + h.private_off);
	/* A valid header with a damaged private area is kept: only an explicit
	 * consumed == 1 for this generation releases a channel. */
	if (READ_ONCE(priv->magic) == RELAYRES_PRIVATE_MAGIC &&
	    READ_ONCE(priv->generation) == h.generation && READ_ONCE(priv->consumed) == 1)
		return RELAYRES_SAVED;
	return RELAYRES_UNSAVED;
}

/* Open slot `slot` as sub-buffer number n of `cpu` (protocol: identity and
 * commit = 64, hdr_crc, barrier; the caller then publishes ctl->offset). */
static void rr_open_subbuf(struct relayres_chan *chan, u32 cpu, u32 slot, u64 n,
			   u64 first_ts, u64 first_seq)
{
	struct relayres_subbuf *sb = (void *)rr_subbuf(chan, cpu, slot);

	/* Invalidate first: a crash between these stores leaves a CRC mismatch
	 * (or commit 0), never a plausible mix of the old and new identity. */
	WRITE_ONCE(sb->commit, 0);
	smp_wmb();
	sb->magic = RELAYRES_SUBBUF_MAGIC;
	sb->cpu = cpu;
	sb->generation = chan->generation;
	sb->sb_seq = n;
	sb->first_ts = first_ts;
	sb->first_rec_seq = first_seq;
	sb->reserved0 = 0;
	sb->reserved1 = 0;
	sb->hdr_crc = ~rr_crc32(~0u, sb, RR_SB_CRC_LEN);
	smp_wmb();
	WRITE_ONCE(sb->commit, RELAYRES_SUBBUF_HDR_SIZE);
	smp_wmb();
}

int relayres_chan_init(struct relayres_chan *chan, void *base, u64 phys, u64 size,
		       const struct relayres_params *p)
{
	struct relayres_header h = {};
	u64 data_off, private_off, per_cpu;
	u32 nr = p->nr_cpus, sbs = p->subbuf_size, cpu;
	u32 clock_id = p->clock_id ? p->clock_id : RELAYRES_CLOCK_LOCAL;
	unsigned long flags;

	memset(chan, 0, sizeof(*chan));
	if (!size || size % RELAYRES_PAGE_SIZE || nr == 0 || nr > RELAYRES_MAX_CPUS)
		return -EINVAL;
#ifdef CONFIG_X86_TSC
	if (clock_id != RELAYRES_CLOCK_LOCAL && (clock_id != RELAYRES_CLOCK_TSC || !p->tsc_khz))
		return -EINVAL;
#else
	if (clock_id != RELAYRES_CLOCK_LOCAL)
		return -EINVAL;
#endif
	data_off = ALIGN((u64)RELAYRES_HEADER_SIZE + (u64)nr * RELAYRES_CPU_CTL_SIZE,
			 RELAYRES_PAGE_SIZE);
	private_off = size - RELAYRES_PAGE_SIZE;
	if (private_off <= data_off)
		return -EINVAL;
	per_cpu = (private_off - data_off) / nr;
	if (!sbs) {
		/* 16 KiB sub-buffers, smaller when fewer than 4 fit per CPU. */
		sbs = 16384;
		while (sbs > RELAYRES_MIN_SUBBUF_SIZE && per_cpu / sbs < 4)
			sbs >>= 1;
	}
	if (sbs < RELAYRES_MIN_SUBBUF_SIZE || (sbs & (sbs - 1)))
		return -EINVAL;
	if (per_cpu / sbs < 2 || per_cpu / sbs > U32_MAX)
		return -EINVAL;

	chan->w = kcalloc(nr, sizeof(*chan->w), GFP_KERNEL);
	if (!chan->w)
		return -ENOMEM;
	chan->base = base;
	chan->phys = phys;
	chan->size = size;
	chan->hdr = base;
	chan->ctl = (void *)((u8 *)base + RELAYRES_HEADER_SIZE);
	chan->data = (u8 *)base + data_off;
	chan->priv = (void *)((u8 *)base + private_off);
	chan->nr_cpus = nr;
	chan->subbuf_size = sbs;
	chan->n_subbufs = (u32)(per_cpu / sbs);
	chan->overwrite = p->overwrite;
	chan->clock_id = clock_id;
	chan->generation = p->generation;

	/* The header goes invalid first and valid last (magic after hdr_crc),
	 * so a crash during initialisation leaves no channel, not a mix. */
	WRITE_ONCE(chan->hdr->magic, 0);
	smp_wmb();
	memset(base, 0, size);
	for (cpu = 0; cpu < nr; cpu++) {
		struct relayres_cpu_ctl *ctl = &chan->ctl[cpu];
		struct relayres_wcpu *w = &chan->w[cpu];

		ctl->cpu = cpu;
		ctl->offset = RELAYRES_SUBBUF_HDR_SIZE;
		rr_open_subbuf(chan, cpu, 0, 0, 0, 0);
		w->sb = rr_subbuf(chan, cpu, 0);
		w->offset = RELAYRES_SUBBUF_HDR_SIZE;
	}
	chan->priv->magic = RELAYRES_PRIVATE_MAGIC;
	chan->priv->generation = p->generation;

	h.magic = RELAYRES_MAGIC;
	h.version = RELAYRES_VERSION;
	h.header_size = sizeof(h);
	h.region_phys = phys;
	h.region_size = size;
	h.nr_cpus = nr;
	h.flags = p->overwrite ? RELAYRES_F_OVERWRITE : 0;
	h.subbuf_size = sbs;
	h.n_subbufs = chan->n_subbufs;
	h.cpu_ctl_off = RELAYRES_HEADER_SIZE;
	h.data_off = data_off;
	h.private_off = private_off;
	h.private_size = RELAYRES_PAGE_SIZE;
	h.clock_id = clock_id;
	h.generation = p->generation;
	memcpy(h.boot_id, p->boot_id, sizeof(h.boot_id));
	if (p->release)
		strscpy(h.release, p->release, sizeof(h.release));
	/* The anchors: one moment on every clock a reader converts from. The
	 * TSC is read on both sides of the other two and the midpoint kept. */
	local_irq_save(flags);
	h.anchor_tsc = rr_now(chan);
	h.anchor_clock_ns = local_clock();
	h.anchor_real_ns = ktime_get_real_ns();
	if (clock_id == RELAYRES_CLOCK_TSC) {
		h.anchor_tsc += (rr_now(chan) - h.anchor_tsc) / 2;
		h.tsc_khz = p->tsc_khz;
	} else {
		h.anchor_tsc = 0;
	}
	local_irq_restore(flags);
	h.init_jiffies = jiffies;
	h.hdr_crc = 0;
	h.hdr_crc = ~rr_crc32(~0u, &h, sizeof(h));
	h.magic = 0;
	memcpy(chan->hdr, &h, sizeof(h));
	smp_wmb();
	WRITE_ONCE(chan->hdr->magic, RELAYRES_MAGIC);
	smp_wmb();
	return 0;
}

void relayres_chan_free(struct relayres_chan *chan)
{
	kfree(chan->w);
	chan->w = NULL;
}

void relayres_set_private(struct relayres_chan *chan, const char *producer,
			  const char *text, size_t len)
{
	struct relayres_private *pv = chan->priv;
	size_t room = RELAYRES_PAGE_SIZE - sizeof(*pv);

	if (len > room)
		len = room;
	strscpy(pv->producer, producer, sizeof(pv->producer));
	memcpy(pv + 1, text, len);
	memset((u8 *)(pv + 1) + len, 0, room - len);
	smp_wmb();
	WRITE_ONCE(pv->used, (u32)len);
}

static void rr_count_lost(struct relayres_cpu_ctl *ctl)
{
	/* Plain read-modify-write: only this CPU writes its counter, and an
	 * NMI's own increment racing with it can at worst lose one count. */
	WRITE_ONCE(ctl->lost, ctl->lost + 1);
}

/* Close the current sub-buffer (its commit is already final) and open the
 * next. false: no-overwrite mode and every slot used. */
static bool rr_switch(struct relayres_chan *chan, u32 cpu, struct relayres_wcpu *w,
		      struct relayres_cpu_ctl *ctl, u64 ts)
{
	u64 n = w->produced + 1;
	u32 slot;

	if (n >= chan->n_subbufs && !chan->overwrite) {
		w->full = true;
		w->offset = chan->subbuf_size; /* relayres_write's fast path now always misses */
		return false;
	}
	slot = w->slot + 1 == chan->n_subbufs ? 0 : w->slot + 1;
	smp_wmb(); /* the old sub-buffer's final commit before produced moves */
	rr_ctl_begin(ctl);
	ctl->produced = n;
	if (n >= chan->n_subbufs)
		ctl->overwritten++;
	rr_ctl_end(ctl);
	rr_open_subbuf(chan, cpu, slot, n, ts, ctl->next_rec_seq);
	w->sb = rr_subbuf(chan, cpu, slot);
	w->slot = slot;
	w->produced = n;
	w->offset = RELAYRES_SUBBUF_HDR_SIZE;
	WRITE_ONCE(ctl->offset, RELAYRES_SUBBUF_HDR_SIZE);
	return true;
}

static __always_inline int rr_reserve(struct relayres_chan *chan, u16 type, u32 len, struct relayres_resv *res,
		      bool crash)
{
	/* u64 so that a huge len cannot wrap into a small record */
	u64 rlen = sizeof(struct relayres_record) + (u64)len;
	u64 alen = ALIGN(rlen, RELAYRES_RECORD_ALIGN);
	struct relayres_record *rec;
	struct relayres_wcpu *w;
	struct relayres_cpu_ctl *ctl;
	unsigned int cpu;
	u64 ts;

	local_irq_save(res->flags);
	cpu = smp_processor_id();
	if (unlikely(cpu >= chan->nr_cpus)) {
		local_irq_restore(res->flags);
		return -EINVAL;
	}
	ctl = &chan->ctl[cpu];
	if (unlikely(in_nmi()) && !crash) {
		/* An NMI may have interrupted a reserve/commit pair on this CPU. */
		rr_count_lost(ctl);
		local_irq_restore(res->flags);
		return -EBUSY;
	}
	w = &chan->w[cpu];
	if (unlikely(alen > chan->subbuf_size - RELAYRES_SUBBUF_HDR_SIZE || w->full)) {
		rr_count_lost(ctl);
		local_irq_restore(res->flags);
		return alen > chan->subbuf_size - RELAYRES_SUBBUF_HDR_SIZE ? -E2BIG : -ENOSPC;
	}
	ts = rr_now(chan);
	if (unlikely(w->offset + alen > chan->subbuf_size) && !rr_switch(chan, cpu, w, ctl, ts)) {
		rr_count_lost(ctl);
		local_irq_restore(res->flags);
		return -ENOSPC;
	}
	rec = (void *)(w->sb + w->offset);
	/* len, type and cpu as one little-endian word: three stores a frame. */
	BUILD_BUG_ON(offsetof(struct relayres_record, type) != 4 ||
		     offsetof(struct relayres_record, cpu) != 6);
	*(u64 *)rec = rlen | (u64)type << 32 | (u64)cpu << 48;
	rec->seq = ctl->next_rec_seq;
	rec->ts = ts;
	if (alen != rlen) /* the alignment tail (< 8 bytes), so no stale bytes are left */
		*(u64 *)((u8 *)rec + alen - 8) = 0;
	res->payload = rec + 1;
	res->w = w;
	res->ctl = ctl;
	res->alen = (u32)alen;
	return 0;
}

int relayres_reserve(struct relayres_chan *chan, u16 type, u32 len, struct relayres_resv *res)
{
	return rr_reserve(chan, type, len, res, false);
}

static __always_inline void rr_commit(struct relayres_chan *chan, struct relayres_resv *res)
{
	struct relayres_wcpu *w = res->w;
	struct relayres_cpu_ctl *ctl = res->ctl;
	struct relayres_subbuf *sb = (void *)w->sb;

	smp_wmb(); /* the whole record before the commit that covers it */
	w->offset += res->alen;
	WRITE_ONCE(sb->commit, w->offset);
	/* Two single-word stores, outside the seqcount: each is consistent on
	 * its own, and the per-record path stays as short as relay_write's. */
	WRITE_ONCE(ctl->offset, w->offset);
	WRITE_ONCE(ctl->next_rec_seq, ctl->next_rec_seq + 1);
	local_irq_restore(res->flags);
}

void relayres_commit(struct relayres_chan *chan, struct relayres_resv *res)
{
	rr_commit(chan, res);
}

/* Event payloads are small (16 to 256 bytes): copy them in words. The
 * out-of-line memcpy a variable length gets is `rep movsb` on CPUs with
 * FSRM, whose start-up cost dominates at these sizes (relay_write, an
 * inline function, gets a constant-length memcpy its callers inline). */
static __always_inline void rr_copy(void *dst, const void *src, u32 len)
{
	u8 *d = dst;
	const u8 *p = src;

	for (; len >= 8; len -= 8, d += 8, p += 8)
		*(u64 *)d = get_unaligned((const u64 *)p);
	while (len--)
		*d++ = *p++;
}

/* Every record that the fast path does not take: a sub-buffer switch, a
 * refusal (NMI, too big, no-overwrite full, CPU beyond nr_cpus). */
static noinline int rr_write_slow(struct relayres_chan *chan, u16 type, const void *payload, u32 len)
{
	struct relayres_resv res;
	int err = rr_reserve(chan, type, len, &res, false);

	if (err)
		return err;
	rr_copy(res.payload, payload, len);
	rr_commit(chan, &res);
	return 0;
}

/*
 * The per-record path, as close to relay_write's (IRQs off, one bounds
 * check, copy, offset += len, IRQs on) as the crash-safety protocol allows:
 * one combined test sends anything unusual to rr_write_slow (a record that
 * does not fit, which includes one too big for any sub-buffer since offset
 * >= 64, and no-overwrite's full state, where offset is subbuf_size); the
 * frame is three 8-byte stores, then the payload, a write barrier, and the
 * commit. The same order as rr_reserve + rr_commit, so the protocol in
 * formats/relayres-layout.h holds unchanged; relay-host.sh's torn run
 * checks that a record copied but not committed stays invisible.
 *
 * Built twice (tsc constant): the TSC body calls nothing on its fast path,
 * so it needs no callee-saved registers, no stack spills around a
 * local_clock() call, and no test of the clock per record.
 */
static __always_inline int rr_write_fast(struct relayres_chan *chan, u16 type, const void *payload,
					 u32 len, bool tsc)
{
	u64 rlen = sizeof(struct relayres_record) + (u64)len;
	u64 alen = ALIGN(rlen, RELAYRES_RECORD_ALIGN);
	struct relayres_cpu_ctl *ctl;
	struct relayres_record *rec;
	struct relayres_wcpu *w;
	unsigned long flags;
	unsigned int cpu;
	u64 seq, off;

	local_irq_save(flags);
	cpu = smp_processor_id();
	if (unlikely(cpu >= chan->nr_cpus || in_nmi()))
		goto slow;
	w = &chan->w[cpu];
	off = w->offset;
	if (unlikely(off + alen > chan->subbuf_size))
		goto slow;
	ctl = &chan->ctl[cpu];
	rec = (void *)(w->sb + off);
	seq = ctl->next_rec_seq;
	*(u64 *)rec = rlen | (u64)type << 32 | (u64)cpu << 48;
	rec->seq = seq;
#ifdef CONFIG_X86_TSC
	rec->ts = tsc ? rdtsc() : local_clock();
#else
	rec->ts = local_clock();
#endif
	if (alen != rlen)
		*(u64 *)((u8 *)rec + alen - 8) = 0;
	rr_copy(rec + 1, payload, len);
	smp_wmb(); /* the whole record before the commit that covers it */
	off += alen;
	w->offset = (u32)off;
	WRITE_ONCE(((struct relayres_subbuf *)w->sb)->commit, off);
	WRITE_ONCE(ctl->offset, off);
	WRITE_ONCE(ctl->next_rec_seq, seq + 1);
	local_irq_restore(flags);
	return 0;
slow:
	local_irq_restore(flags);
	return rr_write_slow(chan, type, payload, len);
}

static noinline int rr_write_local(struct relayres_chan *chan, u16 type, const void *payload, u32 len)
{
	return rr_write_fast(chan, type, payload, len, false);
}

int relayres_write(struct relayres_chan *chan, u16 type, const void *payload, u32 len)
{
	if (chan->clock_id != RELAYRES_CLOCK_TSC)
		return rr_write_local(chan, type, payload, len);
	return rr_write_fast(chan, type, payload, len, true);
}

/* The crash path: kprobe handlers entered through int3 run in NMI context
 * (x86 exc_int3 uses irqentry_nmi_enter), and at that point the panicking
 * CPU is not inside one of its own reserve/commit pairs (unless the writer
 * itself crashed, which then costs only this one record). */
int relayres_write_crash(struct relayres_chan *chan, u16 type, const void *payload, u32 len)
{
	struct relayres_resv res;
	int err = rr_reserve(chan, type, len, &res, true);

	if (err)
		return err;
	rr_copy(res.payload, payload, len);
	rr_commit(chan, &res);
	return 0;
}

void relayres_totals(struct relayres_chan *chan, struct relayres_totals *t)
{
	u32 cpu;

	memset(t, 0, sizeof(*t));
	for (cpu = 0; cpu < chan->nr_cpus; cpu++) {
		const struct relayres_cpu_ctl *ctl = &chan->ctl[cpu];

		t->records += READ_ONCE(ctl->next_rec_seq);
		t->subbufs += READ_ONCE(ctl->produced) + 1;
		t->lost += READ_ONCE(ctl->lost);
		t->overwritten += READ_ONCE(ctl->overwritten);
	}
}

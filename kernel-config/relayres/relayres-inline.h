/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relayres_write_inline(): relayres_write's per-record fast path as an
 * inline function, for code built into the same module as relayres-core.c
 * (flightrec-demo.c, flightrec-bench.c).
 *
 * Why: relay_write() is an inline function (include/linux/relay.h), so
 * every relay user gets its fast path in its own code, with the payload
 * length a constant; relayres_write() is a call, with a variable length.
 * Inlining removes the call, the register saves it forces on the caller,
 * and the length arithmetic (constant-folded for a constant len, and the
 * payload copy becomes a few word moves).
 *
 * Module-only: kernel-config/patches/make-series.sh carries
 * relayres-core.[ch] alone into the patch series, whose in-tree users keep
 * the out-of-line relayres_write(). This header uses only the writer state
 * that relayres-core.h already makes public.
 *
 * The protocol order is rr_write_fast's in relayres-core.c (keep the two
 * in step): IRQs off, one bounds test, frame (three 8-byte stores),
 * payload, smp_wmb(), then sub-buffer commit, ctl->offset and
 * ctl->next_rec_seq; a record copied but not committed stays invisible to
 * the reader (formats/relayres-layout.h). Everything unusual (a sub-buffer
 * switch, NMI context, a CPU beyond nr_cpus, a record too big, no-overwrite
 * mode full) restores IRQs and calls relayres_write(), which redoes every
 * test and counts refusals. tests/readers/relay-host.sh runs its writer
 * checks through this function as well as through relayres_write().
 */
#ifndef RELAYRES_INLINE_H
#define RELAYRES_INLINE_H

#include <linux/hardirq.h>
#include <linux/irqflags.h>
#include <linux/sched/clock.h>
#include <linux/smp.h>
#include <asm/unaligned.h>
#ifdef CONFIG_X86_TSC
#include <asm/msr.h> /* rdtsc() */
#endif

#include "relayres-core.h"

static __always_inline int relayres_write_inline(struct relayres_chan *chan, u16 type,
						 const void *payload, u32 len)
{
	u64 rlen = sizeof(struct relayres_record) + (u64)len;
	u64 alen = ALIGN(rlen, RELAYRES_RECORD_ALIGN);
	struct relayres_cpu_ctl *ctl;
	struct relayres_record *rec;
	struct relayres_wcpu *w;
	const u8 *src = payload;
	unsigned long flags;
	unsigned int cpu;
	u64 seq, off;
	u8 *sb, *dst;

	local_irq_save(flags);
	cpu = smp_processor_id();
	if (unlikely(cpu >= chan->nr_cpus || in_nmi()))
		goto slow;
	w = &chan->w[cpu];
	off = w->offset;
	/* no-overwrite's full state has offset == subbuf_size: always misses */
	if (unlikely(off + alen > chan->subbuf_size))
		goto slow;
	ctl = &chan->ctl[cpu];
	/* held in a register: the stores below may alias w, so the compiler
	 * would otherwise load w->sb again for the commit */
	sb = w->sb;
	rec = (void *)(sb + off);
	seq = ctl->next_rec_seq;
	*(u64 *)rec = rlen | (u64)type << 32 | (u64)cpu << 48;
	rec->seq = seq;
#ifdef CONFIG_X86_TSC
	/* One rdtsc, not rdtsc_ordered: see rr_now() in relayres-core.c. */
	rec->ts = chan->clock_id == RELAYRES_CLOCK_TSC ? rdtsc() : local_clock();
#else
	rec->ts = local_clock();
#endif
	if (alen != rlen) /* the alignment tail, so no stale bytes are left */
		*(u64 *)((u8 *)rec + alen - 8) = 0;
	/* Word copy, as rr_copy: with a constant len this is len / 8 moves.
	 * (memcpy() would not do better: the payload's address escapes to
	 * the relayres_write() fallback, so it lives in memory either way.) */
	dst = (u8 *)(rec + 1);
	for (; len >= 8; len -= 8, dst += 8, src += 8)
		*(u64 *)dst = get_unaligned((const u64 *)src);
	while (len--)
		*dst++ = *src++;
	smp_wmb(); /* the whole record before the commit that covers it */
	off += alen;
	w->offset = (u32)off;
	WRITE_ONCE(((struct relayres_subbuf *)sb)->commit, off);
	WRITE_ONCE(ctl->offset, off);
	WRITE_ONCE(ctl->next_rec_seq, seq + 1);
	local_irq_restore(flags);
	return 0;
slow:
	local_irq_restore(flags);
	return relayres_write(chan, type, payload, len);
}

#endif /* RELAYRES_INLINE_H */

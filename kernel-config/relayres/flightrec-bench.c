// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flightrec's write-path benchmark against the kernel's own relay_write,
 * in the same kernel and module: writing N to /proc/flightrec/bench runs,
 * on the writer's CPU, N writes of the same 16-byte payload (a struct
 * relayres_ev_test) through each of:
 *
 *  - relayres_write() (the out-of-line API the patch series exports) and
 *    relayres_write_inline() (relayres-inline.h, what this module's own
 *    producers use), on two scratch channels (vzalloc'd, never the
 *    reserved region, so a bench leaves the recorded channel alone), one
 *    per clock (RELAYRES_CLOCK_TSC and _LOCAL, whatever clock= chose for
 *    the real channel);
 *  - relay_write() of the bare payload on a plain relay channel: relay
 *    itself stores no time and no order, so this is the raw floor;
 *  - like with like: relay_write() of a record the caller framed itself
 *    the way an in-tree relay user that wants ordered, timestamped records
 *    must (blktrace's __blk_add_trace): IRQs off, a timestamp (rdtsc or
 *    local_clock), a per-CPU sequence number, the same 24-byte frame as a
 *    relayres record, the payload; and blktrace's exact pattern, the frame
 *    built in place in relay_reserve()'s space (TSC only).
 *
 * All channels have the real channel's geometry (sub-buffer size and
 * count); writes go in batches of 4096 with cond_resched() between batches
 * and only the batches timed, best of 5 alternating rounds. Then the two
 * clocks alone. Reading the file prints the last result (ns per event).
 *
 * The relay channel runs in flight-recorder mode (subbuf_start returns 1,
 * as Documentation/filesystems/relay.rst describes), so neither side
 * takes the cheap "buffer full, drop" path. Its per-CPU files are
 * debugfs's flightrec-bench<cpu> while a run lasts; only writes are timed.
 */
#include <linux/debugfs.h>
#include <linux/ktime.h>
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/relay.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/msr.h>
#include <asm/tsc.h>

#include "flightrec.h"
#include "relayres-inline.h"

static struct relayres_chan *bchan;
static DEFINE_MUTEX(bench_lock);
static char bench_result[512] = "no run yet: echo N > /proc/flightrec/bench\n";

static int rb_subbuf_start(struct rchan_buf *buf, void *subbuf, void *prev_subbuf,
			   size_t prev_padding)
{
	return 1; /* overwrite, like flightrec's default mode */
}

/* The usual relay client setup: one debugfs file per CPU buffer. (6.1's
 * relay_open calls create_buf_file even without a base name and fails on
 * NULL, since the fix for CVE-2019-19462.) */
static struct dentry *rb_create_buf_file(const char *filename, struct dentry *parent,
					 umode_t mode, struct rchan_buf *buf, int *is_global)
{
	return debugfs_create_file(filename, mode, parent, buf, &relay_file_operations);
}

static int rb_remove_buf_file(struct dentry *dentry)
{
	debugfs_remove(dentry);
	return 0;
}

static struct rchan_callbacks rb_callbacks = {
	.subbuf_start = rb_subbuf_start,
	.create_buf_file = rb_create_buf_file,
	.remove_buf_file = rb_remove_buf_file,
};

#define BATCH 4096u
#define ROUNDS 5
static u64 bench_sink;

/* One record as a relay user that wants what relayres gives (records
 * mergeable across CPUs by (timestamp, cpu, sequence)) must build it
 * itself: the same 24-byte frame as relayres's, then the payload. */
struct bench_rec {
	struct relayres_record h;
	struct relayres_ev_test ev;
};

/* What one timed iteration writes. */
enum bench_kind {
	BK_RELAYRES,		/* relayres_write(): the out-of-line API */
	BK_INLINE,		/* relayres_write_inline(): the module's inline path */
	BK_RELAY,		/* relay_write() of the bare payload: no time, no order */
	BK_FRAMED_TSC,		/* the caller's own framing, then relay_write() */
	BK_FRAMED_LOCAL,
	BK_RESERVE_TSC,		/* the caller's own framing into relay_reserve() */
};

/* The framing an in-tree relay user does, as blktrace's __blk_add_trace
 * (kernel/trace/blktrace.c): IRQs off so that the stamp, the per-CPU
 * sequence and the buffer belong to one CPU and stay in order, then the
 * record. relay_write's own local_irq_save nests inside. */
static __always_inline void relay_framed(struct rchan *rc, u64 __percpu *seqs,
					 const struct relayres_ev_test *ev, bool tsc)
{
	struct bench_rec r;
	unsigned long flags;

	local_irq_save(flags);
	r.h.len = sizeof(r);
	r.h.type = 0x8000;
	r.h.cpu = smp_processor_id();
	r.h.seq = __this_cpu_inc_return(*seqs) - 1;
	r.h.ts = tsc ? rdtsc() : local_clock();
	r.ev = *ev;
	relay_write(rc, &r, sizeof(r));
	local_irq_restore(flags);
}

/* blktrace's own pattern: the frame built in place in relay_reserve()'s
 * space (no staging copy; relay_reserve does not disable IRQs itself). */
static __always_inline void relay_reserve_framed(struct rchan *rc, u64 __percpu *seqs,
						 const struct relayres_ev_test *ev)
{
	struct bench_rec *r;
	unsigned long flags;

	local_irq_save(flags);
	r = relay_reserve(rc, sizeof(*r));
	if (r) {
		r->h.len = sizeof(*r);
		r->h.type = 0x8000;
		r->h.cpu = smp_processor_id();
		r->h.seq = __this_cpu_inc_return(*seqs) - 1;
		r->h.ts = rdtsc();
		r->ev = *ev;
	}
	local_irq_restore(flags);
}

/* N writes of `kind` (a constant in each caller below, so the switch folds
 * away and each loop holds one write path only), in timed batches. */
static __always_inline u64 run_kind(enum bench_kind kind, void *c, u64 __percpu *seqs,
				    unsigned long n)
{
	struct relayres_ev_test ev = {};
	unsigned long done = 0, i;
	u64 ns = 0, t0;

	while (done < n) {
		unsigned long b = min_t(unsigned long, BATCH, n - done);

		t0 = ktime_get_ns();
		for (i = 0; i < b; i++) {
			ev.counter = done + i;
			switch (kind) {
			case BK_RELAYRES:
				relayres_write(c, 0x8000, &ev, sizeof(ev));
				break;
			case BK_INLINE:
				relayres_write_inline(c, 0x8000, &ev, sizeof(ev));
				break;
			case BK_RELAY:
				relay_write(c, &ev, sizeof(ev));
				break;
			case BK_FRAMED_TSC:
				relay_framed(c, seqs, &ev, true);
				break;
			case BK_FRAMED_LOCAL:
				relay_framed(c, seqs, &ev, false);
				break;
			case BK_RESERVE_TSC:
				relay_reserve_framed(c, seqs, &ev);
				break;
			}
		}
		ns += ktime_get_ns() - t0;
		done += b;
		cond_resched();
	}
	return ns;
}

/* Out of line, one per kind: each timed loop is its own function, as it
 * would be in a caller, and objdump -d shows each path alone. __flatten:
 * relay_write and relay_reserve are plain `inline` (include/linux/relay.h),
 * which gcc-12 honours for a single call site but not for the several
 * here (it then emits one out-of-line copy: a call per record, which
 * doubled relay_write's cost under TCG); flatten inlines them as a relay
 * user with one call site gets them. relayres_write stays a call (it is
 * extern); that is the out-of-line API's real cost. */
static noinline __flatten u64 run_relayres(struct relayres_chan *c, unsigned long n)
{
	return run_kind(BK_RELAYRES, c, NULL, n);
}

static noinline __flatten u64 run_inline(struct relayres_chan *c, unsigned long n)
{
	return run_kind(BK_INLINE, c, NULL, n);
}

static noinline __flatten u64 run_relay(struct rchan *rc, unsigned long n)
{
	return run_kind(BK_RELAY, rc, NULL, n);
}

static noinline __flatten u64 run_framed(struct rchan *rc, u64 __percpu *seqs, unsigned long n, bool tsc)
{
	if (tsc)
		return run_kind(BK_FRAMED_TSC, rc, seqs, n);
	return run_kind(BK_FRAMED_LOCAL, rc, seqs, n);
}

static noinline __flatten u64 run_reserve(struct rchan *rc, u64 __percpu *seqs, unsigned long n)
{
	return run_kind(BK_RESERVE_TSC, rc, seqs, n);
}

/* The timestamp alone: relay stores no time, every relayres record does. */
static u64 run_clock(unsigned long n, bool tsc)
{
	unsigned long done = 0, i;
	u64 ns = 0, t0, sink = 0;

	while (done < n) {
		unsigned long b = min_t(unsigned long, BATCH, n - done);

		t0 = ktime_get_ns();
		preempt_disable();
		if (tsc)
			for (i = 0; i < b; i++)
				sink += rdtsc();
		else
			for (i = 0; i < b; i++)
				sink += local_clock();
		preempt_enable();
		ns += ktime_get_ns() - t0;
		done += b;
		cond_resched();
	}
	WRITE_ONCE(bench_sink, sink);
	return ns;
}

/* A scratch channel like the real one, on the given clock. */
static struct relayres_chan *scratch_open(u32 clock_id, void **mem)
{
	struct relayres_params p = {
		.nr_cpus = bchan->nr_cpus, .subbuf_size = bchan->subbuf_size, .overwrite = true,
		.generation = 1, .release = "bench", .clock_id = clock_id, .tsc_khz = tsc_khz,
	};
	struct relayres_chan *c = kzalloc(sizeof(*c), GFP_KERNEL);

	*mem = vzalloc(bchan->size);
	if (!c || !*mem || relayres_chan_init(c, *mem, 0, bchan->size, &p)) {
		vfree(*mem);
		kfree(c);
		return NULL;
	}
	return c;
}

static void scratch_close(struct relayres_chan *c, void *mem)
{
	if (!c)
		return;
	relayres_chan_free(c);
	kfree(c);
	vfree(mem);
}

#define NS2(x, n) (x) / (n), ((x) * 100 / (n)) % 100

static ssize_t bench_write(struct file *f, const char __user *ubuf, size_t len, loff_t *pos)
{
	struct relayres_chan *ct = NULL, *cl;
	void *mt = NULL, *ml;
	u64 __percpu *seqs;
	struct rchan *rc;
	unsigned long n;
	/* best ns per column: relayres_write and the inline path on each
	 * clock, plain relay_write, the caller-framed relay_write on each
	 * clock, and the caller-framed relay_reserve (TSC) */
	u64 wt = U64_MAX, it = U64_MAX, wl = U64_MAX, il = U64_MAX, rw = U64_MAX;
	u64 ft = U64_MAX, fl = U64_MAX, rt = U64_MAX, c, t;
	int i;
	int err;

	err = kstrtoul_from_user(ubuf, len, 0, &n);
	if (err)
		return err;
	if (!n)
		return -EINVAL;
	seqs = alloc_percpu(u64);
	if (!seqs)
		return -ENOMEM;
	rc = relay_open("flightrec-bench", NULL, bchan->subbuf_size, bchan->n_subbufs, &rb_callbacks, NULL);
	if (!rc) {
		free_percpu(seqs);
		return -ENOMEM;
	}
	if (tsc_khz)
		ct = scratch_open(RELAYRES_CLOCK_TSC, &mt);
	cl = scratch_open(RELAYRES_CLOCK_LOCAL, &ml);
	if (!cl || (tsc_khz && !ct)) {
		scratch_close(ct, mt);
		scratch_close(cl, ml);
		relay_close(rc);
		free_percpu(seqs);
		return -ENOMEM;
	}
	mutex_lock(&bench_lock);
	/* Alternate and keep the best of ROUNDS rounds each, so a vCPU
	 * descheduled by the host costs no column alone. */
	for (i = 0; i < ROUNDS; i++) {
		if (ct) {
			wt = min(wt, run_relayres(ct, n));
			it = min(it, run_inline(ct, n));
			ft = min(ft, run_framed(rc, seqs, n, true));
			rt = min(rt, run_reserve(rc, seqs, n));
		}
		wl = min(wl, run_relayres(cl, n));
		il = min(il, run_inline(cl, n));
		rw = min(rw, run_relay(rc, n));
		fl = min(fl, run_framed(rc, seqs, n, false));
	}
	c = run_clock(n, false);
	t = ct ? run_clock(n, true) : 0;
	if (!ct)
		wt = it = ft = rt = 0;
	scnprintf(bench_result, sizeof(bench_result),
		  "events %lu payload %zu"
		  " relayres_write_tsc %llu.%02llu relayres_inline_tsc %llu.%02llu"
		  " relay_write_framed_tsc %llu.%02llu relay_reserve_framed_tsc %llu.%02llu"
		  " relayres_write_local %llu.%02llu relayres_inline_local %llu.%02llu"
		  " relay_write_framed_local %llu.%02llu relay_write %llu.%02llu"
		  " local_clock %llu.%02llu rdtsc %llu.%02llu ns\n",
		  n, sizeof(struct relayres_ev_test), NS2(wt, n), NS2(it, n), NS2(ft, n), NS2(rt, n),
		  NS2(wl, n), NS2(il, n), NS2(fl, n), NS2(rw, n), NS2(c, n), NS2(t, n));
	mutex_unlock(&bench_lock);
	scratch_close(ct, mt);
	scratch_close(cl, ml);
	relay_close(rc);
	free_percpu(seqs);
	pr_info("flightrec: bench: %s", bench_result);
	return len;
}

static int bench_show(struct seq_file *m, void *v)
{
	mutex_lock(&bench_lock);
	seq_puts(m, bench_result);
	mutex_unlock(&bench_lock);
	return 0;
}

static int bench_open(struct inode *inode, struct file *file)
{
	return single_open(file, bench_show, NULL);
}

static const struct proc_ops bench_ops = {
	.proc_open = bench_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = bench_write,
};

int flightrec_bench_init(struct relayres_chan *chan, struct proc_dir_entry *dir)
{
	bchan = chan;
	return proc_create("bench", 0600, dir, &bench_ops) ? 0 : -ENOMEM;
}

void flightrec_bench_exit(void)
{
}

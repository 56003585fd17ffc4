// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flightrec's write-path benchmark against the kernel's own relay_write,
 * in the same kernel and module: writing N to /proc/flightrec/bench runs,
 * on the writer's CPU, N relayres_write() calls on each of two scratch
 * channels (vzalloc'd, never the reserved region, so a bench leaves the
 * recorded channel alone), one per clock (RELAYRES_CLOCK_TSC and _LOCAL,
 * whatever clock= chose for the real channel), and N relay_write() calls
 * on a plain relay channel, all with the real channel's geometry
 * (sub-buffer size and count) and the same 16-byte payload (a struct
 * relayres_ev_test), in batches of 4096 with cond_resched() between
 * batches and only the batches timed, best of 5 alternating rounds. Then
 * the two clocks alone. Reading the file prints the last result.
 *
 * The relay channel runs in flight-recorder mode (subbuf_start returns 1,
 * as Documentation/filesystems/relay.rst describes), so neither side
 * takes the cheap "buffer full, drop" path. Its per-CPU files are
 * debugfs's flightrec-bench<cpu> while a run lasts; only writes are timed.
 */
#include <linux/debugfs.h>
#include <linux/ktime.h>
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

static struct relayres_chan *bchan;
static DEFINE_MUTEX(bench_lock);
static char bench_result[256] = "no run yet: echo N > /proc/flightrec/bench\n";

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

static u64 run_relayres(struct relayres_chan *rc, unsigned long n)
{
	struct relayres_ev_test ev = {};
	unsigned long done = 0, i;
	u64 ns = 0, t0;

	while (done < n) {
		unsigned long b = min_t(unsigned long, BATCH, n - done);

		t0 = ktime_get_ns();
		for (i = 0; i < b; i++) {
			ev.counter = done + i;
			relayres_write(rc, 0x8000, &ev, sizeof(ev));
		}
		ns += ktime_get_ns() - t0;
		done += b;
		cond_resched();
	}
	return ns;
}

static u64 run_relay(struct rchan *rc, unsigned long n)
{
	struct relayres_ev_test ev = {};
	unsigned long done = 0, i;
	u64 ns = 0, t0;

	while (done < n) {
		unsigned long b = min_t(unsigned long, BATCH, n - done);

		t0 = ktime_get_ns();
		for (i = 0; i < b; i++) {
			ev.counter = done + i;
			relay_write(rc, &ev, sizeof(ev));
		}
		ns += ktime_get_ns() - t0;
		done += b;
		cond_resched();
	}
	return ns;
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
	struct rchan *rc;
	unsigned long n;
	u64 a = U64_MAX, l = U64_MAX, b = U64_MAX, c, t;
	int i;
	int err;

	err = kstrtoul_from_user(ubuf, len, 0, &n);
	if (err)
		return err;
	if (!n)
		return -EINVAL;
	rc = relay_open("flightrec-bench", NULL, bchan->subbuf_size, bchan->n_subbufs, &rb_callbacks, NULL);
	if (!rc)
		return -ENOMEM;
	if (tsc_khz)
		ct = scratch_open(RELAYRES_CLOCK_TSC, &mt);
	cl = scratch_open(RELAYRES_CLOCK_LOCAL, &ml);
	if (!cl || (tsc_khz && !ct)) {
		scratch_close(ct, mt);
		scratch_close(cl, ml);
		relay_close(rc);
		return -ENOMEM;
	}
	mutex_lock(&bench_lock);
	/* Alternate and keep the best of ROUNDS rounds each, so a vCPU
	 * descheduled by the host costs no side alone. */
	for (i = 0; i < ROUNDS; i++) {
		if (ct)
			a = min(a, run_relayres(ct, n));
		l = min(l, run_relayres(cl, n));
		b = min(b, run_relay(rc, n));
	}
	c = run_clock(n, false);
	t = ct ? run_clock(n, true) : 0;
	if (!ct)
		a = 0;
	scnprintf(bench_result, sizeof(bench_result),
		  "events %lu payload %zu relayres_write_tsc %llu.%02llu ns/event relayres_write_local %llu.%02llu ns/event relay_write %llu.%02llu ns/event local_clock %llu.%02llu ns/call rdtsc %llu.%02llu ns/call\n",
		  n, sizeof(struct relayres_ev_test), NS2(a, n), NS2(l, n), NS2(b, n), NS2(c, n), NS2(t, n));
	mutex_unlock(&bench_lock);
	scratch_close(ct, mt);
	scratch_close(cl, ml);
	relay_close(rc);
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

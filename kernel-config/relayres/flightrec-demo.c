// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flightrec's demo producer: what a user gets by loading the module.
 *
 *  - sched_switch and irq_handler_entry tracepoints (found by name with
 *    for_each_kernel_tracepoint: 6.1 does not export __tracepoint_*);
 *  - /proc/flightrec/marker: each write() becomes one RELAYRES_EV_MARKER
 *    record holding the bytes written (at most 256);
 *  - /proc/flightrec/test: writing N runs one kthread per online CPU, each
 *    writing N RELAYRES_EV_TEST records with its own strictly increasing
 *    counter; the write returns when all are done (a load generator);
 *  - a crash-time record (RELAYRES_EV_PANIC). In 6.1 panic() calls
 *    __crash_kexec() before the panic notifiers unless
 *    crash_kexec_post_notifiers is set (kernel/panic.c), so a panic
 *    notifier would never run on a kdump system. A kprobe on __crash_kexec
 *    runs on every path into the capture kernel (panic, and oops via
 *    crash_kexec); a second kprobe on panic() only remembers its format
 *    string for the record's message.
 */
#include <linux/atomic.h>
#include <linux/cpu.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/interrupt.h>
#include <linux/timex.h>
#include <asm/tsc.h>

#include "flightrec.h"
/* The hot producers (tracepoints, load generator) use the inline write
 * path; the marker (a syscall) keeps the out-of-line relayres_write(). */
#include "relayres-inline.h"

const char flightrec_event_table[] =
	"1 start nr_cpus:u32 flags:u32 release:char[65] reserved:u8[7]\n"
	"2 sched_switch prev_pid:u32 next_pid:u32 prev_state:u64 prev_comm:char[16] next_comm:char[16]\n"
	"3 irq irq:u32 reserved:u32\n"
	"4 marker bytes:u8[]\n"
	"5 panic pid:u32 reserved:u32 comm:char[16] message:char[96]\n"
	"6 test counter:u64 cpu:u32 reserved:u32\n";

static struct relayres_chan *dchan;
static struct tracepoint *tp_switch, *tp_irq;

static void probe_sched_switch(void *data, bool preempt, struct task_struct *prev,
			       struct task_struct *next, unsigned int prev_state)
{
	struct relayres_ev_sched_switch ev;

	ev.prev_pid = prev->pid;
	ev.next_pid = next->pid;
	ev.prev_state = prev_state;
	memcpy(ev.prev_comm, prev->comm, sizeof(ev.prev_comm));
	memcpy(ev.next_comm, next->comm, sizeof(ev.next_comm));
	relayres_write_inline(dchan, RELAYRES_EV_SCHED_SWITCH, &ev, sizeof(ev));
}

static void probe_irq_entry(void *data, int irq, struct irqaction *action)
{
	struct relayres_ev_irq ev = { .irq = irq };

	relayres_write_inline(dchan, RELAYRES_EV_IRQ, &ev, sizeof(ev));
}

static void find_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_switch"))
		tp_switch = tp;
	else if (!strcmp(tp->name, "irq_handler_entry"))
		tp_irq = tp;
}

/* ---- marker ---- */
static ssize_t marker_write(struct file *f, const char __user *ubuf, size_t n, loff_t *pos)
{
	char buf[256];
	size_t len = min(n, sizeof(buf));
	int err;

	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	err = relayres_write(dchan, RELAYRES_EV_MARKER, buf, len);
	return err ? err : n;
}

static const struct proc_ops marker_ops = {
	.proc_write = marker_write,
	.proc_lseek = noop_llseek,
};

/* ---- load generator ---- */
static u64 *gen_counter; /* per CPU, across runs */
static atomic_t gen_running;
static DECLARE_WAIT_QUEUE_HEAD(gen_wait);
static DEFINE_MUTEX(gen_lock);
static unsigned long gen_n;

static int gen_thread(void *data)
{
	unsigned int cpu = (unsigned long)data;
	struct relayres_ev_test ev = { .cpu = cpu };
	unsigned long i;

	for (i = 0; i < gen_n; i++) {
		ev.counter = gen_counter[cpu]++;
		relayres_write_inline(dchan, RELAYRES_EV_TEST, &ev, sizeof(ev));
		if ((i & 255) == 255)
			cond_resched();
	}
	if (atomic_dec_and_test(&gen_running))
		wake_up(&gen_wait);
	return 0;
}

static ssize_t test_write(struct file *f, const char __user *ubuf, size_t n, loff_t *pos)
{
	unsigned long count;
	unsigned int cpu;
	int err;

	err = kstrtoul_from_user(ubuf, n, 0, &count);
	if (err)
		return err;
	mutex_lock(&gen_lock);
	gen_n = count;
	cpus_read_lock();
	atomic_set(&gen_running, 1);
	for_each_online_cpu(cpu) {
		struct task_struct *t;

		if (cpu >= dchan->nr_cpus)
			continue;
		t = kthread_create_on_cpu(gen_thread, (void *)(unsigned long)cpu, cpu, "flightrec-gen/%u");
		if (IS_ERR(t))
			continue;
		atomic_inc(&gen_running);
		wake_up_process(t);
	}
	cpus_read_unlock();
	if (!atomic_dec_and_test(&gen_running))
		wait_event(gen_wait, atomic_read(&gen_running) == 0);
	mutex_unlock(&gen_lock);
	return n;
}

static const struct proc_ops test_ops = {
	.proc_write = test_write,
	.proc_lseek = noop_llseek,
};

/* ---- crash path ---- */
static char panic_fmt[96];
static atomic_t panic_recorded;

static int panic_pre(struct kprobe *p, struct pt_regs *regs)
{
	/* panic(const char *fmt, ...): the format, not the formatted text
	 * (the vsnprintf into panic()'s own static buffer comes later). */
	const char *fmt = (const char *)regs->di;
	size_t i;

	/* Byte by byte: 6.1 does not export strncpy_from_kernel_nofault. */
	for (i = 0; i < sizeof(panic_fmt) - 1; i++)
		if (copy_from_kernel_nofault(&panic_fmt[i], fmt + i, 1) || !panic_fmt[i])
			break;
	panic_fmt[i] = 0;
	return 0;
}

static int crash_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct relayres_ev_panic ev = {};
	u64 c0 = get_cycles(), c1;
	int err;

	if (atomic_xchg(&panic_recorded, 1))
		return 0;
	ev.pid = current->pid;
	memcpy(ev.comm, current->comm, sizeof(ev.comm));
	strscpy(ev.message, panic_fmt[0] ? panic_fmt : "crash_kexec (oops)", sizeof(ev.message));
	err = relayres_write_crash(dchan, RELAYRES_EV_PANIC, &ev, sizeof(ev));
	c1 = get_cycles();
	/* The cost of the hook, on the console (and so in the dump's log). In
	 * TSC cycles: after panic() local_clock() may no longer advance. */
	pr_emerg("flightrec: crash-time event %s on CPU %d in %llu TSC cycles (%llu ns)\n",
		 err ? "refused" : "recorded", raw_smp_processor_id(), c1 - c0,
		 tsc_khz ? (c1 - c0) * 1000000 / tsc_khz : 0);
	return 0;
}

static struct kprobe kp_panic = { .symbol_name = "panic", .pre_handler = panic_pre };
static struct kprobe kp_crash = { .symbol_name = "__crash_kexec", .pre_handler = crash_pre };
static bool kp_panic_on, kp_crash_on;

int flightrec_demo_start(struct relayres_chan *chan, struct proc_dir_entry *dir, bool trace)
{
	int err;

	dchan = chan;
	gen_counter = kcalloc(chan->nr_cpus, sizeof(*gen_counter), GFP_KERNEL);
	if (!gen_counter)
		return -ENOMEM;
	if (!proc_create("marker", 0200, dir, &marker_ops) ||
	    !proc_create("test", 0200, dir, &test_ops)) {
		kfree(gen_counter);
		return -ENOMEM;
	}
	err = register_kprobe(&kp_crash);
	if (err)
		pr_warn("flightrec: kprobe on __crash_kexec failed (%d): no crash-time event\n", err);
	kp_crash_on = !err;
	kp_panic_on = !register_kprobe(&kp_panic);
	if (trace) {
		for_each_kernel_tracepoint(find_tp, NULL);
		if (tp_switch && tracepoint_probe_register(tp_switch, probe_sched_switch, NULL))
			tp_switch = NULL;
		if (tp_irq && tracepoint_probe_register(tp_irq, probe_irq_entry, NULL))
			tp_irq = NULL;
		if (!tp_switch || !tp_irq)
			pr_warn("flightrec: tracepoints: sched_switch %s, irq_handler_entry %s\n",
				tp_switch ? "on" : "missing", tp_irq ? "on" : "missing");
	}
	return 0;
}

void flightrec_demo_stop(void)
{
	if (tp_switch)
		tracepoint_probe_unregister(tp_switch, probe_sched_switch, NULL);
	if (tp_irq)
		tracepoint_probe_unregister(tp_irq, probe_irq_entry, NULL);
	tracepoint_synchronize_unregister();
	tp_switch = tp_irq = NULL;
	if (kp_crash_on)
		unregister_kprobe(&kp_crash);
	if (kp_panic_on)
		unregister_kprobe(&kp_panic);
	kp_crash_on = kp_panic_on = false;
	kfree(gen_counter);
	gen_counter = NULL;
}

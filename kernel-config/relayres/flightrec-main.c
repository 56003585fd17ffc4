// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flightrec: a relay channel in memory reserved at boot (relayres=), for
 * the Debian 6.1 kernel as an out-of-tree module. The region survives a
 * panic (kexec into the capture kernel) and a warm reset, and salvage
 * rebuilds the per-CPU streams from it in user space.
 *
 *   memmap=1M$0x5000000 flightrec.relayres=1M@0x5000000
 *
 * The region must be reserved (memmap=SIZE$ADDR makes an e820 "Reserved"
 * range, which KASLR also avoids) and must not be System RAM.
 *
 * Previous boot: if the region already holds a valid channel whose private
 * area is not marked consumed, loading fails with -EBUSY and leaves the
 * region untouched and unclaimed. Unclaimed matters: with Debian's
 * CONFIG_IO_STRICT_DEVMEM, /dev/mem refuses a range a driver has claimed
 * (request_mem_region), and /dev/mem is how `salvage save` reads a channel
 * that survived a warm reset. Once salvage has saved it, it writes
 * consumed = 1 into the private area and the next load starts a new
 * generation. force=1 discards an unsaved channel. docs/relayres.md.
 */
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/utsname.h>
#include <asm/cpufeature.h>
#include <asm/tsc.h>

#include "flightrec.h"

static char *relayres;
module_param(relayres, charp, 0444);
MODULE_PARM_DESC(relayres, "the reserved region, SIZE@ADDR with K/M/G suffixes (required)");
static bool overwrite = true;
module_param(overwrite, bool, 0444);
MODULE_PARM_DESC(overwrite, "1: flight recorder (reuse the oldest sub-buffer); 0: keep the first events, count the rest as lost");
static uint subbuf_size;
module_param(subbuf_size, uint, 0444);
MODULE_PARM_DESC(subbuf_size, "sub-buffer size, a power of two >= 4096 (0: 16K, smaller for small regions)");
static bool force;
module_param(force, bool, 0444);
MODULE_PARM_DESC(force, "1: discard a previous boot's channel that was not saved");
static bool trace = true;
module_param(trace, bool, 0444);
MODULE_PARM_DESC(trace, "1: record sched_switch and irq_handler_entry tracepoints");

static char *clock = "auto";
module_param(clock, charp, 0444);
MODULE_PARM_DESC(clock, "record timestamps: tsc (raw TSC cycles, one rdtsc a record), local (local_clock() ns) or auto (tsc when the TSC is constant, nonstop and not marked unstable, else local)");

static struct relayres_chan chan;
static void *region;
static struct resource *claimed;
static struct proc_dir_entry *procdir;

/* SIZE@ADDR, as the 2006 RELAY_RESERVED patch's relayres= (memparse:
 * K/M/G suffixes, 0x addresses). */
static int parse_region(const char *s, u64 *size, u64 *phys)
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	*size = memparse(s, &end);
	if (*end != '@')
		return -EINVAL;
	*phys = memparse(end + 1, &end);
	if (*end && !isspace(*end))
		return -EINVAL;
	return 0;
}

/* /proc/sys/kernel/random/boot_id (random.c's sysctl_bootid is not
 * exported), parsed from its text form; zeros if unreadable. */
static void read_boot_id(u8 out[16])
{
	char buf[40] = {};
	struct file *f;
	loff_t pos = 0;
	int i = 0, j = 0;

	memset(out, 0, 16);
	f = filp_open("/proc/sys/kernel/random/boot_id", O_RDONLY, 0);
	if (IS_ERR(f))
		return;
	kernel_read(f, buf, sizeof(buf) - 1, &pos);
	filp_close(f, NULL);
	while (buf[i] && j < 32) {
		int v = hex_to_bin(buf[i++]);

		if (v < 0)
			continue;
		out[j / 2] |= (j % 2) ? v : v << 4;
		j++;
	}
}

/*
 * clock=: RELAYRES_CLOCK_TSC when the TSC can order events across CPUs.
 * constant_tsc and nonstop_tsc say it ticks at one rate in every P- and
 * C-state; tsc_unstable (check_tsc_unstable) is set when the kernel's
 * boot-time sync check (arch/x86/kernel/tsc_sync.c) or the clocksource
 * watchdog found the CPUs' TSCs apart, as on QEMU TCG ("Marking TSC
 * unstable due to TSCs unsynchronized"). There auto means local_clock(),
 * whose slow path is then exactly the cost; clock=tsc forces the TSC
 * anyway: each CPU's stream stays in order, only the merge across CPUs
 * may be off by the skew. Returns the clock and why, for the log.
 */
static u32 choose_clock(const char **why)
{
	bool good = boot_cpu_has(X86_FEATURE_CONSTANT_TSC) && boot_cpu_has(X86_FEATURE_NONSTOP_TSC) &&
		    !check_tsc_unstable() && tsc_khz;

	if (!strcmp(clock, "local")) {
		*why = "clock=local";
		return RELAYRES_CLOCK_LOCAL;
	}
	if (!strcmp(clock, "tsc") && tsc_khz) {
		*why = good ? "clock=tsc" : "clock=tsc (forced: TSC not known synchronised)";
		return RELAYRES_CLOCK_TSC;
	}
	if (!strcmp(clock, "tsc")) {
		*why = "clock=tsc but tsc_khz is 0: local";
		return RELAYRES_CLOCK_LOCAL;
	}
	if (good) {
		*why = "auto: constant, nonstop, synchronised TSC";
		return RELAYRES_CLOCK_TSC;
	}
	*why = !boot_cpu_has(X86_FEATURE_CONSTANT_TSC) || !boot_cpu_has(X86_FEATURE_NONSTOP_TSC) ?
		"auto: TSC not constant+nonstop" : check_tsc_unstable() ? "auto: TSC marked unstable" :
		"auto: no tsc_khz";
	return RELAYRES_CLOCK_LOCAL;
}

static int stats_show(struct seq_file *m, void *v)
{
	struct relayres_totals t;
	u32 cpu;

	relayres_totals(&chan, &t);
	seq_printf(m, "region %#llx+%#llx generation %llu nr_cpus %u subbuf_size %u n_subbufs %u mode %s clock %s\n",
		   chan.phys, chan.size, chan.generation, chan.nr_cpus, chan.subbuf_size,
		   chan.n_subbufs, chan.overwrite ? "overwrite" : "no-overwrite",
		   chan.clock_id == RELAYRES_CLOCK_TSC ? "tsc" : "local");
	seq_printf(m, "total records %llu subbufs %llu lost %llu overwritten %llu\n",
		   t.records, t.subbufs, t.lost, t.overwritten);
	for (cpu = 0; cpu < chan.nr_cpus; cpu++) {
		const struct relayres_cpu_ctl *c = &chan.ctl[cpu];

		if (!c->next_rec_seq && !c->lost)
			continue;
		seq_printf(m, "cpu %u records %llu produced %llu offset %llu lost %llu overwritten %llu\n",
			   cpu, READ_ONCE(c->next_rec_seq), READ_ONCE(c->produced),
			   READ_ONCE(c->offset), READ_ONCE(c->lost), READ_ONCE(c->overwritten));
	}
	return 0;
}

static void write_private(void)
{
	char *text = kmalloc(RELAYRES_PAGE_SIZE, GFP_KERNEL);
	int n;

	if (!text)
		return;
	n = scnprintf(text, RELAYRES_PAGE_SIZE,
		      "producer=relayres-demo\nmodule=flightrec\nrelease=%s\nstart_real_ns=%llu\n"
		      "mode=%s\nsubbuf_size=%u\nn_subbufs=%u\nnr_cpus=%u\nevents:\n%s",
		      utsname()->release, ktime_get_real_ns(),
		      chan.overwrite ? "overwrite" : "no-overwrite", chan.subbuf_size,
		      chan.n_subbufs, chan.nr_cpus, flightrec_event_table);
	relayres_set_private(&chan, "relayres-demo", text, n);
	kfree(text);
}

static int __init flightrec_init(void)
{
	struct relayres_params p = {};
	struct relayres_found found = {};
	struct relayres_ev_start ev = {};
	enum relayres_state st;
	const char *clock_why;
	u64 size, phys;
	int err;

	if (strcmp(clock, "auto") && strcmp(clock, "tsc") && strcmp(clock, "local")) {
		pr_err("flightrec: clock=%s: expected tsc, local or auto\n", clock);
		return -EINVAL;
	}
	if (parse_region(relayres, &size, &phys)) {
		pr_err("flightrec: relayres=%s: expected SIZE@ADDR, e.g. 1M@0x5000000\n",
		       relayres ? relayres : "(missing)");
		return -EINVAL;
	}
	if (!size || (size | phys) & (RELAYRES_PAGE_SIZE - 1)) {
		pr_err("flightrec: relayres=%s: size and address must be non-zero multiples of 4096\n", relayres);
		return -EINVAL;
	}
	if (region_intersects(phys, size, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("flightrec: relayres=%s overlaps System RAM; reserve it at boot with memmap=%lluK$%#llx\n",
		       relayres, size >> 10, phys);
		return -EINVAL;
	}
	if (region_intersects(phys, size, IORESOURCE_MEM, IORES_DESC_RESERVED) != REGION_INTERSECTS) {
		pr_err("flightrec: relayres=%s is not wholly inside a Reserved range of /proc/iomem; boot with memmap=SIZE$ADDR\n",
		       relayres);
		return -EINVAL;
	}
	region = memremap(phys, size, MEMREMAP_WB);
	if (!region) {
		pr_err("flightrec: memremap %#llx+%#llx failed\n", phys, size);
		return -ENOMEM;
	}
	st = relayres_inspect(region, phys, size, &found);
	if (st == RELAYRES_UNSAVED && !force) {
		pr_warn("flightrec: previous channel (generation %llu, boot_id %pUb, %s) not yet saved; run salvage save, or load with force=1\n",
			found.generation, found.boot_id, found.release);
		memunmap(region);
		return -EBUSY;
	}
	claimed = request_mem_region(phys, size, "flightrec");
	if (!claimed) {
		pr_err("flightrec: %#llx+%#llx is claimed by another driver\n", phys, size);
		memunmap(region);
		return -EBUSY;
	}

	p.nr_cpus = nr_cpu_ids;
	p.subbuf_size = subbuf_size;
	p.overwrite = overwrite;
	/* A fresh generation: stale sub-buffers of any older one never match. */
	p.generation = st != RELAYRES_NONE ? found.generation + 1 : (ktime_get_real_ns() | 1);
	read_boot_id(p.boot_id);
	p.release = utsname()->release;
	p.clock_id = choose_clock(&clock_why);
	p.tsc_khz = tsc_khz;
	err = relayres_chan_init(&chan, region, phys, size, &p);
	if (err) {
		pr_err("flightrec: relayres=%s: cannot lay out %u CPUs (subbuf_size %u): need 2 sub-buffers per CPU of a power-of-two size >= 4096 (error %d)\n",
		       relayres, p.nr_cpus, subbuf_size, err);
		goto out_release;
	}
	write_private();
	ev.nr_cpus = chan.nr_cpus;
	ev.flags = chan.overwrite ? RELAYRES_F_OVERWRITE : 0;
	strscpy(ev.release, utsname()->release, sizeof(ev.release));
	relayres_write(&chan, RELAYRES_EV_START, &ev, sizeof(ev));

	err = -ENOMEM;
	procdir = proc_mkdir("flightrec", NULL);
	if (!procdir || !proc_create_single("stats", 0444, procdir, stats_show))
		goto out_proc;
	err = flightrec_demo_start(&chan, procdir, trace);
	if (err)
		goto out_proc;
	err = flightrec_bench_init(&chan, procdir);
	if (err)
		goto out_demo;
	pr_info("flightrec: recording at %#llx+%#llx: generation %llu, %u CPUs x %u sub-buffers of %u bytes, %s, clock %s (%s, tsc_khz %u)%s\n",
		phys, size, chan.generation, chan.nr_cpus, chan.n_subbufs, chan.subbuf_size,
		chan.overwrite ? "overwrite" : "no-overwrite",
		chan.clock_id == RELAYRES_CLOCK_TSC ? "tsc" : "local", clock_why, tsc_khz,
		st == RELAYRES_SAVED ? " (previous channel was saved)" :
		st == RELAYRES_UNSAVED ? " (unsaved previous channel discarded: force=1)" : "");
	return 0;

out_demo:
	flightrec_demo_stop();
out_proc:
	proc_remove(procdir);
	relayres_chan_free(&chan);
out_release:
	release_mem_region(phys, size);
	memunmap(region);
	return err;
}

static void __exit flightrec_exit(void)
{
	flightrec_bench_exit();
	flightrec_demo_stop();
	proc_remove(procdir);
	relayres_chan_free(&chan);
	release_mem_region(chan.phys, chan.size);
	memunmap(region);
}

module_init(flightrec_init);
module_exit(flightrec_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("flight recorder: a relay channel in reserved memory that survives panic, kexec and warm reset");

// SPDX-License-Identifier: GPL-2.0
/*
 * relayres_open()/relayres_close(): the in-tree front end of the reserved
 * relay channel (include/linux/relayres.h). The region comes from
 * relayres=SIZE@ADDR (arch/x86/kernel/setup.c); the layout and the writer
 * are relayres-core.c, the same file the out-of-tree flightrec module builds.
 *
 * The region is mapped but never claimed with request_mem_region(): a busy
 * resource would hide it from /dev/mem under CONFIG_IO_STRICT_DEVMEM, and
 * /dev/mem is how user space saves the channel after a warm reset.
 *
 * The previous boot's channel is kept until user space has saved it and set
 * relayres_private.consumed = 1 (the 2006 patch's change to __relay_reset()
 * served the same purpose): relayres_open() refuses with -EBUSY until then.
 */
#include <linux/err.h>
#include <linux/io.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/relay_reserved.h>
#include <linux/relayres.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/utsname.h>
#include <linux/uuid.h>

#include "relayres-core.h"

static DEFINE_MUTEX(relayres_mutex);
static struct relayres_chan *relayres_user;	/* under relayres_mutex */
static void *relayres_map;

struct relayres_chan *relayres_open(const char *producer, unsigned int flags)
{
	struct relayres_params p = {};
	struct relayres_found found = {};
	struct relayres_chan *chan;
	enum relayres_state st;
	phys_addr_t phys;
	u64 size;
	int err;

	if (!relayres_region(&phys, &size))
		return ERR_PTR(-ENODEV);
	chan = kzalloc(sizeof(*chan), GFP_KERNEL);
	if (!chan)
		return ERR_PTR(-ENOMEM);

	mutex_lock(&relayres_mutex);
	err = -EBUSY;
	if (relayres_user)
		goto out_unlock;
	/* Not System RAM (setup.c made it E820 reserved): a cached ioremap. */
	err = -ENOMEM;
	if (!relayres_map)
		relayres_map = memremap(phys, size, MEMREMAP_WB);
	if (!relayres_map)
		goto out_unlock;

	st = relayres_inspect(relayres_map, phys, size, &found);
	if (st == RELAYRES_UNSAVED && !(flags & RELAYRES_OPEN_FORCE)) {
		pr_warn("relayres: previous channel (generation %llu, boot_id %pUb, %s) not yet saved; save it from /dev/mem and set its consumed flag\n",
			found.generation, found.boot_id, found.release);
		err = -EBUSY;
		goto out_unlock;
	}
	p.nr_cpus = nr_cpu_ids;
	p.overwrite = flags & RELAYRES_OPEN_OVERWRITE;
	/* A new generation, so no sub-buffer of an older one is ever taken for ours. */
	p.generation = st != RELAYRES_NONE ? found.generation + 1 : (ktime_get_real_ns() | 1);
	/*
	 * random.c's boot_id is not reachable from here (and /proc may not be
	 * mounted yet): a random id per channel still tells boots apart.
	 */
	generate_random_uuid(p.boot_id);
	p.release = utsname()->release;
	err = relayres_chan_init(chan, relayres_map, phys, size, &p);
	if (err) {
		pr_err("relayres: cannot lay out %u CPUs in %#llx bytes (error %d)\n",
		       p.nr_cpus, size, err);
		goto out_unlock;
	}
	if (producer)
		relayres_set_private(chan, producer, "", 0);
	relayres_user = chan;
	mutex_unlock(&relayres_mutex);
	pr_info("relayres: channel open at %pa+%#llx: generation %llu, %u CPUs x %u sub-buffers of %u bytes%s\n",
		&phys, size, chan->generation, chan->nr_cpus, chan->n_subbufs,
		chan->subbuf_size, st == RELAYRES_UNSAVED ? " (unsaved previous channel discarded)" : "");
	return chan;

out_unlock:
	mutex_unlock(&relayres_mutex);
	kfree(chan);
	return ERR_PTR(err);
}
EXPORT_SYMBOL_GPL(relayres_open);

/* The mapping stays: the region is never handed back to the allocator. */
void relayres_close(struct relayres_chan *chan)
{
	if (IS_ERR_OR_NULL(chan))
		return;
	mutex_lock(&relayres_mutex);
	if (relayres_user == chan)
		relayres_user = NULL;
	mutex_unlock(&relayres_mutex);
	relayres_chan_free(chan);
	kfree(chan);
}
EXPORT_SYMBOL_GPL(relayres_close);

u64 relayres_generation(const struct relayres_chan *chan)
{
	return chan->generation;
}
EXPORT_SYMBOL_GPL(relayres_generation);

EXPORT_SYMBOL_GPL(relayres_write);
EXPORT_SYMBOL_GPL(relayres_write_crash);
EXPORT_SYMBOL_GPL(relayres_set_private);

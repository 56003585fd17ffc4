/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A relay channel in the memory reserved with relayres=SIZE@ADDR
 * (CONFIG_RELAY_RESERVED). It survives a kexec into a kdump kernel and a
 * warm reset; user space reads it back from /dev/mem (or a saved copy) with
 * nothing but include/linux/relayres_layout.h.
 *
 * One user at a time, as with the 2006 RELAY_RESERVED patch. Records are
 * framed (length, type, CPU, per-CPU sequence, local_clock() time), written
 * per CPU with IRQs off like relay_write(); type is RELAYRES_EV_* or a
 * client's own value >= 0x8000.
 */
#ifndef _LINUX_RELAYRES_H
#define _LINUX_RELAYRES_H

#include <linux/types.h>

struct relayres_chan;

/* relayres_open() flags */
#define RELAYRES_OPEN_OVERWRITE	0x1	/* flight recorder: reuse the oldest sub-buffer */
#define RELAYRES_OPEN_FORCE	0x2	/* discard a previous channel that was not saved */

/*
 * Lay out a new channel over the region. ERR_PTR(-ENODEV) without
 * relayres=, -EBUSY while another user has it open or while the region holds
 * the previous boot's channel and its private area is not marked consumed
 * (then the region is left untouched so it can still be saved), -EINVAL if
 * the region cannot hold two sub-buffers per possible CPU.
 */
struct relayres_chan *relayres_open(const char *producer, unsigned int flags);
void relayres_close(struct relayres_chan *chan);

/* One record; -errno (and the CPU's lost count) when it is refused. */
int relayres_write(struct relayres_chan *chan, u16 type, const void *payload, u32 len);
/* The same from the crash path, NMI context included. */
int relayres_write_crash(struct relayres_chan *chan, u16 type, const void *payload, u32 len);
/* The recording tool's start information and event table (last page). */
void relayres_set_private(struct relayres_chan *chan, const char *producer,
			  const char *text, size_t len);

/* The channel's generation (bumped by every relayres_open()), for logs. */
u64 relayres_generation(const struct relayres_chan *chan);

#endif /* _LINUX_RELAYRES_H */

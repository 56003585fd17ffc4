/* SPDX-License-Identifier: GPL-2.0-or-later */
/* flightrec: the module's internal interfaces (flightrec-main.c owns the channel;
 * flightrec-demo.c is the demo producer; flightrec-bench.c the comparison
 * with the kernel's relay_write). */
#ifndef FLIGHTREC_H
#define FLIGHTREC_H

#include "relayres-core.h"

struct proc_dir_entry;

int flightrec_demo_start(struct relayres_chan *chan, struct proc_dir_entry *dir, bool trace);
void flightrec_demo_stop(void);
/* The demo producer's event table, for the private area. */
extern const char flightrec_event_table[];

int flightrec_bench_init(struct relayres_chan *chan, struct proc_dir_entry *dir);
void flightrec_bench_exit(void);

#endif

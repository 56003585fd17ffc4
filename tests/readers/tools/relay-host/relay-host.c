/* relay-host.c OUT MODE [EVENTS]: runs kernel-config/relayres/relayres-core.c
 * in user space (kshim.h) as 4 simulated CPUs writing interleaved
 * RELAYRES_EV_TEST records into a 1 MiB region, a marker, a crash-time
 * record from "NMI" context, and writes the region to OUT for
 * relay-check.py. MODE: overwrite | nooverwrite | torn (overwrite, then a
 * reserved record left uncommitted, as a crash between copy and commit
 * leaves it: the reader must not see it). Also checks relayres_inspect's
 * verdicts (valid unsaved, consumed, zeroed, garbage, moved region) and the
 * refusals (NMI, oversize, geometry). Exit 0 when all hold. */
#include <stdio.h>
#include "relayres-core.h"

unsigned int kshim_cpu;
int kshim_nmi;
u64 kshim_clock;

#define PHYS 0x5000000ull
#define SIZE (1u << 20)
static int fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("FAIL: " __VA_ARGS__); printf("\n"); } } while (0)

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *mode = argv[2];
	long events = argc > 3 ? atol(argv[3]) : 20000;
	u8 *region = aligned_alloc(4096, SIZE);
	struct relayres_chan chan;
	struct relayres_params p = { .nr_cpus = 4, .overwrite = strcmp(mode, "nooverwrite") != 0,
				     .generation = 7, .release = "host-test" };
	struct relayres_found found;

	memset(region, 0, SIZE);
	CHECK(relayres_inspect(region, PHYS, SIZE, &found) == RELAYRES_NONE, "zeroed region not NONE");
	for (u32 i = 0; i < SIZE; i++)
		region[i] = (u8)(i * 2654435761u >> 13);
	CHECK(relayres_inspect(region, PHYS, SIZE, &found) == RELAYRES_NONE, "garbage region not NONE");
	p.subbuf_size = 12288;
	CHECK(relayres_chan_init(&chan, region, PHYS, SIZE, &p) == -EINVAL, "subbuf_size 12288 accepted");
	p.subbuf_size = 262144;
	CHECK(relayres_chan_init(&chan, region, PHYS, SIZE, &p) == -EINVAL, "1 sub-buffer per CPU accepted");
	p.subbuf_size = 0;
	CHECK(relayres_chan_init(&chan, region, PHYS, SIZE, &p) == 0, "init failed");
	CHECK(chan.subbuf_size == 16384 && chan.n_subbufs == 15, "geometry %u x %u", chan.subbuf_size, chan.n_subbufs);
	CHECK(relayres_inspect(region, PHYS, SIZE, &found) == RELAYRES_UNSAVED && found.generation == 7,
	      "fresh channel not UNSAVED generation 7");
	CHECK(relayres_inspect(region, PHYS + 4096, SIZE, NULL) == RELAYRES_NONE, "moved region accepted");
	relayres_set_private(&chan, "relayres-demo", "producer=host-test\n", 19);

	struct relayres_ev_test ev = {0};
	char big[20000] = {0};
	kshim_cpu = 2;
	CHECK(relayres_write(&chan, RELAYRES_EV_MARKER, big, sizeof big) == -E2BIG, "oversize record accepted");
	CHECK(relayres_reserve(&chan, RELAYRES_EV_MARKER, 0xfffffff0u, &(struct relayres_resv){0}) == -E2BIG,
	      "a 4 GiB record wrapped into a small one");
	kshim_nmi = 1;
	CHECK(relayres_write(&chan, RELAYRES_EV_TEST, &ev, sizeof ev) == -EBUSY, "NMI write accepted");
	kshim_nmi = 0;
	kshim_cpu = 9;
	CHECK(relayres_write(&chan, RELAYRES_EV_TEST, &ev, sizeof ev) == -EINVAL, "CPU beyond nr_cpus accepted");
	for (long i = 0; i < events; i++)
		for (u32 cpu = 0; cpu < 4; cpu++) {
			kshim_cpu = cpu;
			ev.counter = i;
			ev.cpu = cpu;
			/* a variable-size record now and then, so padding varies */
			if (i % 97 == 0)
				relayres_write(&chan, RELAYRES_EV_MARKER, "odd-sized", 9 + cpu);
			relayres_write(&chan, RELAYRES_EV_TEST, &ev, sizeof ev);
		}
	kshim_cpu = 0;
	int mrc = relayres_write(&chan, RELAYRES_EV_MARKER, "LAB-LAST-MARKER host", 20);
	CHECK(p.overwrite ? mrc == 0 : mrc == -ENOSPC, "marker write returned %d", mrc);
	struct relayres_ev_panic pe = { .pid = 1, .comm = "init", .message = "host test crash" };
	kshim_cpu = 3;
	kshim_nmi = 1;
	int prc = relayres_write_crash(&chan, RELAYRES_EV_PANIC, &pe, sizeof pe);
	CHECK(p.overwrite ? prc == 0 : prc == -ENOSPC, "crash write returned %d", prc);
	kshim_nmi = 0;
	if (!strcmp(mode, "torn")) {
		struct relayres_resv res;
		kshim_cpu = 1;
		CHECK(relayres_reserve(&chan, RELAYRES_EV_MARKER, 32, &res) == 0, "reserve failed");
		memcpy(res.payload, "TORN-RECORD-NEVER-COMMITTED.....", 32);
		/* no relayres_commit: the crash came first */
	}
	struct relayres_totals t;
	relayres_totals(&chan, &t);
	printf("relay-host: %s: records %llu subbufs %llu lost %llu overwritten %llu\n", mode,
	       (unsigned long long)t.records, (unsigned long long)t.subbufs,
	       (unsigned long long)t.lost, (unsigned long long)t.overwritten);
	CHECK(t.lost >= 3, "NMI and oversize refusals not counted as lost");
	FILE *f = fopen(argv[1], "wb");
	if (!f || fwrite(region, 1, SIZE, f) != SIZE || fclose(f))
		return 2;
	/* consumed = 1 (what salvage writes through /dev/mem) releases it */
	chan.priv->consumed = 1;
	CHECK(relayres_inspect(region, PHYS, SIZE, NULL) == RELAYRES_SAVED, "consumed channel not SAVED");
	region[100] ^= 1; /* inside the header: hdr_crc must catch it */
	CHECK(relayres_inspect(region, PHYS, SIZE, NULL) == RELAYRES_NONE, "corrupted header accepted");
	relayres_chan_free(&chan);
	free(region);
	return fails ? 1 : 0;
}

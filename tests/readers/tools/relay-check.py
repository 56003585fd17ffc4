#!/usr/bin/python3
"""relay-check.py REGION.bin|TRACE_DIR --trace-dir [--cpus N] [--marker TEXT] [--absent TEXT]
                  [--expect-wrap] [--expect-panic] [--expect-no-overwrite]

An independent parser of a relayres= region (formats/relayres-layout.h),
written from the layout header alone with Python's struct and zlib, to check
what the flightrec module wrote in the lab (tests/vm/run-relay-lab.sh) without
trusting salvage's reader. It rebuilds each CPU's stream as the header's
"reader algorithm" says and asserts:

  - header: magic, version, hdr_crc (zlib CRC-32 with the field zeroed);
  - per CPU: the kept sub-buffers have consecutive sb_seq, record sequence
    numbers increase by exactly 1 across the whole retained window (no gap),
    and the load generator's RELAYRES_EV_TEST counters increase by exactly 1;
  - --cpus N: N CPUs have records;
  - --marker TEXT: a RELAYRES_EV_MARKER record starting with TEXT exists;
  - --absent TEXT: no record payload contains TEXT (an uncommitted record);
  - --expect-wrap: every CPU that ran the generator lost its oldest records
    to overwriting (first retained seq > 0, overwritten > 0);
  - --expect-panic: a RELAYRES_EV_PANIC record, the last of its CPU;
  - --expect-no-overwrite: overwrite flag off, every generator CPU kept its
    first sub-buffer (sb_seq 0, record seq 0, TEST counter 0) and counted
    lost records.
Exit status 0 when every assertion holds; one line per finding on stdout.
"""
import struct
import sys
import zlib

MAGIC = 0xCEA6B3ADB8A9B3AC ^ 0xFFFFFFFFFFFFFFFF
SB_MAGIC = 0x42535252
EV_MARKER, EV_PANIC, EV_TEST = 4, 5, 6
HDR_FMT = "<QIIQQIIIIQQQIIQ16s65s7sQQQIIQ32sII"
CLOCK_LOCAL, CLOCK_TSC = 1, 2


def stamp_ns(ts, clock_id, tsc_khz, anchor_tsc, anchor_clock):
    """A record stamp as the writer's local_clock() ns: LOCAL stamps are ns
    already; TSC stamps are cycles, tsc_khz a millisecond, counted from the
    anchor_tsc read with anchor_clock (rounded to nearest, half away from 0)."""
    if clock_id != CLOCK_TSC:
        return ts
    num = (ts - anchor_tsc) * 1000000
    q, r = divmod(abs(num), tsc_khz)
    q += 1 if 2 * r >= tsc_khz else 0
    return anchor_clock + (q if num >= 0 else -q)
SB_FMT = "<IIQQQQIIQQ"
CTL_FMT = "<IIQQQQQ16s"
REC_FMT = "<IHHQQ"


def finish(problems, panics, opts):
    """The checks both sources end with (--expect-panic), then the verdict."""
    if "--expect-panic" in opts:
        print("panic events: %s" % [(c, last, m.decode(errors="replace")) for c, last, m in panics])
        if not panics or not panics[-1][1]:
            problems.append("no crash-time event as the last record of its CPU")
    for p in problems:
        print("FAIL: " + p)
    print("relay-check: %s" % ("PASS" if not problems else "FAIL"))
    return 1 if problems else 0


def check_trace_dir(d, opts, want_cpus, marker, absent):
    """salvage's saved trace (agent/capture-trace.cc): trace/cpuN.bin are the
    retained records of CPU N, framed and 8-byte aligned, oldest first;
    header.bin is the region's first page. Same per-CPU assertions, except
    that the control block (overwritten, lost) is not part of the output."""
    import os
    problems, markers, panics, cpus = [], [], [], 0
    hdr = open(os.path.join(d, "header.bin"), "rb").read()
    h = struct.unpack_from(HDR_FMT, hdr, 0)
    raw = bytearray(hdr[:h[2]])
    raw[252:256] = b"\0\0\0\0"
    if h[0] != MAGIC or (zlib.crc32(bytes(raw)) & 0xFFFFFFFF) != h[-1]:
        problems.append("header.bin: bad magic or hdr_crc")
    nr_cpus = h[5]
    for cpu in range(nr_cpus):
        path = os.path.join(d, "cpu%d.bin" % cpu)
        if not os.path.exists(path):
            continue
        data = open(path, "rb").read()
        recs, pos = [], 0
        while pos + 24 <= len(data):
            ln, typ, rcpu, seq, ts = struct.unpack_from(REC_FMT, data, pos)
            if ln < 24 or pos + ln > len(data) or rcpu != cpu:
                problems.append("cpu%d.bin: bad frame at %d" % (cpu, pos))
                break
            recs.append((seq, typ, ts, data[pos + 24:pos + ln]))
            pos += (ln + 7) & ~7
        if not recs:
            continue
        cpus += 1
        seqs = [r[0] for r in recs]
        if any(b != a + 1 for a, b in zip(seqs, seqs[1:])):
            problems.append("cpu%d.bin: sequence gaps" % cpu)
        tests = [struct.unpack_from("<QI", r[3])[0] for r in recs if r[1] == EV_TEST]
        if any(b != a + 1 for a, b in zip(tests, tests[1:])):
            problems.append("cpu%d.bin: TEST counter gaps" % cpu)
        for r in recs:
            if absent is not None and absent in r[3]:
                problems.append("cpu%d.bin: holds %r" % (cpu, absent.decode()))
            if r[1] == EV_MARKER:
                markers.append(r[3])
            if r[1] == EV_PANIC:
                panics.append((cpu, r is recs[-1], r[3][24:120].split(b"\0")[0]))
        print("trace cpu%d.bin: %d records seq %d..%d, test counters %s"
              % (cpu, len(recs), seqs[0], seqs[-1], "%d..%d" % (tests[0], tests[-1]) if tests else "none"))
        if tests and "--expect-wrap" in opts and seqs[0] == 0:
            problems.append("cpu%d.bin: no wrap-around (first seq 0)" % cpu)
        if tests and "--expect-no-overwrite" in opts and (seqs[0] != 0 or tests[0] != 0):
            problems.append("cpu%d.bin: the first events were not kept" % cpu)
    if want_cpus is not None and cpus != want_cpus:
        problems.append("%d CPUs have records, expected %d" % (cpus, want_cpus))
    if marker is not None and not any(m.startswith(marker) for m in markers):
        problems.append("marker %r not found" % marker.decode())
    return finish(problems, panics, opts)


def main(argv):
    path = argv[1]
    opts = argv[2:]
    want_cpus = int(opts[opts.index("--cpus") + 1]) if "--cpus" in opts else None
    marker = opts[opts.index("--marker") + 1].encode() if "--marker" in opts else None
    absent = opts[opts.index("--absent") + 1].encode() if "--absent" in opts else None
    if "--trace-dir" in opts:
        return check_trace_dir(path, opts, want_cpus, marker, absent)
    data = open(path, "rb").read()
    problems = []
    assert struct.calcsize(HDR_FMT) == 256 and struct.calcsize(SB_FMT) == 64
    h = struct.unpack_from(HDR_FMT, data, 0)
    (magic, version, header_size, phys, size, nr_cpus, flags, sbs, nsb, ctl_off, data_off,
     priv_off, priv_size, clock_id, generation, boot_id, release) = h[:17]
    hdr_crc = h[-1]
    anchor_clock, anchor_real, tsc_khz, anchor_tsc = h[18], h[19], h[21], h[23]
    if magic != MAGIC:
        print("FAIL: header magic %#x at offset 0" % magic)
        return 1
    raw = bytearray(data[:header_size])
    raw[252:256] = b"\0\0\0\0"
    if version != 1 or (zlib.crc32(bytes(raw)) & 0xFFFFFFFF) != hdr_crc:
        print("FAIL: version %d or hdr_crc mismatch" % version)
        return 1
    overwrite = bool(flags & 1)
    print("header: phys %#x size %#x nr_cpus %d subbuf_size %d n_subbufs %d generation %d %s release %s"
          % (phys, size, nr_cpus, sbs, nsb, generation, "overwrite" if overwrite else "no-overwrite",
             release.split(b"\0")[0].decode()))
    clock_name = {CLOCK_LOCAL: "local", CLOCK_TSC: "tsc"}.get(clock_id, "unknown(%d)" % clock_id)
    print("clock %s tsc_khz %d anchor_tsc %d anchor_clock_ns %d anchor_real_ns %d"
          % (clock_name, tsc_khz, anchor_tsc, anchor_clock, anchor_real))
    if clock_id not in (CLOCK_LOCAL, CLOCK_TSC) or (clock_id == CLOCK_TSC and tsc_khz == 0):
        problems.append("clock_id %d with tsc_khz %d: stamps cannot be converted" % (clock_id, tsc_khz))
    if "--expect-clock" in opts and opts[opts.index("--expect-clock") + 1] != clock_name:
        problems.append("clock %s, expected %s" % (clock_name, opts[opts.index("--expect-clock") + 1]))
    to_ns = lambda ts: stamp_ns(ts, clock_id, tsc_khz or 1, anchor_tsc, anchor_clock)
    cpus_with_records = 0
    markers = []
    panics = []
    for cpu in range(nr_cpus):
        ctl = struct.unpack_from(CTL_FMT, data, ctl_off + cpu * 64)
        lost, overwritten = ctl[5], ctl[6]
        slots = []
        for s in range(nsb):
            off = data_off + (cpu * nsb + s) * sbs
            sb = struct.unpack_from(SB_FMT, data, off)
            m, c, gen, sb_seq, first_ts, first_seq, crc, _, commit, _ = sb
            if m != SB_MAGIC or c != cpu or gen != generation or not (64 <= commit <= sbs):
                continue
            if zlib.crc32(data[off:off + 40]) & 0xFFFFFFFF != crc:
                continue
            slots.append((sb_seq, off, commit))
        slots.sort()
        run = []  # the newest run of consecutive sb_seq
        for sl in reversed(slots):
            if run and sl[0] != run[0][0] - 1:
                break
            run.insert(0, sl)
        recs = []
        for sb_seq, off, commit in run:
            pos = 64
            while pos + 24 <= commit:
                ln, typ, rcpu, seq, ts = struct.unpack_from(REC_FMT, data, off + pos)
                if ln < 24 or pos + ln > commit or rcpu != cpu:
                    problems.append("cpu %d sb %d: bad frame at %d" % (cpu, sb_seq, pos))
                    break
                recs.append((seq, typ, ts, data[off + pos + 24:off + pos + ln]))
                pos += (ln + 7) & ~7
        if not recs:
            continue
        cpus_with_records += 1
        seqs = [r[0] for r in recs]
        gaps = sum(1 for a, b in zip(seqs, seqs[1:]) if b != a + 1)
        if gaps:
            problems.append("cpu %d: %d sequence gaps/reorders in the window" % (cpu, gaps))
        tests = [struct.unpack_from("<QI", r[3])[0] for r in recs if r[1] == EV_TEST]
        tgaps = sum(1 for a, b in zip(tests, tests[1:]) if b != a + 1)
        if tgaps:
            problems.append("cpu %d: %d TEST counter gaps" % (cpu, tgaps))
        for r in recs:
            if absent is not None and absent in r[3]:
                problems.append("cpu %d seq %d: holds %r, which was never committed" % (cpu, r[0], absent.decode()))
            if r[1] == EV_MARKER:
                markers.append((cpu, r[3]))
            if r[1] == EV_PANIC:
                panics.append((cpu, r is recs[-1], r[3][24:120].split(b"\0")[0]))
        times = [to_ns(r[2]) for r in recs]
        backwards = sum(1 for a, b in zip(times, times[1:]) if b < a)
        if backwards:  # one CPU's clock (local_clock or its TSC) never steps back
            problems.append("cpu %d: %d timestamps step backwards along the sequence" % (cpu, backwards))
        print("cpu %d: %d records seq %d..%d, sub-buffers %d..%d kept %d, test counters %s, lost %d overwritten %d, "
              "times %.6f..%.6f s after boot"
              % (cpu, len(recs), seqs[0], seqs[-1], run[0][0], run[-1][0], len(run),
                 "%d..%d" % (tests[0], tests[-1]) if tests else "none", lost, overwritten,
                 times[0] / 1e9, times[-1] / 1e9))
        if tests and "--expect-wrap" in opts and not (seqs[0] > 0 and overwritten > 0):
            problems.append("cpu %d: no wrap-around (first seq %d, overwritten %d)" % (cpu, seqs[0], overwritten))
        if tests and "--expect-no-overwrite" in opts:
            if overwrite or run[0][0] != 0 or seqs[0] != 0 or tests[0] != 0 or lost == 0:
                problems.append("cpu %d: not a kept-first window (sb %d seq %d counter %d lost %d)"
                                % (cpu, run[0][0], seqs[0], tests[0], lost))
    if want_cpus is not None and cpus_with_records != want_cpus:
        problems.append("%d CPUs have records, expected %d" % (cpus_with_records, want_cpus))
    if marker is not None:
        found = [m for m in markers if m[1].startswith(marker)]
        print("markers: %s" % [m[1].decode(errors="replace") for m in found])
        if not found:
            problems.append("marker %r not found" % marker.decode())
    return finish(problems, panics, opts)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

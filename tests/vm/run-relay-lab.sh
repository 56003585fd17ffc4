#!/usr/bin/env bash
# run-relay-lab.sh LAB_CACHE [--panic|--no-overwrite|--reset [SALVAGE]|--agent SALVAGE|--bench N]
#
# The flight recorder (issue 5) in the lab VM, one boot each:
#   --panic (default)  4 vCPUs, flightrec in overwrite mode on a 1 MiB
#                      region (memmap=1M$ADDR), the load generator writes
#                      enough numbered events per CPU to wrap several times,
#                      a last marker, panic; the capture kernel (nr_cpus=1)
#                      copies the region from /dev/mem to a virtio disk.
#                      Checked on the host by tests/readers/tools/relay-check.py
#                      (an independent parser of formats/relayres-layout.h):
#                      per-CPU seq strictly increasing with no gap, wrapped
#                      (first retained seq > 0), 4 CPUs, the marker, the
#                      crash-time event.
#   --no-overwrite     the same with flightrec.overwrite=0: the first events
#                      are kept (sb_seq 0, seq 0, counter 0), lost > 0, and
#                      the marker written when full is refused (ENOSPC).
#   --reset [SALVAGE]  warm reset (sysrq b, QEMU keeps RAM): the next boot's
#                      module load refuses the unsaved channel, /dev/mem gives
#                      the previous boot's events, consumed=1 lets it load
#                      (written by `salvage save` at that boot when SALVAGE
#                      is given, else by labinit).
#   --agent SALVAGE    --panic, but the capture kernel runs salvage as /init
#                      (armed with `salvage load`, image from `salvage
#                      mkinitramfs`, as tests/vm/run-agent-lab.sh): its agent
#                      reads the region and saves trace/ with the dump; then
#                      `salvage save` on the host extracts it and relay-check.py
#                      (--trace-dir) and `salvage trace show` check it.
#   --bench N          no panic: relayres_write vs relay_write, N events each
#                      (prints the module's result line; tests/bench/relay-bench.sh).
# Env: RELAY_LAB_TIMEOUT (s, default 300), RELAY_LAB_KEEP=1 keeps the work dir,
#      RELAY_LAB_SALVAGE=path: also check the region with `salvage trace show`
#      (skipped while that build says "not implemented").
# --panic also loads the module with bad regions first (outside memory,
# System RAM, not SIZE@ADDR, a sub-buffer size that is not a power of two):
# each must fail with EINVAL and a clear kernel message.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB_TAG=relay-lab
# shellcheck source=tests/vm/lab-lib.sh
. "$HERE/lab-lib.sh"
LAB_DIE=ERROR LAB_FAIL_LINES=40
[ $# -ge 1 ] || die "usage: $0 LAB_CACHE [--panic|--no-overwrite|--reset|--bench N]"
CACHE_DIR=$1; shift
MODE=panic BENCH_N=0
case "${1:---panic}" in
    --panic) MODE=panic ;;
    --no-overwrite) MODE=nooverwrite ;;
    --reset) MODE=reset; [ -n "${2:-}" ] && AGENT_SALVAGE=$(lab_abspath "$2") ;;
    --bench) MODE=bench; BENCH_N=${2:?--bench N} ;;
    --agent) MODE=agent; AGENT_SALVAGE=$(lab_abspath "${2:?--agent SALVAGE}") ;;
    *) die "unknown option $1" ;;
esac
LAB_FAIL="FAIL ($MODE)"

lab_use_cache "$CACHE_DIR"
lab_work_dir relay-lab "${RELAY_LAB_KEEP:-0}"
[ "${RELAY_LAB_KEEP:-0}" != 1 ] || log "work dir $WORK"

KO=$("$ROOT/kernel-config/relayres/build-lab.sh" "$CACHE_DIR" "$ROOT/${BUILD:-build}/relayres" 2>"$WORK/build.log" | tail -n1) ||
    { cat "$WORK/build.log" >&2; die "building flightrec.ko failed"; }

# The region: 80 MiB is below any crashkernel= placement in 1 GiB and is
# avoided by KASLR because of memmap=. Sizes: 1 MiB (4 CPUs x 15 x 16 KiB).
ADDR=0x5000000 SIZE=1M
[ $MODE = bench ] && SIZE=4M
REGION=$SIZE@$ADDR
EVENTS=${RELAY_LAB_EVENTS:-20000}

lab_build_labinit "$WORK/labinit"
if [ $MODE = reset ] && [ -n "${AGENT_SALVAGE:-}" ]; then
    strip -o "$WORK/salvage" "$AGENT_SALVAGE"
fi
if [ $MODE = agent ]; then
    # salvage's capture initramfs, as tests/vm/run-agent-lab.sh builds it
    strip -o "$WORK/salvage" "$AGENT_SALVAGE"
    lab_mkinitramfs "$WORK/salvage-capture.img" --salvage "$WORK/salvage" \
        --target LABEL=salvagedump --add-module virtio_blk --add-module virtio_pci --codec zlib
fi
R=$WORK/root
lab_init_root "$R" "$WORK/labinit"
# capture initramfs: labinit + virtio only; it copies the region
lab_mkcpio "$R" > "$WORK/capture.cpio"
lab_add_capture "$R" "$WORK/capture.cpio"
cp "$KO" "$R/lab/flightrec.ko"
[ $MODE = reset ] && [ -n "${AGENT_SALVAGE:-}" ] && cp "$WORK/salvage" "$R/lab/salvage"
if [ $MODE = agent ]; then
    cp "$WORK/salvage" "$R/lab/salvage"
    cp "$WORK/salvage-capture.img" "$R/lab/capture.cpio"
fi
echo "console=ttyS0 nr_cpus=1 reset_devices panic=-1 nowatchdog mce=off numa=off cma=0 lab.relay_copy=$REGION" \
    > "$R/lab/capture-cmdline"
lab_mkcpio "$R" > "$WORK/initramfs.cpio"

DISK=$WORK/disk.img
truncate -s 16M "$DISK"
if [ $MODE = agent ]; then
    truncate -s 512M "$DISK"
    lab_gpt "$DISK" name=salvagedump
fi
BASE="console=ttyS0 panic=-1 nowatchdog memmap=$SIZE\$$ADDR flightrec.relayres=$REGION lab.workers=0 lab.pagecache_mib=0"
REBOOT=(-no-reboot)
LAB_VM_SMP=4
case $MODE in
    panic) CMDLINE="$BASE crashkernel=192M lab.flightrec=panic lab.flightrec_events=$EVENTS" ;;
    agent) CMDLINE="$BASE crashkernel=192M lab.salvage_load lab.flightrec=panic lab.flightrec_events=$EVENTS" ;;
    nooverwrite) CMDLINE="$BASE crashkernel=192M flightrec.overwrite=0 lab.flightrec=panic lab.flightrec_events=$EVENTS" ;;
    reset) CMDLINE="$BASE lab.flightrec=reset lab.flightrec_events=$EVENTS"; REBOOT=() ;;
    bench) CMDLINE="$BASE flightrec.trace=0 lab.flightrec=bench lab.flightrec_bench=$BENCH_N" ;;
esac
log "booting $KVER -smp 4 ($MODE): $CMDLINE"
T0=$(date +%s)
rc=0
lab_qemu "${RELAY_LAB_TIMEOUT:-300}" "$SERIAL" "$WORK/initramfs.cpio" "$CMDLINE" "$WORK/qemu.out" \
    -nic none "${REBOOT[@]}" -drive "$(lab_disk "$DISK")" || rc=$?
T_QEMU=$(( $(date +%s) - T0 ))
cp "$SERIAL" "$CACHE_DIR/relay-lab-$MODE.serial.log" 2>/dev/null || true
lab_check_boot $rc "$WORK/qemu.out" "qemu timed out after ${RELAY_LAB_TIMEOUT:-300}s"

if [ $MODE = bench ]; then
    line=$(grep -a -m1 'flightrec: bench: ' "$SERIAL" | sed 's/.*flightrec: bench: //' | tr -d '\r')
    [ -n "$line" ] || fail "no bench result on the console"
    echo "relay-lab: bench: $line (qemu ${T_QEMU}s)"
    exit 0
fi

grep -aq 'flightrec: recording at' "$SERIAL" || fail "the module did not start recording"
if [ $MODE = agent ]; then
    for msg in 'bad regions refused' 'panicking'; do
        grep -aq "LAB: .*flightrec: $msg\|LAB: .*$msg" "$SERIAL" || fail "first kernel: no '$msg'"
    done
    grep -aq 'salvage: .*trace: .*records of 4 CPUs' "$SERIAL" || fail "the capture agent did not recover the trace"
    grep -aq 'salvage: .*trace saved' "$SERIAL" || fail "the capture agent did not save the trace"
    grep -aq 'salvage: .*marked consumed' "$SERIAL" || fail "the capture agent did not mark the channel consumed"
    grep -aq 'salvage: .*dump complete on' "$SERIAL" || fail "the agent did not complete the dump"
    lab_save_partition "$AGENT_SALVAGE" "$DISK" ""
    TDIR=$(ls -d "$WORK"/crash/*/*/trace 2>/dev/null | head -n1)
    [ -n "$TDIR" ] && [ -s "$TDIR/merged.bin" ] || fail "salvage save wrote no trace/ directory: $(ls -R "$WORK/crash" | head)"
    /usr/bin/python3 "$ROOT/tests/readers/tools/relay-check.py" "$TDIR" --trace-dir --cpus 4 --marker LAB-LAST-MARKER \
        --expect-wrap --expect-panic > "$WORK/check.out" 2>&1 || { cat "$WORK/check.out" >&2; fail "relay-check.py on salvage's trace/"; }
    cat "$WORK/check.out"
    "$AGENT_SALVAGE" trace show "$TDIR" > "$WORK/trace.txt" 2>&1 || { head "$WORK/trace.txt" >&2; fail "salvage trace show on the saved trace"; }
    grep -q LAB-LAST-MARKER "$WORK/trace.txt" || fail "salvage trace show lacks the marker"
    cost=$(grep -a -m1 'flightrec: crash-time event' "$SERIAL" | sed 's/.*flightrec: //' | tr -d '\r' || true)
    echo "relay-lab: PASS agent: salvage as /init saved the trace ($(ls "$TDIR" | tr '\n' ' ')), salvage save extracted it (qemu ${T_QEMU}s)${cost:+; $cost}"
    exit 0
fi
grep -aq 'LAB: .*flightrec: region .* copied from /dev/mem' "$SERIAL" || fail "the region was not copied from /dev/mem"
head -c 13 "$DISK" | grep -q 'FLREC-REGION ' || fail "no region on the disk"
read -r _ RSIZE _ < <(head -c 64 "$DISK" | head -n1)
dd if="$DISK" of="$WORK/region.bin" bs=1M skip=1 count=$((RSIZE >> 20)) status=none
CHECK=(/usr/bin/python3 "$ROOT/tests/readers/tools/relay-check.py" "$WORK/region.bin" --cpus 4)
case $MODE in
    panic) CHECK+=(--marker LAB-LAST-MARKER --expect-wrap --expect-panic)
        for msg in 'relayres=1M@0x40000000000 is not wholly inside a Reserved range' \
                   'relayres=1M@0x1000000 overlaps System RAM; reserve it at boot with memmap=1024K$0x1000000' \
                   'relayres=bogus: expected SIZE@ADDR' 'relayres=1M@0x5000000: cannot lay out 4 CPUs (subbuf_size 12288)'; do
            grep -aqF "flightrec: $msg" "$SERIAL" || fail "no clear refusal in the kernel log: $msg"
        done ;;
    nooverwrite) # the buffer is full: the marker and the crash event are refused and counted
        grep -aq 'LAB: .*last marker write: No space left on device' "$SERIAL" || fail "the marker was not refused (ENOSPC) in no-overwrite mode"
        CHECK+=(--expect-no-overwrite) ;;
    reset)
        grep -aq 'LAB: .*refused to load over the unsaved previous channel' "$SERIAL" || fail "the second boot's module load did not refuse the previous channel"
        grep -aq 'LAB: .*flightrec: loaded again after consumed=1' "$SERIAL" || fail "the module did not load after consumed=1"
        grep -aq 'previous channel was saved' "$SERIAL" || fail "the reload did not see the saved channel"
        if [ -n "${AGENT_SALVAGE:-}" ]; then
            grep -aq 'salvage save: flight-recorder trace of the previous boot .* saved to' "$SERIAL" ||
                fail "salvage save at the next boot did not save the previous boot's trace"
        fi
        CHECK+=(--marker LAB-LAST-MARKER --expect-wrap) ;;
esac
"${CHECK[@]}" > "$WORK/check.out" 2>&1 || { cat "$WORK/check.out" >&2; fail "relay-check.py"; }
cat "$WORK/check.out"
# salvage's own reader (relayagent's `salvage trace`), when this build has it:
# it must parse the same image and show the marker (and the crash record).
if [ -n "${RELAY_LAB_SALVAGE:-}" ] && [ -x "$RELAY_LAB_SALVAGE" ] &&
   ! "$RELAY_LAB_SALVAGE" trace show "$WORK/region.bin" --phys "$ADDR" 2>&1 | head -n1 | grep -q 'not implemented'; then
    "$RELAY_LAB_SALVAGE" trace show "$WORK/region.bin" --phys "$ADDR" > "$WORK/trace.txt" 2>&1 ||
        { head -n 20 "$WORK/trace.txt" >&2; fail "salvage trace show failed on the region"; }
    if [ $MODE != nooverwrite ]; then
        grep -q 'LAB-LAST-MARKER' "$WORK/trace.txt" || fail "salvage trace show lacks the last marker"
    fi
    if [ $MODE = panic ]; then
        tail -n 5 "$WORK/trace.txt" | grep -q 'sysrq triggered crash' || fail "salvage trace show: the crash record is not among the last lines"
    fi
    log "salvage trace show agrees ($(wc -l < "$WORK/trace.txt") lines)"
fi
cost=$(grep -a -m1 'flightrec: crash-time event' "$SERIAL" | sed 's/.*flightrec: //' | tr -d '\r' || true)
echo "relay-lab: PASS $MODE (qemu ${T_QEMU}s)${cost:+; $cost}"

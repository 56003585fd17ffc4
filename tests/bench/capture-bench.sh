#!/usr/bin/env bash
# capture-bench.sh LAB_CACHE SALVAGE [--append FILE]
#
# Issue 3 "Speed and footprint": the capture itself, in the lab VM, side by
# side:
#   baseline  a capture initramfs whose /init (tests/bench/mdfinit.c, static)
#             loads the lab's virtio modules and runs Debian's
#             `makedumpfile -F -c -d 31 /proc/vmcore > /dev/vda` (the
#             flattened stream written raw to the virtio disk), fsyncs and
#             powers off. It holds /usr/bin/makedumpfile, the libraries ldd
#             names, the loader, the modules: no shell, no busybox, nothing a
#             real kdump initramfs (kdump-tools, dracut) would add, so it is
#             the smallest baseline makedumpfile allows.
#   salvage   `salvage mkinitramfs --codec zlib` (level 31 is salvage's
#             default; written to a GPT partition LABEL=salvagedump), armed by
#             `salvage load`, as tests/vm/run-agent-lab.sh does.
# Both first kernels are the lab's (tests/vm/labinit.c: same workload, panic
# with sysrq 'c'); the baseline is armed with kexec_file_load and the capture
# command line salvage load built for the salvage run (salvage.* removed), so
# both capture kernels boot with the same parameters.
#
# Measured, per tool:
#   time      capture-kernel CLOCK_MONOTONIC at the "dump complete" console
#             line (salvage: its own line; baseline: mdfinit's line after
#             makedumpfile exited and the disk was fsynced). The capture
#             kernel's clock starts at 0 right after the crashed kernel's
#             panic (kexec jumps straight into it), so this is panic -> dump
#             complete, the capture kernel's boot included; only the kexec
#             jump itself (purgatory, sha256 check of the segments) is not on
#             any clock. The crashed kernel's panic timestamp is shown too.
#   initramfs the capture initramfs as loaded, both zstd level 19 with a
#             128 KiB window (how salvage mkinitramfs compresses for a kernel
#             with CONFIG_RD_ZSTD); the uncompressed cpio size as well.
#   crashkernel=  smallest reservation, in 16 MiB steps from 64M, at which
#             the capture still completes: one boot at 192M (the lab's; it is
#             also the timed run), then a binary search of 64M..176M, or of
#             208M..256M if 192M failed (4-5 boots per tool).
# QEMU: TCG, -smp 2 -m 1G, every run under `timeout`. Prints a markdown
# table; --append FILE also appends it to FILE (make bench: docs/bench.md).
# Env: CAPBENCH_TIMEOUT=180 (per QEMU run), CAPBENCH_KEEP=1 keeps the work dir,
# CAPBENCH_PROBE=64M one salvage boot at that size only (log: CAPBENCH_PROBE_LOG),
# CAPBENCH_LOAD_ARGS extra words for the salvage run's `salvage load`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_TAG=capture-bench
# shellcheck source=tests/vm/lab-lib.sh
. "$HERE/../vm/lab-lib.sh"

lab_args "$0 LAB_CACHE SALVAGE [--append FILE]" "$@"
APPEND=
[ "${3:-}" = --append ] && APPEND=${4:?--append needs a file}
TIMEOUT=${CAPBENCH_TIMEOUT:-180}

lab_require qemu-system-x86_64 gcc cpio sfdisk strip zstd ldd makedumpfile timeout
lab_use_cache "$CACHE_DIR"
lab_work_dir capture-bench "${CAPBENCH_KEEP:-0}"

# Same parameters as salvage mkinitramfs's zstd (agent/mkinitramfs.cc).
zst() { zstd -q -19 --zstd=wlog=17 --check -c; }

# ---- capture initramfs: salvage -------------------------------------------
strip -o "$WORK/salvage" "$SALVAGE"
mk_salvage() {  # OUTPUT COMPRESS
    lab_mkinitramfs "$1" --target LABEL=salvagedump --add-module virtio_blk --add-module virtio_pci --codec zlib \
        --dump-level 31 --compress "$2"
}
mk_salvage "$WORK/salvage-capture.img" zstd
mk_salvage "$WORK/salvage-capture.cpio" none

# ---- capture initramfs: baseline (makedumpfile) ----------------------------
gcc -static -O2 -Wall -Werror -o "$WORK/mdfinit" "$HERE/mdfinit.c"
strip "$WORK/mdfinit"
B=$WORK/mdfroot
lab_init_root "$B" "$WORK/mdfinit"
mkdir -p "$B/usr/bin"
cp /usr/bin/makedumpfile "$B/usr/bin/makedumpfile"
# every library ldd resolves, and the loader, at the path ldd prints
for lib in $(ldd /usr/bin/makedumpfile | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do
    mkdir -p "$B$(dirname "$lib")"
    cp -L "$lib" "$B$lib"
done
[ -e "$B/lib64/ld-linux-x86-64.so.2" ] || die "no loader copied for makedumpfile"
lab_mkcpio "$B" > "$WORK/mdf-capture.cpio"
zst < "$WORK/mdf-capture.cpio" > "$WORK/mdf-capture.img"
MDF_VERSION=$(makedumpfile -v 2>&1 | sed -n 's/^makedumpfile: version \([^ ]*\).*/\1/p' | head -n1)

# ---- first-kernel initramfs per tool ---------------------------------------
lab_build_labinit "$WORK/labinit"
first_initramfs() {  # TOOL CAPTURE_IMG -> $WORK/first-TOOL.cpio
    local R=$WORK/first-$1
    rm -rf "$R"
    lab_init_root "$R" "$WORK/labinit"
    lab_add_capture "$R" "$2"
    [ "$1" = salvage ] && cp "$WORK/salvage" "$R/lab/salvage"
    # CAPBENCH_LOAD_ARGS: extra `salvage load` words, e.g. "--append debugfs=on"
    # to measure what one default of the capture command line saves.
    [ "$1" = salvage ] && [ -n "${CAPBENCH_LOAD_ARGS:-}" ] && printf '%s\n' $CAPBENCH_LOAD_ARGS > "$R/lab/salvage-load-args"
    [ "$1" = makedumpfile ] && echo "$MDF_CMDLINE" > "$R/lab/capture-cmdline"
    lab_mkcpio "$R" > "$WORK/first-$1.cpio"
}
first_initramfs salvage "$WORK/salvage-capture.img"

# ---- one boot: TOOL CRASHKERNEL -> OK, T_PANIC, T_START, T_DONE ------------
boot() {
    local tool=$1 ck=$2 serial=$WORK/serial-$1-$2.log disk=$WORK/disk-$1.img extra=
    rm -f "$disk"; truncate -s 512M "$disk"
    if [ "$tool" = salvage ]; then
        lab_gpt "$disk" name=salvagedump
        extra=lab.salvage_load
    fi
    local rc=0
    lab_qemu "$TIMEOUT" "$serial" "$WORK/first-$tool.cpio" \
        "console=ttyS0 crashkernel=$ck panic=-1 nowatchdog $LAB_WORKLOAD $extra" "$WORK/qemu.out" \
        -nic none -no-reboot -drive "$(lab_disk "$disk")" || rc=$?
    tr -d '\r' < "$serial" > "$serial.txt"
    OK=0 T_PANIC='' T_START='' T_DONE=''
    # (|| true: with pipefail a missing line would end the script)
    T_PANIC=$(lab_stamp "$serial.txt" 'Kernel panic - not syncing' || true)
    if [ "$tool" = salvage ]; then
        T_START=$(lab_stamp "$serial.txt" 'salvage: .*capture agent starting as pid 1' 'salvage: ' || true)
        T_DONE=$(lab_stamp "$serial.txt" 'salvage: .*dump complete on' 'salvage: ' || true)
    else
        T_START=$(lab_stamp "$serial.txt" 'BENCH: .*baseline capture init starting' 'BENCH: ' || true)
        T_DONE=$(lab_stamp "$serial.txt" 'BENCH: .*makedumpfile exit 0: dump complete' 'BENCH: ' || true)
    fi
    [ -n "$T_PANIC" ] && [ -n "$T_DONE" ] && OK=1
    [ $OK = 1 ] && echo "$T_DONE" >> "$WORK/times-$tool"
    local why=
    touch "$WORK/failures"
    [ $rc = 124 ] && why=" (qemu timed out after ${TIMEOUT}s)"
    local p2; p2=$(grep 'Kernel panic - not syncing' "$serial.txt" | sed -n 2p || true)
    [ -n "$p2" ] && why="$why (capture kernel: ${p2#*] })"
    [ -z "$T_PANIC" ] && why="$why (no panic: $(grep -m1 -o 'LAB: .*ERROR.*' "$serial.txt" || echo '?'))"
    [ $OK = 1 ] || echo "$tool at crashkernel=$ck: $([ -n "$T_START" ] && echo "/init started at ${T_START}s" || echo "capture kernel never reached /init")$why" >> "$WORK/failures"
    log "$tool crashkernel=$ck: $([ $OK = 1 ] && echo "complete at ${T_DONE}s (init ${T_START}s; first kernel panicked at ${T_PANIC}s)" || echo "FAILED$why; last line: $(tail -n1 "$serial.txt")")"
    cp "$serial.txt" "$WORK/last-$tool.serial.log"
}

# ---- per tool: the timed run at 192M, then the crashkernel= search ---------
STEPS=(64 80 96 112 128 144 160 176 192 208 224 240 256)
search() {  # TOOL -> MIN_CK (MiB, or ">256"), and the 192M run's times
    local tool=$1 lo=-1 hi=${#STEPS[@]} mid
    boot "$tool" 192M
    R_OK=$OK R_PANIC=$T_PANIC R_START=$T_START R_DONE=$T_DONE
    cp "$WORK/disk-$tool.img" "$WORK/timed-$tool.img"
    if [ $OK = 1 ]; then hi=8; else lo=8; fi
    while [ $((hi - lo)) -gt 1 ]; do
        mid=$(((lo + hi) / 2))
        boot "$tool" "${STEPS[$mid]}M"
        if [ $OK = 1 ]; then hi=$mid; else lo=$mid; fi
    done
    if [ "$hi" -lt ${#STEPS[@]} ]; then MIN_CK="${STEPS[$hi]}M"; else MIN_CK=">256M"; fi
}

# CAPBENCH_PROBE=CK (e.g. 64M): one salvage boot at that reservation, its
# serial log kept in the work dir; for looking at where a small one fails.
if [ -n "${CAPBENCH_PROBE:-}" ]; then
    boot salvage "$CAPBENCH_PROBE"
    cp "$WORK/serial-salvage-$CAPBENCH_PROBE.log.txt" "${CAPBENCH_PROBE_LOG:-/tmp/capbench-probe.log}"
    log "serial log: ${CAPBENCH_PROBE_LOG:-/tmp/capbench-probe.log}"
    [ $OK = 1 ]; exit
fi
log "salvage: timed run at crashkernel=192M, then the crashkernel= search"
search salvage
S_OK=$R_OK S_PANIC=$R_PANIC S_START=$R_START S_DONE=$R_DONE S_MIN=$MIN_CK
[ "$S_OK" = 1 ] || die "salvage did not complete at crashkernel=192M"

# The baseline capture kernel gets the command line salvage load built
# (the capture kernel's "Command line:" in the timed run), salvage.* removed.
MDF_CMDLINE=$(grep 'Command line:' "$WORK/serial-salvage-192M.log.txt" | sed -n 2p | sed 's/.*Command line: *//' \
    | tr ' ' '\n' | grep -v '^salvage\.' | grep -v '^elfcorehdr=' | grep -v '^$' | tr '\n' ' ')
[ -n "$MDF_CMDLINE" ] || die "no capture-kernel command line in the salvage run's serial log"
log "baseline capture command line: $MDF_CMDLINE"
first_initramfs makedumpfile "$WORK/mdf-capture.img"
log "makedumpfile: timed run at crashkernel=192M, then the crashkernel= search"
search makedumpfile
M_OK=$R_OK M_PANIC=$R_PANIC M_START=$R_START M_DONE=$R_DONE M_MIN=$MIN_CK
[ "$M_OK" = 1 ] || die "the makedumpfile baseline did not complete at crashkernel=192M"

# The baseline's dump must be real: the flattened stream on the disk
# reassembles (makedumpfile -R) and its dmesg holds the panic.
makedumpfile -R "$WORK/mdf.vmcore" < "$WORK/timed-makedumpfile.img" > "$WORK/R.out" 2>&1 \
    || { cat "$WORK/R.out" >&2; die "makedumpfile -R failed on the baseline's disk"; }
makedumpfile --dump-dmesg "$WORK/mdf.vmcore" "$WORK/mdf-dmesg.txt" > /dev/null 2>&1 \
    && grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$WORK/mdf-dmesg.txt" \
    || die "the baseline's dump has no readable dmesg with the panic"
MDF_DUMP=$(stat -c %s "$WORK/mdf.vmcore")

size() { stat -c %s "$1"; }
r2() { awk -v t="$1" 'BEGIN{printf "%.2f", t}'; }
# every completed boot of a tool (the crashkernel= probes too): min..max
spread() { sort -n "$WORK/times-$1" | awk '{a[NR]=$1} END{printf "%.2f-%.2f over %d", a[1], a[NR], NR}'; }
{
    echo
    echo "## Capture in the lab VM: salvage vs makedumpfile"
    echo
    echo "Produced by tests/bench/capture-bench.sh on $(date -u +%Y-%m-%d): Debian kernel $KVER under QEMU TCG"
    echo "(-smp 2 -m 1G, lab workload), sysrq 'c' panic, capture at -d 31 with zlib to a virtio disk."
    echo "Baseline: Debian makedumpfile $MDF_VERSION \`-F -c -d 31 /proc/vmcore > /dev/vda\` from a static"
    echo "init (tests/bench/mdfinit.c), no shell; salvage: \`salvage mkinitramfs --codec zlib\`, target LABEL=salvagedump."
    echo "Time = capture kernel's CLOCK_MONOTONIC at the \"dump complete\" console line, i.e. panic -> dump on"
    echo "disk including the capture kernel's boot (its clock starts at the panic; the kexec jump itself is"
    echo "not on any clock), at crashkernel=192M, one run each. Initramfs sizes are both zstd -19, 128 KiB window."
    echo
    echo "| | makedumpfile (baseline) | salvage |"
    echo "|---|---:|---:|"
    echo "| panic -> dump complete, 192M run (s) | $(r2 "$M_DONE") | $(r2 "$S_DONE") |"
    echo "| same, every completed boot: min-max over N | $(spread makedumpfile) | $(spread salvage) |"
    echo "| of which capture kernel boot, to /init (s) | $(r2 "$M_START") | $(r2 "$S_START") |"
    echo "| initramfs, zstd (bytes) | $(size "$WORK/mdf-capture.img") | $(size "$WORK/salvage-capture.img") |"
    echo "| initramfs, uncompressed cpio (bytes) | $(size "$WORK/mdf-capture.cpio") | $(size "$WORK/salvage-capture.cpio") |"
    echo "| smallest crashkernel= (16 MiB steps) | $M_MIN | $S_MIN |"
    echo
    echo "Failed probes (a capture kernel that dies before /init ran out of memory while unpacking the tool's initramfs or in its own boot, which the initramfs size also squeezes):"
    echo
    sed 's/^/- /' "$WORK/failures"
    echo
    echo "(crashed kernel's panic line at ${M_PANIC}s / ${S_PANIC}s of its uptime; baseline dump reassembled"
    echo "with makedumpfile -R: $MDF_DUMP bytes, dmesg readable.)"
} > "$WORK/table.md"
cat "$WORK/table.md"
[ -n "$APPEND" ] && cat "$WORK/table.md" >> "$APPEND"
exit 0

#!/usr/bin/env bash
# run-agent-lab.sh CACHE_DIR SALVAGE [--missing-target | --fs-target | --xfs-target | --small-target | --hang]
#
# The capture agent end to end on the lab's real Debian kernel (issue 3):
#   1. on the host, `salvage mkinitramfs` builds the capture initramfs from
#      the lab's module tree: salvage's embedded disk-only agent (no TLS,
#      agent/disk-agent.h) as /init, target LABEL=salvagedump,
#      the virtio modules, zlib pages (Debian's makedumpfile 1.7.2 is built
#      without zstd, and it must read the dump too);
#   2. the dump disk is a GPT image with one partition named "salvagedump"
#      (a raw partition has no file system, so its GPT name is its label:
#      agent/capture-target.h);
#   3. the first kernel (labinit) arms the capture kernel with the
#      project's own `salvage load` (lab.salvage_load), runs the workload and
#      panics with sysrq 'c';
#   4. the capture kernel runs salvage as /init: it finds the partition by
#      label, writes the dump container (dmesg, vmcore, summary) and reboots
#      (QEMU runs with -no-reboot, so it exits);
#   5. a second boot of the same disk (lab.salvage_save) runs `salvage save`
#      in the guest, as the boot-time unit would, into an ext4 /var/crash
#      disk made here; it runs twice and the second must save nothing;
#   6. on the host, the saved files are read back from that ext4 image
#      (debugfs rdump, no mount) and checked by crash (sys/bt/log with the
#      lab's debug vmlinux) and `makedumpfile --dump-dmesg`.
# --missing-target: the capture kernel gets salvage.target=LABEL=doesnotexist
# and salvage.timeout=20; the agent must say so on the console and do its
# final action within the timeout (QEMU exits), with no dump written.
# --fs-target: the dump disk is an ext4 file system made here
# (mkfs.ext4 -L salvagefs) and the target fs:LABEL=salvagefs:/crash; the
# agent mounts it and writes /crash/<host>/<time>/{dmesg.txt,vmcore,
# summary.txt}. The host reads the files back without mounting (debugfs
# rdump), checks the modes (0600 files, 0700 directories) and that no
# vmcore-incomplete is left, then runs crash and makedumpfile on vmcore.
# --xfs-target: the same with an xfs file system (mkfs.xfs -L salvagexfs,
# target fs:LABEL=salvagexfs:/crash; the xfs module and its dependencies go
# into the capture initramfs from modules.dep). The host cannot read xfs
# without mounting it, so a second boot (lab.copy_out=xfs:/crash) mounts it
# read-only and streams the files and their modes to a second disk.
# --hang: the capture kernel gets salvage.test_hang=60 (the capture child
# stalls, as on a dead disk), salvage.timeout=25 and softdog with a 6 s
# margin (softdog.soft_margin=6, passed to the module by the agent): the
# supervisor must pet the watchdog through the stall (else softdog resets
# the guest before the timeout), kill the child at the timeout, say so and
# reboot.
# --small-target: the salvagedump partition is 56 MiB and the agent writes
# at -d 1 (zlib), a dump of ~80 MiB: the target fills. Priority order keeps
# the kernel's pages (~35 MiB at -d 31) and drops user pages: the agent says
# INCOMPLETE, `salvage save` saves the dump marked incomplete, and crash
# still shows bt (sysrq_handle_crash) and log (the panic message).
#
# Prints "agent-lab: PASS ..." lines and timings; exits non-zero on failure.
# Env: AGENT_LAB_TIMEOUT=240 (QEMU wall-clock limit), AGENT_LAB_CRASHKERNEL=192M,
# AGENT_LAB_LOAD_ARGS="--append x=y" (more `salvage load` words), AGENT_LAB_KEEP=1 keeps
# the work directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_TAG=agent-lab
# shellcheck source=tests/vm/lab-lib.sh
. "$HERE/lab-lib.sh"

lab_args "$0 CACHE_DIR SALVAGE [--missing-target | --fs-target | --xfs-target | --small-target | --hang]" "$@"
MISSING=0
FS=0
[ "${3:-}" = --missing-target ] && MISSING=1
[ "${3:-}" = --fs-target ] && FS=1
XFS=0
[ "${3:-}" = --xfs-target ] && FS=1 XFS=1
HANG=0
[ "${3:-}" = --hang ] && HANG=1
SMALL=0 PART_SPEC='name=salvagedump' MK_EXTRA=()
[ "${3:-}" = --small-target ] && SMALL=1 PART_SPEC='size=56MiB, name=salvagedump' MK_EXTRA=(--dump-level 1)
TARGET=LABEL=salvagedump
[ $FS = 1 ] && TARGET=fs:LABEL=salvagefs:/crash
[ $XFS = 1 ] && TARGET=fs:LABEL=salvagexfs:/crash
FSTYPE=$([ $XFS = 1 ] && echo xfs || echo ext4)

lab_require qemu-system-x86_64 gcc cpio sfdisk strip crash makedumpfile
lab_require -h "(e2fsprogs)" mkfs.ext4 debugfs
[ $XFS = 0 ] || lab_require -h "(xfsprogs)" mkfs.xfs
lab_use_cache "$CACHE_DIR"
lab_work_dir agent-lab "${AGENT_LAB_KEEP:-0}"

# ---- 1. the capture initramfs, by salvage itself --------------------------
strip -o "$WORK/salvage" "$SALVAGE"
lab_mkinitramfs "$WORK/capture.img" \
    --target "$TARGET" --add-module virtio_blk --add-module virtio_pci --add-module softdog --codec zlib "${MK_EXTRA[@]}"
INITRAMFS_SIZE=$(stat -c %s "$WORK/capture.img")

# ---- 2. the first kernel's initramfs: labinit, modules, salvage, kernel ----
lab_build_labinit "$WORK/labinit"
ROOT=$WORK/root
lab_init_root "$ROOT" "$WORK/labinit"
if [ $XFS = 1 ]; then  # the copy-out boot mounts the xfs file system
    # modules.dep (text; the cache has no .bin for modprobe): "mod: deps",
    # the dependencies loadable in reverse order, then the module itself.
    MD=lib/modules/$KVER
    awk -F': *' '$1 ~ /\/xfs\.ko$/ { n = split($2, d, " "); for (i = n; i >= 1; i--) print d[i]; print $1 }' \
        "$LAB_DIR/$MD/modules.dep" |
    while read -r m; do
        mkdir -p "$ROOT/$MD/$(dirname "$m")"; cp "$LAB_DIR/$MD/$m" "$ROOT/$MD/$m"; echo "$MD/$m" >> "$ROOT/lab/modules.load"
    done
    grep -q 'xfs.ko' "$ROOT/lab/modules.load" || die "no xfs module in the lab's module tree (tests/vm/fetch-kernel.sh)"
fi
cp "$WORK/salvage" "$ROOT/lab/salvage"
lab_add_capture "$ROOT" "$WORK/capture.img"
if [ $MISSING = 1 ]; then
    printf '%s\n' --option target=LABEL=doesnotexist --option timeout=20 > "$ROOT/lab/salvage-load-args"
fi
if [ -n "${AGENT_LAB_LOAD_ARGS:-}" ]; then  # extra `salvage load` words, space-separated
    printf '%s\n' $AGENT_LAB_LOAD_ARGS >> "$ROOT/lab/salvage-load-args"
fi
if [ $HANG = 1 ]; then
    printf '%s\n' --option test_hang=60 --option timeout=25 --append softdog.soft_margin=6 > "$ROOT/lab/salvage-load-args"
fi
lab_mkcpio "$ROOT" > "$WORK/initramfs.cpio"

# ---- 3. the dump disk: GPT, one partition named salvagedump ---------------
# (--fs-target: an ext4 file system on the whole disk, labelled salvagefs)
DISK=$WORK/disk.img
truncate -s 512M "$DISK"
if [ $XFS = 1 ]; then
    mkfs.xfs -q -f -L salvagexfs "$DISK" || die "mkfs.xfs failed"
    PSTART=0 PSIZE=0
elif [ $FS = 1 ]; then
    mkfs.ext4 -q -F -L salvagefs "$DISK" || die "mkfs.ext4 failed"
    PSTART=0 PSIZE=0
else
    lab_gpt "$DISK" "$PART_SPEC"
fi

# ---- 4. boot: workload, panic, capture, reboot -----------------------------
CMDLINE="console=ttyS0 crashkernel=${AGENT_LAB_CRASHKERNEL:-192M} panic=-1 nowatchdog $LAB_WORKLOAD lab.salvage_load"
log "booting $KVER: salvage load, panic, salvage as /init ($([ $MISSING = 1 ] && echo 'missing target' || echo "$TARGET"))"
T0=$(date +%s.%N)
rc=0
lab_qemu "${AGENT_LAB_TIMEOUT:-240}" "$SERIAL" "$WORK/initramfs.cpio" "$CMDLINE" "$WORK/qemu.out" \
    -nic none -no-reboot -drive "$(lab_disk "$DISK")" || rc=$?
T_QEMU=$(lab_elapsed "$T0")
lab_check_boot $rc "$WORK/qemu.out" "qemu timed out after ${AGENT_LAB_TIMEOUT:-240}s (PID 1 hung?)"
# labinit dies with a LAB: ERROR line (checked above) when salvage load
# fails; its success line can be torn by kernel messages on a loaded host's
# serial console, so the capture agent starting also proves the arming.
grep -aq 'capture kernel loaded by salvage load' "$SERIAL" || grep -aq 'capture agent starting as pid 1' "$SERIAL" ||
  fail "salvage load did not arm the capture kernel"
grep -q 'LAB: .*panicking' "$SERIAL" || fail "the first kernel never panicked"
grep -q 'salvage: .*capture agent starting as pid 1' "$SERIAL" || fail "salvage did not start as /init of the capture kernel"
grep -q 'from the embedded disk-only agent' "$WORK/mkinitramfs.out" || fail "mkinitramfs did not use the embedded disk-only agent: $(grep -i init "$WORK/mkinitramfs.out")"
grep -q 'salvage: .*final action: reboot' "$SERIAL" || fail "the agent did not reach its final action"
cp "$SERIAL" "$CACHE_DIR/agent-lab$([ $MISSING = 1 ] && echo -missing)$([ $FS = 1 ] && echo -$FSTYPE)$([ $SMALL = 1 ] && echo -small)$([ $HANG = 1 ] && echo -hang).serial.log" 2>/dev/null || true

# --small-target: a dump partition smaller than the dump.
check_small_target() {
    grep -q 'salvage: .*dump INCOMPLETE on' "$SERIAL" || fail "the agent did not report an INCOMPLETE dump on the 56 MiB partition"
    lab_save_partition "$SALVAGE" "$DISK" "on the incomplete dump" --vmlinux "$LAB_VMLINUX"
    OUT=$(ls -d "$WORK"/crash/*/* | head -n1)
    for f in vmcore dmesg.txt; do [ -s "$OUT/$f" ] || fail "salvage save did not write $f"; done
    grep -q 'completeness: *INCOMPLETE' "$OUT/summary.txt" || fail "summary.txt does not say INCOMPLETE: $(grep completeness "$OUT/summary.txt")"
    "$SALVAGE" info "$OUT/vmcore" > "$WORK/info.txt" 2>&1 || true
    grep -q '^complete: *no' "$WORK/info.txt" || fail "the saved vmcore's header is not marked incomplete: $(grep -m1 complete "$WORK/info.txt")"
    lab_check_crash "$OUT/vmcore" "on the incomplete dump"
    echo "agent-lab: PASS small target: $((PSIZE / 2048)) MiB partition, -d 1 zlib dump cut (vmcore $(stat -c %s "$OUT/vmcore") bytes), saved INCOMPLETE; crash sys/bt/log ok; qemu ${T_QEMU}s"
}
if [ $SMALL = 1 ]; then check_small_target; exit 0; fi

if [ $HANG = 1 ]; then
    grep -q 'salvage: .*module .*softdog.ko loaded with soft_margin=6' "$SERIAL" || fail "softdog was not loaded with the command line's soft_margin=6"
    grep -q 'salvage: .*watchdog armed (/dev/watchdog, timeout 6 s)' "$SERIAL" || fail "the agent did not arm the watchdog"
    grep -q 'salvage: .*salvage.test_hang=60: the capture stalls' "$SERIAL" || fail "the capture did not stall"
    grep -q 'salvage: .*capture TIMED OUT after 25 s' "$SERIAL" || fail "no timeout message"
    grep -q 'softdog: Initiating system reboot\|watchdog.*did not stop' "$SERIAL" && fail "softdog fired: the watchdog was not petted"
    grep -q 'salvage: .*dump complete' "$SERIAL" && fail "a dump was written although the capture hung"
    START=$(lab_salvage_at 'capture agent starting'); HUNG=$(lab_salvage_at 'the capture stalls'); END=$(lab_salvage_at 'final action')
    awk -v s="$START" -v h="$HUNG" -v e="$END" 'BEGIN{exit !(e - s <= 27 && e - h >= 12)}' ||
        fail "final action at ${END}s (agent start ${START}s, stall from ${HUNG}s): not the 25 s timeout"
    echo "agent-lab: PASS hung capture: softdog (6 s margin) petted through a $(awk -v h="$HUNG" -v e="$END" 'BEGIN{printf "%.0f", e-h}') s stall, child killed at the 25 s timeout, final action at ${END}s; qemu ${T_QEMU}s"
    exit 0
fi

if [ $MISSING = 1 ]; then
    grep -q 'salvage: .*target LABEL=doesnotexist: LABEL=doesnotexist did not appear' "$SERIAL" \
        || fail "no clear console message about the missing target"
    grep -q 'salvage: .*every target failed: NO DUMP SAVED' "$SERIAL" || fail "no 'no dump saved' message"
    grep -q 'Kernel panic - not syncing: sysrq triggered crash' <(sed -n '/kernel log of the crashed kernel/,$p' "$SERIAL") \
        || fail "the kernel log was not printed on the console"
    START=$(lab_salvage_at 'capture agent starting'); END=$(lab_salvage_at 'final action')
    awk -v s="$START" -v e="$END" 'BEGIN{exit !(e - s <= 20)}' || fail "final action ${END}s, started ${START}s: beyond the 20 s timeout"
    head -c 16 <(dd if="$DISK" bs=512 skip="$PSTART" count=1 status=none) | grep -q SALVAGE && fail "a container was written"
    echo "agent-lab: PASS missing target: clear message, kernel log on the console, final action at ${END}s (agent start ${START}s, timeout 20 s); qemu ${T_QEMU}s"
    exit 0
fi

grep -q 'salvage: .*dump complete on' "$SERIAL" || fail "the agent did not report a complete dump"
T_DONE=$(lab_salvage_at 'dump complete on')
DEV=$(grep -m1 "salvage: .*target $TARGET: /dev/" "$SERIAL" | tr -d '\r' | sed 's/.*: //')
PROGRESS=$(grep -c 'salvage: .*vmcore: [0-9]*% ' "$SERIAL" || true)
[ "$PROGRESS" -ge 1 ] || fail "no progress line on the console"

# ---- 5. after the reboot: salvage save on the host (--fs-target: the files
# read back from the ext4 image with debugfs, no mount), then the readers --
if [ $FS = 1 ]; then
    grep -q "salvage: .*target $TARGET: mounted $DEV ($FSTYPE)" "$SERIAL" || fail "the agent did not mount $DEV as $FSTYPE"
    mkdir -p "$WORK/fsout"
    if [ $XFS = 1 ]; then
        COPY=$WORK/copyout.img
        truncate -s 1G "$COPY"
        log "second boot: copy the xfs files out (lab.copy_out)"
        lab_qemu "${AGENT_LAB_TIMEOUT:-240}" "$WORK/serial-copy.log" "$WORK/initramfs.cpio" \
            "console=ttyS0 panic=-1 nowatchdog lab.copy_out=xfs:/crash" "$WORK/qemu-copy.out" \
            -nic none -no-reboot -drive "$(lab_disk "$DISK")" -drive "$(lab_disk "$COPY")" ||
            fail "copy-out boot failed: $(tail -n 5 "$WORK/serial-copy.log")"
        grep -q 'LAB: .*copy_out of /crash (xfs) done' "$WORK/serial-copy.log" || fail "copy-out boot: $(grep -m1 'LAB: .*ERROR' "$WORK/serial-copy.log")"
        "$HERE/unpack-copy-out.py" "$COPY" "$WORK/fsout" > "$WORK/modes.txt" || fail "unpacking the copied-out files failed"
        fsmode() { awk -v p="${1#/}" '$2 == p { print "0" $1 }' "$WORK/modes.txt"; }
    else
        debugfs -R "rdump /crash $WORK/fsout" "$DISK" > "$WORK/debugfs.out" 2>&1 || { cat "$WORK/debugfs.out" >&2; die "debugfs rdump failed"; }
        # Modes as stored in the inodes (debugfs stat), not as rdump recreated them.
        fsmode() { debugfs -R "stat $1" "$DISK" 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p' | head -n1; }
    fi
    REL=$(cd "$WORK/fsout" && ls -d crash/*/* | head -n1)  # crash/<host>/<time>
    [ -n "$REL" ] || die "no /crash/<host>/<time>/ directory on the file system"
    OUT=$WORK/fsout/$REL
    for f in dmesg.txt vmcore summary.txt; do [ -s "$OUT/$f" ] || fail "the agent did not write /$REL/$f"; done
    [ -e "$OUT/vmcore-incomplete" ] && fail "/$REL/vmcore-incomplete was left behind"
    for f in dmesg.txt vmcore summary.txt; do
        m=$(fsmode "/$REL/$f"); [ "$m" = 0600 ] || fail "/$REL/$f has mode $m, not 0600"
    done
    for d in "/$REL" "/$(dirname "$REL")" /crash; do
        m=$(fsmode "$d"); [ "$m" = 0700 ] || fail "$d has mode $m, not 0700"
    done
    grep -q 'completeness: complete' "$OUT/summary.txt" || fail "summary.txt does not say complete"
    grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$OUT/dmesg.txt" || fail "dmesg.txt lacks the panic message"
else
# The next boot of the same disk: salvage save in the guest (twice), into
# an ext4 /var/crash disk; the host reads it back with debugfs.
CRASHDISK=$WORK/varcrash.img
truncate -s 1G "$CRASHDISK"
mkfs.ext4 -q -F -L salvagecrash "$CRASHDISK" || die "mkfs.ext4 failed"
SERIAL2=$WORK/serial-save.log
log "second boot: salvage save in the guest"
rc=0
lab_qemu "${AGENT_LAB_TIMEOUT:-240}" "$SERIAL2" "$WORK/initramfs.cpio" \
    "console=ttyS0 panic=-1 nowatchdog lab.salvage_save" "$WORK/qemu2.out" \
    -nic none -no-reboot -drive "$(lab_disk "$DISK")" -drive "$(lab_disk "$CRASHDISK")" || rc=$?
SERIAL_SAVED=$SERIAL SERIAL=$SERIAL2
[ $rc = 0 ] || fail "second boot: qemu exited with status $rc: $(cat "$WORK/qemu2.out")"
grep -q '^LAB: .*ERROR:' "$SERIAL2" && fail "second boot: $(grep -m1 '^LAB: .*ERROR:' "$SERIAL2")"
grep -q 'LAB: .*salvage save boot done (first 0, second 0)' "$SERIAL2" || fail "salvage save in the guest did not exit 0 twice"
SERIAL=$SERIAL_SAVED
mkdir -p "$WORK/varcrash"
debugfs -R "rdump / $WORK/varcrash" "$CRASHDISK" > "$WORK/debugfs2.out" 2>&1 || { cat "$WORK/debugfs2.out" >&2; die "debugfs rdump failed"; }
SAVED=$(cd "$WORK/varcrash" && find . -mindepth 2 -maxdepth 2 -type d ! -path './lost+found*' | sed 's|^\./||')
[ "$(echo "$SAVED" | grep -c .)" = 1 ] || fail "expected one saved dump in /var/crash, found: $SAVED (the second save must save nothing)"
OUT=$WORK/varcrash/$SAVED
for f in vmcore dmesg.txt summary.txt; do [ -s "$OUT/$f" ] || fail "salvage save did not write $f"; done
grep -q 'complete (every section' "$OUT/summary.txt" || fail "summary.txt does not say complete: $(grep completeness "$OUT/summary.txt")"
fi

lab_check_crash "$OUT/vmcore"
lab_check_mdf_dmesg "$OUT/vmcore"
cmp -s "$WORK/mdf-dmesg.txt" "$OUT/dmesg.txt" || log "note: dmesg.txt differs from makedumpfile --dump-dmesg (not an error)"

FS_VMCORE_SIZE=$(stat -c %s "$OUT/vmcore")
if [ $FS = 1 ]; then
    echo "agent-lab: PASS $FSTYPE target: salvage as /init mounted ${TARGET#fs:} ($DEV), wrote /$REL/{dmesg.txt,vmcore,summary.txt} (0600, dirs 0700, no vmcore-incomplete); crash bt/log + makedumpfile --dump-dmesg ok"
    echo "agent-lab: timings: capture kernel uptime at 'dump complete' ${T_DONE}s; qemu total ${T_QEMU}s"
    echo "agent-lab: sizes: capture initramfs $INITRAMFS_SIZE bytes; vmcore $FS_VMCORE_SIZE bytes"
    exit 0
fi


VMCORE_SIZE=$(stat -c %s "$OUT/vmcore")
echo "agent-lab: PASS salvage load armed, salvage as /init found LABEL=salvagedump ($DEV), wrote the container; a second boot ran salvage save twice (saved once) into /var/crash/$SAVED; crash bt/log + makedumpfile --dump-dmesg ok"
echo "agent-lab: timings: capture kernel uptime at 'dump complete' ${T_DONE}s (panic -> dump complete, boot included); qemu total ${T_QEMU}s"
echo "agent-lab: sizes: capture initramfs $INITRAMFS_SIZE bytes; saved vmcore $VMCORE_SIZE bytes; $PROGRESS progress line(s)"

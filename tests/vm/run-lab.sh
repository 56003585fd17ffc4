#!/usr/bin/env bash
# run-lab.sh CACHE_DIR [--la57] [--force]
#
# Produce a real vmcore from Debian's real cloud kernel:
#   1. fetch-kernel.sh resolves/downloads/extracts the kernel (cached),
#   2. builds tests/vm/labinit.c (static) and two newc initramfs archives,
#   3. boots qemu-system-x86_64 (TCG, no KVM); labinit runs a workload, loads
#      the capture kernel with kexec_file_load and crashes via sysrq 'c'; the
#      capture kernel copies /proc/vmcore to a virtio disk and powers off,
#   4. extracts the vmcore into CACHE_DIR/<key>/vmcore (or vmcore-la57),
#      checks it and stores the serial log next to it.
# Idempotent: does nothing if the vmcore for this kernel version exists.
# Prints the vmcore path on stdout (last line); progress goes to stderr.
#
# Env knobs (defaults): LAB_MEM=1G LAB_CRASHKERNEL=192M LAB_SMP=2
#   LAB_TIMEOUT=300 LAB_WORKERS=4 LAB_WORKER_MIB=8 LAB_PAGECACHE_MIB=4
#   LAB_CMDLINE_EXTRA= LAB_CAPTURE_CMDLINE_EXTRA= LAB_QEMU=qemu-system-x86_64
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_TAG=run-lab
# shellcheck source=tests/vm/lab-lib.sh
. "$HERE/lab-lib.sh"
LAB_DIE=ERROR

CACHE_DIR=
LA57=0
FORCE=0
for a in "$@"; do
    case "$a" in
        --la57) LA57=1 ;;
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) die "unknown option $a" ;;
        *) [ -z "$CACHE_DIR" ] || die "usage: $0 CACHE_DIR [--la57] [--force]"; CACHE_DIR=$a ;;
    esac
done
[ -n "$CACHE_DIR" ] || die "usage: $0 CACHE_DIR [--la57] [--force]"

MEM=${LAB_MEM:-1G}
CRASHKERNEL=${LAB_CRASHKERNEL:-192M}
SMP=${LAB_SMP:-2}
TIMEOUT=${LAB_TIMEOUT:-300}
QEMU=${LAB_QEMU:-qemu-system-x86_64}

lab_require -h "(apt-get install qemu-system-x86 cpio build-essential binutils coreutils)" \
    "$QEMU" gcc cpio timeout readelf dd truncate
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || die "static libc missing (apt-get install libc6-dev)"

KEY=$("$HERE/fetch-kernel.sh" "$CACHE_DIR" | tail -n1)
[ -n "$KEY" ] || die "fetch-kernel.sh gave no key"
OUT=$(cd "$CACHE_DIR/$KEY" && pwd)
KVER=$(cat "$OUT/kver")
LAB_DIR=$OUT  # for lab-lib.sh

if [ $LA57 = 1 ]; then VARIANT=vmcore-la57; CPU=${LAB_CPU:-max}; EXPECT_L5=1
else VARIANT=vmcore; CPU=${LAB_CPU:-max,la57=off}; EXPECT_L5=0; fi
VMCORE=$OUT/$VARIANT

if [ -s "$VMCORE" ] && [ $FORCE = 0 ]; then
    log "cached: $VMCORE"
    echo "$VMCORE"
    exit 0
fi

T_START=$(date +%s.%N)
BUILD=$OUT/build-$VARIANT
rm -rf "$BUILD"
mkdir -p "$BUILD"
trap 'rm -rf "$BUILD" "$VMCORE.part"' EXIT

# ---- labinit + initramfs --------------------------------------------------
lab_build_labinit "$BUILD/labinit" || die "building labinit failed"

ROOT=$BUILD/root
lab_init_root "$ROOT" "$BUILD/labinit"
mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$ROOT/dev/null" c 1 3 2>/dev/null || true
CAPTURE_CMDLINE="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 nowatchdog \
cgroup_disable=memory mce=off numa=off acpi_no_memhotplug transparent_hugepage=never \
hest_disable novmcoredd cma=0 hugetlb_cma=0 ${LAB_CAPTURE_CMDLINE_EXTRA:-}"
echo "$CAPTURE_CMDLINE" > "$ROOT/lab/capture-cmdline"

# capture initramfs: init + modules only (it must fit in crashkernel=)
lab_mkcpio "$ROOT" > "$BUILD/capture.cpio"
# first-kernel initramfs additionally carries the kernel and capture initrd
lab_add_capture "$ROOT" "$BUILD/capture.cpio"
lab_mkcpio "$ROOT" > "$BUILD/initramfs.cpio"

# ---- boot ---------------------------------------------------------------
mem_bytes=$(numfmt --from=iec "$MEM")
DISK=$BUILD/disk.img
truncate -s $((mem_bytes + 64 * 1024 * 1024)) "$DISK"
SERIAL=$BUILD/serial.log
CMDLINE="console=ttyS0 crashkernel=$CRASHKERNEL panic=-1 nowatchdog \
lab.workers=${LAB_WORKERS:-4} lab.worker_mib=${LAB_WORKER_MIB:-8} \
lab.pagecache_mib=${LAB_PAGECACHE_MIB:-4} ${LAB_CMDLINE_EXTRA:-}"

log "booting $KVER ($VARIANT, -cpu $CPU, -smp $SMP, -m $MEM, crashkernel=$CRASHKERNEL, timeout ${TIMEOUT}s)"
T_BOOT=$(date +%s.%N)
LAB_VM_QEMU=$QEMU LAB_VM_CPU=$CPU LAB_VM_SMP=$SMP LAB_VM_MEM=$MEM
rc=0
lab_qemu "$TIMEOUT" "$SERIAL" "$BUILD/initramfs.cpio" "$CMDLINE" "$BUILD/qemu.out" \
    -nic none -no-reboot -drive "$(lab_disk "$DISK"),discard=unmap" || rc=$?
T_QEMU=$(lab_elapsed "$T_BOOT")
cp "$SERIAL" "$VMCORE.last-run.serial.log" 2>/dev/null || true
fail() {
    echo "run-lab: ERROR: $*" >&2
    echo "run-lab: --- qemu output ---" >&2; cat "$BUILD/qemu.out" >&2 || true
    echo "run-lab: --- last 40 serial lines (full log: $VMCORE.last-run.serial.log) ---" >&2
    tail -n 40 "$SERIAL" >&2 || true
    exit 1
}
[ $rc = 124 ] && fail "qemu timed out after ${TIMEOUT}s"
[ $rc = 0 ] || fail "qemu exited with status $rc"
grep -q '^LAB: .*ERROR:' "$SERIAL" && fail "labinit reported: $(grep -m1 '^LAB: .*ERROR:' "$SERIAL")"
grep -q 'LAB: .*panicking' "$SERIAL" || fail "first kernel never reached the panic"
grep -q 'LAB: .*vmcore saved' "$SERIAL" || fail "capture kernel did not save the vmcore"

# ---- extract ------------------------------------------------------------
HDR=$(head -c 4096 "$DISK" | tr -d '\0')
[ "$(printf '%s\n' "$HDR" | sed -n 1p)" = SALVAGE-LAB-VMCORE ] || fail "bad header on disk image"
SIZE=$(printf '%s\n' "$HDR" | sed -n 2p)
HREL=$(printf '%s\n' "$HDR" | sed -n 3p)
[[ "$SIZE" =~ ^[0-9]+$ ]] || fail "bad size in header: $SIZE"
[ "$HREL" = "$KVER" ] || fail "header kernel release '$HREL' != '$KVER'"
dd if="$DISK" of="$VMCORE.part" bs=4M iflag=skip_bytes,count_bytes skip=4096 \
    count="$SIZE" conv=sparse status=none
truncate -s "$SIZE" "$VMCORE.part"   # trailing zero blocks are skipped by conv=sparse
[ "$(head -c4 "$VMCORE.part" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || fail "vmcore does not start with ELF magic"

# VMCOREINFO lives in a PT_NOTE segment; read just that segment
read -r NOFF NSZ < <(readelf -lW "$VMCORE.part" | awk '$1=="NOTE" {print $2, $5; exit}')
[ -n "${NOFF:-}" ] || fail "no PT_NOTE in vmcore"
NOTES=$(dd if="$VMCORE.part" bs=64K iflag=skip_bytes,count_bytes skip=$((NOFF)) count=$((NSZ)) status=none | tr -c '[:print:]\n' '\n')
grep -q "^OSRELEASE=$KVER\$" <<<"$NOTES" || fail "VMCOREINFO OSRELEASE != $KVER"
L5=$(grep -o 'NUMBER(pgtable_l5_enabled)=[0-9]*' <<<"$NOTES" | cut -d= -f2 || true)
[ "${L5:-0}" = "$EXPECT_L5" ] || fail "expected pgtable_l5_enabled=$EXPECT_L5, vmcore says '${L5:-absent}'"
mv "$VMCORE.part" "$VMCORE"
mv "$VMCORE.last-run.serial.log" "$VMCORE.serial.log"
T_ALL=$(lab_elapsed "$T_START")
{
    echo "KEY=$KEY"; echo "KVER=$KVER"; echo "VARIANT=$VARIANT"; echo "CPU=$CPU"
    echo "SMP=$SMP"; echo "MEM=$MEM"; echo "CRASHKERNEL=$CRASHKERNEL"
    echo "SIZE=$SIZE"; echo "PGTABLE_L5=${L5:-0}"
    echo "QEMU_SECONDS=$T_QEMU"; echo "TOTAL_SECONDS=$T_ALL"
    echo "CMDLINE=\"$CMDLINE\""; echo "CAPTURE_CMDLINE=\"$CAPTURE_CMDLINE\""
} > "$VMCORE.info"
log "vmcore: $SIZE bytes ($(du -h "$VMCORE" | cut -f1) on disk), pgtable_l5_enabled=${L5:-0}, qemu ${T_QEMU}s, total ${T_ALL}s"
echo "$VMCORE"

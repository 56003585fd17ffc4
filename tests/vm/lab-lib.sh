# shellcheck shell=bash disable=SC2034  # (variables for the scripts that source this)
# lab-lib.sh: what the crash-lab scripts share (run-lab.sh, run-agent-lab.sh,
# run-net-lab.sh, run-relay-lab.sh, tests/bench/capture-bench.sh). Source it
# after `set -euo pipefail`:
#     LAB_TAG=agent-lab; . "$HERE/lab-lib.sh"
# LAB_TAG starts every line the script prints. After sourcing, a script may
# change LAB_DIE / LAB_FAIL (the word after the tag in die / fail messages,
# default FAIL) and LAB_FAIL_LINES (serial lines fail shows, default 60), and
# define lab_fail_more (more context for fail) and lab_on_exit (run before
# the work directory is removed). These are set here, so the environment
# cannot change them.
#
# Variables the functions use: LAB_DIR and KVER (lab_use_cache sets them),
# WORK and SERIAL (lab_work_dir sets them), LAB_VMLINUX (lab-paths.sh).

LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIE=FAIL
LAB_FAIL=FAIL
LAB_FAIL_LINES=60
# The first kernel's workload (labinit's defaults, spelled out on the
# command line so the serial log shows them).
LAB_WORKLOAD="lab.workers=4 lab.worker_mib=8 lab.pagecache_mib=4"
# The machine lab_qemu boots; run-lab.sh and run-relay-lab.sh change them.
LAB_VM_QEMU=qemu-system-x86_64
LAB_VM_CPU=max,la57=off
LAB_VM_SMP=2
LAB_VM_MEM=1G

log() { echo "$LAB_TAG: $*" >&2; }
die() { echo "$LAB_TAG: $LAB_DIE: $*" >&2; exit 1; }
# fail MSG: a failed boot or check: MSG, the last serial lines, lab_fail_more.
fail() {
    echo "$LAB_TAG: $LAB_FAIL: $*" >&2
    echo "$LAB_TAG: --- last $LAB_FAIL_LINES serial lines ---" >&2
    tail -n "$LAB_FAIL_LINES" "$SERIAL" >&2 2>/dev/null || true
    if declare -F lab_fail_more >/dev/null; then lab_fail_more || true; fi
    exit 1
}

# lab_require [-h HINT] TOOL...: die unless every TOOL is on PATH.
lab_require() {
    local hint=
    if [ "$1" = -h ]; then hint=" $2"; shift 2; fi
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || die "missing tool: $t$hint"
    done
}

# lab_abspath PATH: PATH made absolute (its directory must exist).
lab_abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

# lab_args USAGE ARGS...: CACHE_DIR and SALVAGE (made absolute) from the
# first two ARGS; die "usage: USAGE" if there are fewer.
lab_args() {
    [ $# -ge 3 ] || die "usage: $1"
    CACHE_DIR=$2
    SALVAGE=$(lab_abspath "$3")
}

# lab_use_cache CACHE_DIR: the lab kernel fetched into CACHE_DIR
# (tests/vm/lab-paths.sh variables, and KVER).
lab_use_cache() {
    eval "$("$LAB_LIB_DIR/lab-paths.sh" "$1")"
    [ -n "${LAB_DIR:-}" ] && [ -s "$LAB_DIR/vmlinuz" ] || die "no lab kernel in $1 (make lab)"
    KVER=$LAB_KVER
}

# lab_work_dir NAME KEEP: WORK=/tmp/NAME.XXXXXX, removed at exit unless KEEP
# is 1 (after lab_on_exit, if defined); SERIAL=$WORK/serial.log.
lab_work_dir() {
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    SERIAL=$WORK/serial.log
    LAB_KEEP_WORK=$2
    trap lab_cleanup EXIT
}
lab_cleanup() {
    if declare -F lab_on_exit >/dev/null; then lab_on_exit || true; fi
    [ "$LAB_KEEP_WORK" = 1 ] || rm -rf "$WORK"
}

# ---- the first kernel's initramfs ------------------------------------------
# lab_build_labinit OUT: tests/vm/labinit.c, static (/init of both kernels).
lab_build_labinit() { gcc -static -O2 -Wall -o "$1" "$LAB_LIB_DIR/labinit.c"; }

# lab_copy_modules ROOT: the lab's modules (LAB_DIR/modules.load, in load
# order) and the list itself at ROOT/lab/modules.load, where the inits read it.
lab_copy_modules() {
    cp "$LAB_DIR/modules.load" "$1/lab/modules.load"
    local m
    while read -r m; do
        [ -n "$m" ] || continue
        mkdir -p "$1/$(dirname "$m")"
        cp "$LAB_DIR/$m" "$1/$m"
    done < "$LAB_DIR/modules.load"
}

# lab_init_root ROOT INIT: a new initramfs tree with INIT as /init and the modules.
lab_init_root() {
    mkdir -p "$1"/{dev,proc,sys,tmp,lab}
    cp "$2" "$1/init"
    lab_copy_modules "$1"
}

# lab_add_capture ROOT CAPTURE_INITRD: what the first kernel arms the capture
# kernel with (kexec_file_load or `salvage load`): /lab/vmlinuz, /lab/capture.cpio.
lab_add_capture() {
    cp "$2" "$1/lab/capture.cpio"
    cp -L "$LAB_DIR/vmlinuz" "$1/lab/vmlinuz"
}

# lab_mkcpio DIR > OUT: a newc archive, sorted, owned by root.
lab_mkcpio() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); }

# lab_mkinitramfs OUTPUT ARGS...: `$WORK/salvage mkinitramfs` for the lab
# kernel's module tree, with ARGS; its output in $WORK/mkinitramfs.out.
lab_mkinitramfs() {
    local out=$1; shift
    "$WORK/salvage" mkinitramfs --modules-dir "$LAB_DIR/lib/modules/$KVER" --kernel-version "$KVER" \
        --kernel-config "$LAB_DIR/boot/config-$KVER" "$@" --output "$out" > "$WORK/mkinitramfs.out" 2>&1 ||
        { cat "$WORK/mkinitramfs.out" >&2; die "salvage mkinitramfs failed"; }
}

# ---- disks ------------------------------------------------------------------
# lab_gpt DISK SPEC: a GPT with one partition (an sfdisk line, e.g.
# name=salvagedump); PSTART and PSIZE in 512-byte sectors.
lab_gpt() {
    printf 'label: gpt\n%s\n' "$2" | sfdisk -q "$1" >/dev/null
    read -r PSTART PSIZE < <(sfdisk -d "$1" | sed -n 's/.*start= *\([0-9]*\), *size= *\([0-9]*\).*/\1 \2/p' | head -n1)
    [ -n "${PSTART:-}" ] || die "sfdisk made no partition"
}

# lab_save_partition SALVAGE DISK WHAT [SAVE ARGS...]: `salvage save` on the
# host from lab_gpt's partition of DISK into $WORK/crash; fail "salvage save
# failed WHAT" if it does.
lab_save_partition() {
    local salvage=$1 disk=$2 what=$3; shift 3
    dd if="$disk" of="$WORK/part.img" bs=512 skip="$PSTART" count="$PSIZE" conv=sparse status=none
    "$salvage" save --device "$WORK/part.img" --crash-dir "$WORK/crash" --min-free 1M "$@" > "$WORK/save.out" 2>&1 ||
        { cat "$WORK/save.out" >&2; fail "salvage save failed${what:+ $what}"; }
}

# ---- boots ------------------------------------------------------------------
# lab_qemu TIMEOUT SERIAL INITRD CMDLINE OUT [QEMU ARGS...]: the lab kernel
# under QEMU (TCG, never KVM) and `timeout`, console in SERIAL, QEMU's own
# output in OUT; returns timeout's status (124: timed out).
lab_qemu() {
    local limit=$1 serial=$2 initrd=$3 cmdline=$4 out=$5; shift 5
    timeout --foreground -k 10 "$limit" "$LAB_VM_QEMU" \
        -accel tcg,thread=multi -cpu "$LAB_VM_CPU" -smp "$LAB_VM_SMP" -m "$LAB_VM_MEM" \
        -display none -vga none -monitor none \
        -serial "file:$serial" \
        -kernel "$LAB_DIR/vmlinuz" -initrd "$initrd" -append "$cmdline" \
        "$@" </dev/null >"$out" 2>&1
}
# lab_disk FILE: the -drive value of a raw virtio disk.
lab_disk() { echo "file=$1,format=raw,if=virtio,cache=unsafe"; }

# lab_elapsed T0: seconds since T0 (date +%s.%N), one decimal.
lab_elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# lab_check_boot RC QEMU_OUT TIMEOUT_MESSAGE: fail unless QEMU exited 0 and
# labinit printed no error in $SERIAL.
lab_check_boot() {
    [ "$1" != 124 ] || fail "$3"
    [ "$1" = 0 ] || fail "qemu exited with status $1: $(cat "$2")"
    if grep -aq '^LAB: .*ERROR:' "$SERIAL"; then fail "labinit: $(grep -a -m1 '^LAB: .*ERROR:' "$SERIAL")"; fi
}

# lab_stamp FILE PATTERN [TAG]: the time stamp of the first line matching
# PATTERN that starts with "TAG[ seconds]" (TAG "salvage: ", "BENCH: ", or
# none for the kernel's own lines); fails if no line matches.
lab_stamp() { grep -m1 "$2" "$1" | sed -n "s/^${3:-}\[ *\([0-9.]*\)\].*/\1/p"; }
# lab_salvage_at PATTERN: the capture kernel's uptime at salvage's console
# line PATTERN in $SERIAL (it boots right after the panic).
lab_salvage_at() { lab_stamp "$SERIAL" "$1" 'salvage: '; }

# ---- the dump, read back ----------------------------------------------------
# lab_check_crash VMCORE [WHICH]: crash (with the lab's debug vmlinux) shows
# the release (sys), sysrq_handle_crash (bt) and the panic (log) in VMCORE;
# WHICH ends the failure messages ("on the incomplete dump").
lab_check_crash() {
    local on=${2:+ $2}
    printf 'sys\nbt\nlog\nquit\n' > "$WORK/cmds"
    timeout 300 crash -s "$LAB_VMLINUX" "$1" -i "$WORK/cmds" > "$WORK/crash.txt" 2>&1 < /dev/null || true
    grep -q "RELEASE: $KVER" "$WORK/crash.txt" || { sed -n 1,40p "$WORK/crash.txt" >&2; fail "crash sys does not show RELEASE: $KVER$on"; }
    grep -q 'sysrq_handle_crash' "$WORK/crash.txt" || { sed -n 1,60p "$WORK/crash.txt" >&2; fail "crash bt does not show sysrq_handle_crash$on"; }
    grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$WORK/crash.txt" || fail "crash log lacks the panic message$on"
}

# lab_check_mdf_dmesg VMCORE: Debian's makedumpfile reads the kernel log
# out of VMCORE (into $WORK/mdf-dmesg.txt) and it holds the panic.
lab_check_mdf_dmesg() {
    makedumpfile --dump-dmesg "$1" "$WORK/mdf-dmesg.txt" > "$WORK/mdf.out" 2>&1 ||
        { cat "$WORK/mdf.out" >&2; fail "makedumpfile --dump-dmesg failed"; }
    grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$WORK/mdf-dmesg.txt" || fail "makedumpfile's dmesg lacks the panic message"
}

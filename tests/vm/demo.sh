#!/bin/bash
# make demo: the main job end to end on a real kernel. The lab has panicked
# Debian's kernel under QEMU and captured /proc/vmcore in the capture kernel;
# salvage filters and compresses that vmcore and crash opens the result.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
eval "$("$ROOT/tests/vm/lab-paths.sh" "${1:-$ROOT/.cache/lab}")"
S=$ROOT/salvage
OUT=$(mktemp -d /tmp/salvage-demo.XXXXXX)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "The captured vmcore (Debian $LAB_KVER panicked with sysrq-c under QEMU)"
"$S" info --vmlinux "$LAB_VMLINUX" "$LAB_DIR/vmcore"
step "salvage convert -c -d 31 (zlib, drop zero/cache/user/free pages)"
/usr/bin/time -f '%e s wall, %M KiB peak RSS' "$S" convert -v -c -d 31 "$LAB_DIR/vmcore" "$OUT/vmcore"
ls -l "$LAB_DIR/vmcore" "$OUT/vmcore"
step "salvage dmesg: the last lines of the crashed kernel's log"
"$S" dmesg "$OUT/vmcore" | tail -n 12
step "crash opens the dump: sys and bt"
printf 'sys\nbt\nquit\n' > "$OUT/cmds"
crash -s "$LAB_VMLINUX" "$OUT/vmcore" -i "$OUT/cmds" < /dev/null 2>&1 | head -n 40
rm -rf "$OUT"

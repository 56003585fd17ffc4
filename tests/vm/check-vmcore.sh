#!/usr/bin/env bash
# check-vmcore.sh CACHE_DIR [--la57]
#
# Sanity-check a lab vmcore with independent tools: readelf (ELF notes,
# program headers) and, if installed, crash(8) run non-interactively
# ("sys", "bt", "log"). Fails unless bt shows the sysrq crash path and the
# log shows the sysrq panic. Full crash output: <vmcore>.crash.txt
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "check-vmcore: FAIL: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 CACHE_DIR [--la57]"
eval "$("$HERE/lab-paths.sh" "$1")"
V=$LAB_VMCORE; [ "${2:-}" = --la57 ] && V=$LAB_VMCORE_LA57
[ -n "$V" ] || die "vmcore not built (run tests/vm/run-lab.sh $1 ${2:-})"

readelf -hW "$V" | grep -q 'Type: *CORE' || die "$V is not an ELF core file"
readelf -nW "$V" | grep -q VMCOREINFO || die "no VMCOREINFO note"
nprs=$(readelf -nW "$V" | grep -c NT_PRSTATUS || true)
nload=$(readelf -lW "$V" | grep -c '^ *LOAD' || true)
echo "check-vmcore: $V: ELF core, $nprs NT_PRSTATUS notes, $nload PT_LOAD segments"

if ! command -v crash >/dev/null; then
    echo "check-vmcore: crash not installed, skipping crash checks (apt-get install crash)"
    exit 0
fi
cmds=$(mktemp); trap 'rm -f "$cmds"' EXIT
printf 'sys\nbt\nlog\nq\n' > "$cmds"
timeout 300 crash -s "$LAB_VMLINUX" "$V" -i "$cmds" > "$V.crash.txt" 2>&1 || die "crash failed, see $V.crash.txt"
grep -q 'PANIC: "Kernel panic - not syncing: sysrq triggered crash"' "$V.crash.txt" || die "sys: no sysrq PANIC line"
grep -qE '^ *#[0-9]+ .* sysrq_handle_crash at ' "$V.crash.txt" || die "bt: no sysrq_handle_crash frame"
grep -qE '^ *#[0-9]+ .* write_sysrq_trigger at ' "$V.crash.txt" || die "bt: no write_sysrq_trigger frame"
grep -q 'sysrq: Trigger a crash' "$V.crash.txt" || die "log: no 'sysrq: Trigger a crash'"
echo "check-vmcore: crash OK: $(grep -E '^ *(RELEASE|PANIC):' "$V.crash.txt" | sed 's/^ *//' | tr '\n' ' ')"
echo "check-vmcore: output in $V.crash.txt"

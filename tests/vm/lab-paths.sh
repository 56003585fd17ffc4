#!/usr/bin/env bash
# lab-paths.sh CACHE_DIR
#
# Print shell assignments describing the crash-lab artefacts, for use as
#   eval "$(tests/vm/lab-paths.sh .cache/lab)"
# Variables: LAB_KEY LAB_PKG LAB_PKGVER LAB_KVER LAB_DIR LAB_VMLINUX
#   LAB_VMCORE_SERIAL LAB_VMCORE_LA57_SERIAL
# Does not download anything. The key comes from apt-cache (same resolution
# as fetch-kernel.sh); if that version has not been fetched yet, the most
# recently completed cache entry is used instead (with a warning on stderr).
# Exit status 1 if nothing has been fetched yet (run fetch-kernel.sh/run-lab.sh).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 CACHE_DIR" >&2; exit 2; }
CACHE_DIR=$1
KEY=$("$HERE/fetch-kernel.sh" --print-key "$CACHE_DIR" 2>/dev/null || true)
if [ -z "$KEY" ] || [ ! -f "$CACHE_DIR/$KEY/.complete" ]; then
    newest=$(ls -1td "$CACHE_DIR"/*/.complete 2>/dev/null | head -n1 || true)
    [ -n "$newest" ] || { echo "lab-paths: nothing fetched in $CACHE_DIR (run tests/vm/run-lab.sh $CACHE_DIR)" >&2; exit 1; }
    fallback=$(basename "$(dirname "$newest")")
    echo "lab-paths: warning: ${KEY:-<unresolved>} not fetched, using $fallback" >&2
    KEY=$fallback
fi
D=$(cd "$CACHE_DIR/$KEY" && pwd)
KVER=$(cat "$D/kver")
emit() { printf '%s=%q\n' "$1" "$2"; }
opt() { [ -s "$1" ] && echo "$1" || true; }
emit LAB_KEY "$KEY"
emit LAB_PKG "$(cat "$D/pkgname")"
emit LAB_PKGVER "$(cat "$D/pkgver")"
emit LAB_KVER "$KVER"
emit LAB_DIR "$D"
emit LAB_VMLINUX "$D/usr/lib/debug/boot/vmlinux-$KVER"
emit LAB_VMLINUZ "$D/boot/vmlinuz-$KVER"
emit LAB_VMCORE "$(opt "$D/vmcore")"
emit LAB_VMCORE_LA57 "$(opt "$D/vmcore-la57")"
emit LAB_VMCORE_SERIAL "$(opt "$D/vmcore.serial.log")"
emit LAB_VMCORE_LA57_SERIAL "$(opt "$D/vmcore-la57.serial.log")"

#!/usr/bin/env bash
# build-lab.sh LAB_CACHE OUT_DIR
#
# Build flightrec.ko against the lab kernel's headers (fetched, never
# installed, by tests/vm/fetch-headers.sh) in OUT_DIR, a copy of this
# directory plus formats/relayres-layout.h, so the source tree stays clean.
# Prints the path of the .ko as the last line. Rebuilds only when a source
# is newer than the .ko.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 LAB_CACHE OUT_DIR" >&2; exit 2; }
KDIR=$("$ROOT/tests/vm/fetch-headers.sh" "$1" | tail -n1)
OUT=$2
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SRCS=("$HERE"/*.c "$HERE"/*.h "$HERE/Kbuild" "$ROOT/formats/relayres-layout.h")
stale=0
[ -f "$OUT/flightrec.ko" ] || stale=1
for s in "${SRCS[@]}"; do
    cmp -s "$s" "$OUT/$(basename "$s")" || { cp "$s" "$OUT/"; stale=1; }
done
if [ $stale = 1 ]; then
    # gcc-12 is what Debian built 6.1 with (linux-compiler-gcc-12-x86);
    # the headers' .kernelvariables name it.
    make -s -C "$KDIR" M="$OUT" modules >&2
fi
[ -f "$OUT/flightrec.ko" ] || { echo "build-lab: no flightrec.ko" >&2; exit 1; }
echo "$OUT/flightrec.ko"

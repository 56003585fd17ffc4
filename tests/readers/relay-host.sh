#!/bin/bash
# The flight recorder's writer (kernel-config/relayres/relayres-core.c, the
# same file the module and the patch series build) compiled as a user-space
# program with a small kernel shim (tests/readers/tools/relay-host/), no VM:
# 4 simulated CPUs in overwrite, no-overwrite and "crash between copy and
# commit" runs; relayres_inspect's verdicts on zeroed, garbage, moved,
# consumed and corrupted regions; all of it twice, through relayres_write()
# and through the module's inline relayres_write_inline(). Then the
# independent parser (tests/readers/tools/relay-check.py) checks each region: no gaps, wrap,
# first events kept, marker, crash record, the uncommitted record invisible.
#   usage: relay-host.sh LAB_CACHE_DIR (unused: no lab needed)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$ROOT/tests/readers/tools
WORK=$(mktemp -d "${TMPDIR:-/tmp}/relay-host.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PASSES=0 FAILS=0
pass() { PASSES=$((PASSES + 1)); echo "  ok   $*"; }
fail() { FAILS=$((FAILS + 1)); echo "  FAIL $*"; }
CFLAGS=(-O2 -Wall -Wextra -Wno-unused-parameter -Werror -std=gnu11 -I"$T/relay-host"
        -iquote "$ROOT/kernel-config/relayres" -iquote "$ROOT/formats")
if ! gcc "${CFLAGS[@]}" -o "$WORK/relay-host" \
    "$T/relay-host/relay-host.c" "$ROOT/kernel-config/relayres/relayres-core.c" -lz; then
  fail "relayres-core.c does not build in user space"; echo "relay-host.sh: 0 passed, 1 failed"; exit 1
fi
# The same program with every relayres_write() call going through the
# module's inline fast path (kernel-config/relayres/relayres-inline.h),
# whose slow cases fall back to relayres_write(): the same checks and
# regions must come out.
sed -e 's/\<relayres_write(/relayres_write_inline(/g' \
    -e 's/#include "relayres-core.h"/#include "relayres-inline.h"/' \
    "$T/relay-host/relay-host.c" > "$WORK/relay-host-inline.c"
grep -q 'relayres_write_inline(' "$WORK/relay-host-inline.c" || fail "relay-host.c no longer calls relayres_write()"
if ! gcc "${CFLAGS[@]}" -iquote "$T/relay-host" -o "$WORK/relay-host-inline" \
    "$WORK/relay-host-inline.c" "$ROOT/kernel-config/relayres/relayres-core.c" -lz; then
  fail "relayres-inline.h does not build in user space"
fi
for writer in relay-host relay-host-inline; do
  [ -x "$WORK/$writer" ] || continue
  for mode in overwrite nooverwrite torn; do
    args=(--cpus 4)
    case $mode in
      overwrite) args+=(--marker LAB-LAST-MARKER --expect-wrap --expect-panic) ;;
      nooverwrite) args+=(--expect-no-overwrite) ;;
      torn) args+=(--marker LAB-LAST-MARKER --expect-wrap --expect-panic --absent TORN-RECORD) ;;
    esac
    name="writer${writer#relay-host} $mode"
    out=$WORK/$writer-$mode
    if ! "$WORK/$writer" "$out.bin" "$mode" > "$out.out" 2>&1; then
      cat "$out.out"; fail "$name: inspect/refusal checks"; continue
    fi
    if [ $mode = torn ] && ! grep -a -q TORN-RECORD "$out.bin"; then
      fail "$name: the uncommitted record is not in the region (the test would prove nothing)"; continue
    fi
    if /usr/bin/python3 "$T/relay-check.py" "$out.bin" "${args[@]}" > "$out.check" 2>&1; then
      pass "$name: $(head -n1 "$out.out" | sed 's/^relay-host: //')"
    else
      cat "$out.check"; fail "$name: relay-check.py"
    fi
  done
done
echo "relay-host.sh: $PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]

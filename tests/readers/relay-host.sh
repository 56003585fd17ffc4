#!/bin/bash
# The flight recorder's writer (kernel-config/relayres/relayres-core.c, the
# same file the module and the patch series build) compiled as a user-space
# program with a small kernel shim (tests/readers/tools/relay-host/), no VM:
# 4 simulated CPUs in overwrite, no-overwrite and "crash between copy and
# commit" runs; relayres_inspect's verdicts on zeroed, garbage, moved,
# consumed and corrupted regions; then the independent parser
# (tests/readers/tools/relay-check.py) checks each region: no gaps, wrap,
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
if ! gcc -O2 -Wall -Wextra -Wno-unused-parameter -Werror -std=gnu11 -I"$T/relay-host" \
    -iquote "$ROOT/kernel-config/relayres" -iquote "$ROOT/formats" -o "$WORK/relay-host" \
    "$T/relay-host/relay-host.c" "$ROOT/kernel-config/relayres/relayres-core.c" -lz; then
  fail "relayres-core.c does not build in user space"; echo "relay-host.sh: 0 passed, 1 failed"; exit 1
fi
for mode in overwrite nooverwrite torn; do
  args=(--cpus 4)
  case $mode in
    overwrite) args+=(--marker LAB-LAST-MARKER --expect-wrap --expect-panic) ;;
    nooverwrite) args+=(--expect-no-overwrite) ;;
    torn) args+=(--marker LAB-LAST-MARKER --expect-wrap --expect-panic --absent TORN-RECORD) ;;
  esac
  if ! "$WORK/relay-host" "$WORK/$mode.bin" "$mode" > "$WORK/$mode.out" 2>&1; then
    cat "$WORK/$mode.out"; fail "writer $mode: inspect/refusal checks"; continue
  fi
  if [ $mode = torn ] && ! grep -a -q TORN-RECORD "$WORK/$mode.bin"; then
    fail "torn: the uncommitted record is not in the region (the test would prove nothing)"; continue
  fi
  if /usr/bin/python3 "$T/relay-check.py" "$WORK/$mode.bin" "${args[@]}" > "$WORK/$mode.check" 2>&1; then
    pass "writer $mode: $(head -n1 "$WORK/$mode.out" | sed 's/^relay-host: //')"
  else
    cat "$WORK/$mode.check"; fail "writer $mode: relay-check.py"
  fi
done
echo "relay-host.sh: $PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]

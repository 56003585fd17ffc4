#!/bin/bash
# The flight recorder (issue 5) in the lab VM: flightrec.ko on a reserved
# region (memmap=1M$0x5000000 flightrec.relayres=1M@0x5000000), 4 vCPUs,
# checked on the host by an independent Python parser of the layout
# (tests/readers/tools/relay-check.py). Three boots of 15-45 s each
# (tests/vm/run-relay-lab.sh):
#   panic: wrap-around on all 4 CPUs, per-CPU seq with no gap, the last
#          marker and the crash-time event survive kexec into a nr_cpus=1
#          capture kernel where salvage runs as /init and saves trace/ with
#          the dump (--agent; `salvage save` extracts it on the host). Bad
#          regions are refused with clear messages first. With a salvage
#          build that lacks `trace`, the capture kernel's labinit copies the
#          region from /dev/mem instead (--panic).
#   no-overwrite: the first events kept, the loss counted;
#   warm reset (sysrq b): the next boot refuses to reuse the unsaved
#          channel; `salvage save` at that boot saves the previous boot's
#          events from /dev/mem and marks them consumed; the module loads.
#   usage: relay-lab.sh LAB_CACHE_DIR
. "$(dirname "$0")/lib.sh" "$1"
export RELAY_LAB_SALVAGE=$SALVAGE
if "$SALVAGE" trace show /dev/null 2>&1 | grep -q 'not implemented'; then
  PANIC=(--panic) RESET=(--reset)
else
  PANIC=(--agent "$SALVAGE") RESET=(--reset "$SALVAGE")
fi
if "$ROOT/tests/vm/run-relay-lab.sh" "$LAB_CACHE" "${PANIC[@]}"; then pass "flightrec ${PANIC[0]}: wrap, no gaps, marker, crash record"
else fail "flightrec ${PANIC[0]} (tests/vm/run-relay-lab.sh ${PANIC[*]})"; fi
if "$ROOT/tests/vm/run-relay-lab.sh" "$LAB_CACHE" --no-overwrite; then pass "flightrec no-overwrite: first events kept, loss counted"
else fail "flightrec no-overwrite (tests/vm/run-relay-lab.sh --no-overwrite)"; fi
if "$ROOT/tests/vm/run-relay-lab.sh" "$LAB_CACHE" "${RESET[@]}"; then pass "flightrec warm reset: previous boot's events recovered"
else fail "flightrec warm reset (tests/vm/run-relay-lab.sh ${RESET[*]})"; fi
finish

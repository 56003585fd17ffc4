#!/bin/bash
# The capture agent end to end (issue 3): one boot of the lab kernel in
# which the first kernel arms salvage with `salvage load`, panics, and the
# capture kernel runs salvage as /init, which writes the dump container to
# a virtio partition found by LABEL=; then `salvage save`, crash and
# makedumpfile check what was saved (tests/vm/run-agent-lab.sh).
# AGENT_LAB_FAILURES=1 also boots the missing-target failure case (~30 s
# more; `make lab-agent` always does).
#   usage: agent-lab.sh LAB_CACHE_DIR
. "$(dirname "$0")/lib.sh" "$1"

if "$ROOT/tests/vm/run-agent-lab.sh" "$LAB_CACHE" "$SALVAGE"; then pass "agent: LABEL= capture, save, crash, makedumpfile"
else fail "agent: LABEL= capture (tests/vm/run-agent-lab.sh)"; fi
if [ "${AGENT_LAB_FAILURES:-0}" = 1 ]; then
  if "$ROOT/tests/vm/run-agent-lab.sh" "$LAB_CACHE" "$SALVAGE" --missing-target; then pass "agent: missing target ends in the final action"
  else fail "agent: missing target (tests/vm/run-agent-lab.sh --missing-target)"; fi
fi
finish

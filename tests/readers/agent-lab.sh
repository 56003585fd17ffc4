#!/bin/bash
# The capture agent end to end (issue 3): one boot of the lab kernel in
# which the first kernel arms salvage with `salvage load`, panics, and the
# capture kernel runs salvage as /init, which writes the dump container to
# a virtio partition found by LABEL=; then `salvage save`, crash and
# makedumpfile check what was saved (tests/vm/run-agent-lab.sh; this first
# case at crashkernel=64M), after a
# second boot of the same disk ran `salvage save`; then the same to an ext4
# file system (--fs-target) and to xfs (--xfs-target, plus a boot that
# copies the files out), a dump cut on a partition smaller than it
# (--small-target), a hung capture with a 6 s softdog (--hang: the watchdog
# is petted, the timeout kills the capture, the final action follows), and
# a target label that does not exist (--missing-target: a clear message and
# the final action within the timeout). AGENT_LAB_FAILURES=0 skips the last
# two.
#   usage: agent-lab.sh LAB_CACHE_DIR
. "$(dirname "$0")/lib.sh" "$1"

# At crashkernel=64M: the smallest reservation at which salvage's capture
# completes in the lab and the makedumpfile baseline's does not (docs/bench.md).
if AGENT_LAB_CRASHKERNEL=64M "$ROOT/tests/vm/run-agent-lab.sh" "$LAB_CACHE" "$SALVAGE"; then pass "agent: LABEL= capture at crashkernel=64M, save in a second boot (twice, saved once), crash, makedumpfile"
else fail "agent: LABEL= capture (tests/vm/run-agent-lab.sh)"; fi
# A dump partition smaller than the dump (one more boot, ~25 s): priority
# order keeps the kernel's pages; saved incomplete, crash shows bt and log.
if "$ROOT/tests/vm/run-agent-lab.sh" "$LAB_CACHE" "$SALVAGE" --small-target; then pass "agent: partition smaller than the dump: incomplete, saved, crash bt/log"
else fail "agent: small target (tests/vm/run-agent-lab.sh --small-target)"; fi
if "$ROOT/tests/vm/run-agent-lab.sh" "$LAB_CACHE" "$SALVAGE" --fs-target; then pass "agent: ext4 file-system target, crash, makedumpfile"
else fail "agent: ext4 file-system target (tests/vm/run-agent-lab.sh --fs-target)"; fi
if "$ROOT/tests/vm/run-agent-lab.sh" "$LAB_CACHE" "$SALVAGE" --xfs-target; then pass "agent: xfs file-system target, crash, makedumpfile"
else fail "agent: xfs file-system target (tests/vm/run-agent-lab.sh --xfs-target)"; fi
if [ "${AGENT_LAB_FAILURES:-1}" = 1 ]; then  # the missing-target case runs by default
  if "$ROOT/tests/vm/run-agent-lab.sh" "$LAB_CACHE" "$SALVAGE" --missing-target; then pass "agent: missing target ends in the final action"
  else fail "agent: missing target (tests/vm/run-agent-lab.sh --missing-target)"; fi
  if "$ROOT/tests/vm/run-agent-lab.sh" "$LAB_CACHE" "$SALVAGE" --hang; then pass "agent: hung capture: watchdog petted, timeout, final action"
  else fail "agent: hung capture (tests/vm/run-agent-lab.sh --hang)"; fi
fi
finish

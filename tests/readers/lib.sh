# Shared helpers for the independent-reader tests. Source it:
#   . "$(dirname "$0")/lib.sh" "$LAB_CACHE"
# Sets VMCORE, VMLINUX, KVER, SALVAGE, WORK (a temp dir removed on exit).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_CACHE=${1:?usage: $0 LAB_CACHE_DIR}
eval "$("$ROOT/tests/vm/lab-paths.sh" "$LAB_CACHE")"
VMCORE=$LAB_DIR/vmcore
VMLINUX=$LAB_VMLINUX
KVER=$LAB_KVER
SALVAGE=${SALVAGE:-$ROOT/salvage}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/salvage-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
[ -s "$VMCORE" ] || { echo "no lab vmcore at $VMCORE (run make lab)" >&2; exit 1; }
FAILS=0
PASSES=0
pass() { PASSES=$((PASSES + 1)); echo "  ok   $*"; }
fail() { FAILS=$((FAILS + 1)); echo "  FAIL $*"; }
finish() {
  echo "$(basename "$0"): $PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}

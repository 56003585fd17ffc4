#!/bin/sh
# makedumpfile -R must rebuild, from salvage's flattened stream, a file
# byte-identical to what salvage writes directly.
#   flattened-rebuild.sh STREAM EXPECTED
# (tests/unit/flattened_test.cc calls this with synthetic dumps.)
set -eu
stream=$1
expected=$2
command -v makedumpfile >/dev/null || { echo "flattened-rebuild: makedumpfile not installed (skip)"; exit 77; }
out=$(mktemp /tmp/salvage-rebuild.XXXXXX)
trap 'rm -f "$out"' EXIT
rm -f "$out"
# makedumpfile 1.7.2 spins forever on a stream without its end record: bound it.
if ! timeout 60 makedumpfile -R "$out" < "$stream" >/dev/null 2>"$out.err"; then
  echo "flattened-rebuild: makedumpfile -R failed:"; cat "$out.err"; rm -f "$out.err"; exit 1
fi
rm -f "$out.err"
if cmp "$out" "$expected"; then
  echo "flattened-rebuild: ok ($(stat -c %s "$expected") bytes identical)"
else
  echo "flattened-rebuild: makedumpfile -R output differs from the direct output"; exit 1
fi

#!/bin/bash
# Runs every independent-reader test against the lab vmcore and prints one
# closing line "N passed, N failed" (N counts scripts).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_CACHE=${1:?usage: $0 LAB_CACHE_DIR}
passed=0 failed=0 failed_names=""
for t in "$HERE"/*.sh "$HERE"/*.py; do
  [ -e "$t" ] || continue
  case "$(basename "$t")" in run-all.sh|lib.sh|_*) continue ;; esac
  echo "== $(basename "$t")"
  start=$(date +%s)
  if [[ "$t" == *.py ]]; then /usr/bin/python3 "$t" "$LAB_CACHE"; else bash "$t" "$LAB_CACHE"; fi
  rc=$?
  echo "   ($(( $(date +%s) - start )) s)"
  if [ $rc -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names="$failed_names $(basename "$t")"; fi
done
[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

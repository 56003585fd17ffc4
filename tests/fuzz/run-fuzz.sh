#!/bin/sh
# Runs each libFuzzer target for SECONDS from its seed corpus and reports
# execs/s. Usage: run-fuzz.sh FUZZ_DIR SECONDS NAME... Exits non-zero on the
# first target that finds a crash, leak, UB, timeout or OOM; the input is
# kept as FUZZ_DIR/artifacts/NAME-* and the log as FUZZ_DIR/logs/NAME.log.
set -eu
dir=$1 secs=$2
shift 2
mkdir -p "$dir/artifacts" "$dir/logs" "$dir/corpus"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for name in "$@"; do
  corpus="$dir/corpus/$name"
  mkdir -p "$corpus"
  log="$dir/logs/$name.log"
  if ! "$dir/fuzz-$name" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/$name-" "$corpus" "$dir/seeds/$name" >"$log" 2>&1; then
    echo "fuzz-$name: FAILED (log $log)"
    grep -E 'ERROR|runtime error|property violated|SUMMARY|Test unit written' "$log" | head -20
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  echo "fuzz-$name: ok, $runs runs in ${secs}s ($rate exec/s), coverage $cov edges, corpus $(ls "$corpus" | wc -l)"
done

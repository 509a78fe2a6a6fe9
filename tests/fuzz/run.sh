#!/usr/bin/env bash
# Runs every fuzz target of the fuzz build (packaging/build-fuzz.sh).
#
#   tests/fuzz/run.sh SECONDS [FUZZ_BUILD]   fuzz each target for SECONDS
#   tests/fuzz/run.sh --replay [FUZZ_BUILD]  run each target once over its
#                                            seeds and regression inputs
#
# A fuzzing run starts from tests/fuzz/corpus/<target> and keeps what it
# finds in a working corpus outside the tree ($QS_FUZZ_WORK, default
# /tmp/qs-fuzz), so the committed seeds stay small; crashing inputs land
# there under crashes/. It prints one table row per target: executions,
# executions per second, coverage (libFuzzer's cov: edges and ft: features)
# and the corpus it ended with. An input that crashes, hangs (over 10 s) or
# makes a sanitizer report fails the run; fix it and add the input under
# tests/fuzz/regressions/<target>/, which --replay (CTest's
# fuzz_corpus_replay) runs on every build.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
mode="$1"
BUILD="${2:-${QS_FUZZ_BUILD:-${QS_BUILD:-$ROOT/build}-fuzz}}"
BIN="$BUILD/tests/fuzz"
# libtorch's and libstdc++'s own allocations outlive main: not the parsers' leaks.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$HERE/ubsan.supp:${UBSAN_OPTIONS:-}"
# One compute thread: inputs are tiny, and libFuzzer measures one thread.
export OMP_NUM_THREADS=1
targets=()
for f in "$HERE"/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
for t in "${targets[@]}"; do
  if [ ! -x "$BIN/$t" ]; then
    echo "no $BIN/$t: build it with packaging/build-fuzz.sh" >&2
    # CTest counts 77 as skipped; packaging/test.sh builds it, so there it fails.
    [ "$mode" = "--replay" ] && [ "${QS_REQUIRE_REFERENCES:-0}" != 1 ] && exit 77
    exit 2
  fi
done

if [ "$mode" = "--replay" ]; then
  for t in "${targets[@]}"; do
    dirs=("$HERE/corpus/$t")
    [ -d "$HERE/regressions/$t" ] && dirs+=("$HERE/regressions/$t")
    n=$(find "${dirs[@]}" -type f | wc -l)
    "$BIN/$t" -runs=0 -timeout=10 -rss_limit_mb=4096 "${dirs[@]}" >"/tmp/qs-replay-$t.log" 2>&1 ||
      { cat "/tmp/qs-replay-$t.log" >&2; echo "$t: FAILED on its corpus or regressions" >&2; exit 1; }
    echo "$t: $n inputs replayed"
  done
  exit 0
fi

seconds="$mode"
WORK="${QS_FUZZ_WORK:-/tmp/qs-fuzz}"
mkdir -p "$WORK/crashes"
status=0
printf '| target | seconds | executions | exec/s | cov (edges) | ft (features) | corpus | result |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---|\n'
for t in "${targets[@]}"; do
  mkdir -p "$WORK/$t"
  log="$WORK/$t.log"
  result=ok
  "$BIN/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$WORK/crashes/$t-" "$WORK/$t" "$HERE/corpus/$t" >"$log" 2>&1 || { result=FAILED; status=1; }
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(echo "$last" | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+' || echo -)
  ft=$(echo "$last" | grep -oE 'ft: [0-9]+' | grep -oE '[0-9]+' || echo -)
  corp=$(echo "$last" | grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' | cut -d' ' -f2 || echo -)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$seconds" "$execs" "$((execs / (seconds > 0 ? seconds : 1)))" \
    "$cov" "$ft" "$corp" "$result"
done
exit $status

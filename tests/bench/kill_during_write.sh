#!/usr/bin/env bash
# SIGKILL while quantscope-cli writes: a checkpoint (quantize --out), an
# export (export --out) and a project (quantize --project), each over a
# complete earlier one of another setting (RTN W4 against W8). After every kill the target must
# be the earlier version or the new one, whole: it opens, and its perplexity
# on one window equals that version's reference exactly; anything else (it
# does not open, or opens with other numbers) is a half file. What the killed
# writer left beside it (a staging directory, a temporary) must be gone after
# the next complete write.
#
#   tests/bench/kill_during_write.sh ITERATIONS [BUILD_DIR]
#
# KINDS (default "checkpoint export project") picks the kinds. Half the kills
# land at a random time in the whole run, half at a random time after the
# write began (its staging directory or temporary appeared). Needs the demo
# model (packaging/fetch-demo-model.sh), whose RTN checkpoints and exports are
# written, and the family references. Prints a table; exits 1 on any half
# file or leftover.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../packaging/common.sh"
N="${1:?iterations}"
BUILD="${2:-$QS_BUILD}"
CLI="$BUILD/app/quantscope-cli"
if [ ! -f "$QS_DEMO_MODEL" ]; then
  echo "no demo model at $QS_DEMO_MODEL: run packaging/fetch-demo-model.sh" >&2
  [ "${QS_REQUIRE_REFERENCES:-0}" = 1 ] && exit 1
  exit 77
fi
# A project records each layer's analyses as it runs (85 s for the demo
# model here), so projects are written from the tiny Llama of
# packaging/make-family-references.sh instead.
PROJECT_MODEL="$QS_CACHE/reference/families/llama"
[ -d "$PROJECT_MODEL" ] || { echo "no $PROJECT_MODEL: run packaging/make-family-references.sh" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
head -c 20000 "$QS_ROOT/README.md" >"$work/calib.txt"
head -c 8000 "$QS_ROOT/README.md" >"$work/eval.txt"
RANDOM=20261207

ppl() { "$CLI" eval "$1" --text "$work/eval.txt" --ctx 64 --limit-chunks 1 2>/dev/null | tail -1 |
  "$QS_VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["ppl"])' 2>/dev/null || echo unreadable; }

# The command writing version V (0 or 1) of KIND, its target, and what the
# target is read through.
command_for() {
  local kind=$1 v=$2
  local bits=$((v == 0 ? 4 : 8))
  case $kind in
    checkpoint) echo "$CLI quantize $QS_DEMO_MODEL --method rtn --bits $bits --group 64 --calib $work/calib.txt" \
                     "--nsamples 1 --seqlen 16 --out $work/ckpt" ;;
    export) echo "$CLI export $work/source$v --format compressed-tensors --out $work/exp" ;;
    project) echo "$CLI quantize $PROJECT_MODEL --method rtn --bits $bits --group 32 --calib $work/calib.txt" \
                  "--nsamples 1 --seqlen 16 --project $work/p.qsproj" ;;
  esac
}
target_for() { case $1 in checkpoint) echo "$work/ckpt" ;; export) echo "$work/exp" ;; project) echo "$work/p.qsproj" ;; esac; }
# What a writer leaves beside the target while it writes.
debris() {
  local t
  t="$(basename "$(target_for "$1")")"
  find "$work" -maxdepth 1 \( -name ".$t.qs-staging-*" -o -name "$t.tmp-*" \) | wc -l
}
clean_journal() { rm -rf "$work/ckpt.journal" "$work/p.qsproj.journal"; }

for v in 0 1; do  # the checkpoints the two export versions are written from
  "$CLI" quantize "$QS_DEMO_MODEL" --method rtn --bits $((v == 0 ? 4 : 8)) --group 64 --calib "$work/calib.txt" \
    --nsamples 1 --seqlen 16 --out "$work/source$v" >/dev/null 2>&1
done

status=0
printf '| kind | kills | while writing | earlier version | new version | half files | leftovers after the next write | seconds per run |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
for kind in ${KINDS:-checkpoint export project}; do
  target="$(target_for "$kind")"
  declare -A ref=()
  start=$(date +%s.%N)
  for v in 0 1; do
    $(command_for "$kind" "$v") >/dev/null 2>&1
    clean_journal
    ref[$v]="$(ppl "$target")"
  done
  run_s=$("$QS_VENV/bin/python" -c "print(($(date +%s.%N) - $start) / 2)")
  [ "${ref[0]}" != "${ref[1]}" ] && [ "${ref[0]}" != unreadable ] ||
    { echo "$kind: the two versions are not told apart (${ref[0]} ${ref[1]})" >&2; exit 1; }
  current=1 writing=0 old=0 new=0 half=0 left=0
  for ((i = 0; i < N; i++)); do
    next=$((1 - current))
    $(command_for "$kind" "$next") >/dev/null 2>&1 &
    pid=$!
    if ((i % 2)); then
      # After the write began: poll for its staging directory or temporary.
      while kill -0 "$pid" 2>/dev/null && [ "$(debris "$kind")" = 0 ]; do sleep 0.002; done
      sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
      writing=$((writing + 1))
    else
      sleep "$("$QS_VENV/bin/python" -c "import random; random.seed($RANDOM); print(random.uniform(0, $run_s))")"
    fi
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    clean_journal
    got="$(ppl "$target")"
    if [ "$got" = "${ref[$current]}" ]; then
      old=$((old + 1))
    elif [ "$got" = "${ref[$next]}" ]; then
      new=$((new + 1))
      current=$next
    else
      half=$((half + 1))
      echo "$kind kill $i: the target reads as '$got' (versions: ${ref[0]}, ${ref[1]})" >&2
      $(command_for "$kind" "$current") >/dev/null 2>&1
      clean_journal
    fi
    # The next complete write clears what the killed one left.
    $(command_for "$kind" "$current") >/dev/null 2>&1
    clean_journal
    if [ "$(debris "$kind")" != 0 ]; then
      left=$((left + 1))
      echo "$kind kill $i: $(debris "$kind") leftovers after the next write" >&2
    fi
  done
  ((half + left == 0)) || status=1
  printf '| %s | %d | %d | %d | %d | %d | %d | %.1f |\n' "$kind" "$N" "$writing" "$old" "$new" "$half" "$left" "$run_s"
done
exit $status

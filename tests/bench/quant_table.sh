#!/usr/bin/env bash
# Perplexity table of the quantization engine: quantizes MODEL with each
# METHOD:BITS:GROUP, saves the checkpoint, and evaluates the saved checkpoint
# with `quantscope-cli eval` (so every number is the reloaded model's). Runs
# one job at a time so the timings see an otherwise idle machine; a config
# whose result is already in RUNDIR is not run again.
#
#   tests/bench/quant_table.sh MODEL CALIB EVAL RUNDIR [fp] [METHOD:BITS:GROUP ...]
#
# Env: QS_CLI (default build/app/quantscope-cli), QS_NSAMPLES (32),
# QS_SEQLEN (512), QS_SEED (0), QS_EVAL_CTX (2048), QS_EVAL_LIMIT (0 = all),
# QS_QUANT_ARGS (extra quantize arguments, e.g. "--sym"), QS_EVAL_ARGS (extra
# eval arguments, e.g. "--device cuda"), QS_EVAL (1; 0 quantizes
# only, so timed runs can go back to back and the evaluations after them).
# Each config leaves NAME.quantize.json/.log (with /usr/bin/time -v output, so
# peak RSS is recorded), NAME.eval.json/.log and the checkpoint NAME/. A run
# killed while quantizing goes on from its last finished block when the script
# runs again (quantize --resume); its log is appended to, and its quantize
# seconds, marked "+", count the last process only ("blocks s" sums every
# block's own seconds, journaled ones included).
# Prints a table: config, quantize seconds, summed block seconds, peak RSS
# MiB, perplexity.
set -euo pipefail
model="$1"; calib="$2"; text="$3"; rundir="$4"; shift 4
cli="${QS_CLI:-$(dirname "$0")/../../build/app/quantscope-cli}"
mkdir -p "$rundir"
# shellcheck disable=SC2206
eval_args=(--text "$text" --protocol hf --ctx "${QS_EVAL_CTX:-2048}" --limit-chunks "${QS_EVAL_LIMIT:-0}"
  ${QS_EVAL_ARGS:-})

evaluate() {  # evaluate NAME TARGET
  [ "${QS_EVAL:-1}" = 0 ] && return
  [ -s "$rundir/$1.eval.json" ] && return
  "$cli" eval "$2" "${eval_args[@]}" >"$rundir/$1.eval.json.tmp" 2>"$rundir/$1.eval.log"
  mv "$rundir/$1.eval.json.tmp" "$rundir/$1.eval.json"
}

for cfg in "$@"; do
  if [ "$cfg" = fp ]; then
    evaluate fp "$model"
    continue
  fi
  IFS=: read -r method bits group <<<"$cfg"
  name="$method-w${bits}g${group}"
  if [ ! -s "$rundir/$name.quantize.json" ]; then
    # shellcheck disable=SC2086
    /usr/bin/time -v "$cli" quantize "$model" --method "$method" --bits "$bits" --group "$group" \
      --calib "$calib" --nsamples "${QS_NSAMPLES:-32}" --seqlen "${QS_SEQLEN:-512}" --seed "${QS_SEED:-0}" \
      ${QS_QUANT_ARGS:-} --resume --out "$rundir/$name" >"$rundir/$name.quantize.json.tmp" 2>>"$rundir/$name.quantize.log"
    mv "$rundir/$name.quantize.json.tmp" "$rundir/$name.quantize.json"
  fi
  evaluate "$name" "$rundir/$name"
done

python3 - "$rundir" <<'EOF'
import json, pathlib, re, sys
d = pathlib.Path(sys.argv[1])
print(f"{'config':<16} {'quantize s':>10} {'blocks s':>9} {'peak RSS MiB':>12} {'perplexity':>11} {'windows':>7}")
for e in sorted(d.glob("*.eval.json")):
    name = e.name[: -len(".eval.json")]
    ev = json.loads(e.read_text())
    q = d / f"{name}.quantize.json"
    secs = blocks = rss = "-"
    if q.exists():
        run = json.loads(q.read_text())
        secs = f"{run['quantize_seconds']:.1f}" + ("+" if run.get("resumed_blocks") else "")
        # Every block's own seconds, those taken from a journal included: the
        # checkpoint's record of the run has them (quantize's JSON does not).
        saved = d / name / "quantscope.json"
        if saved.exists():
            blocks = f"{sum(b['seconds'] for b in json.loads(saved.read_text())['run']['blocks']):.1f}"
        m = re.findall(r"Maximum resident set size \(kbytes\): (\d+)", (d / f"{name}.quantize.log").read_text())
        rss = f"{int(m[-1]) / 1024:.0f}" if m else "-"
    print(f"{name:<16} {secs:>10} {blocks:>9} {rss:>12} {ev['ppl']:>11.4f} {ev['chunks']:>7}")
EOF

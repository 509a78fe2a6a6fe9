#!/usr/bin/env bash
# QuantScope against llm-compressor on the same FP weights, the same
# calibration rows and the same evaluation.
#
#   tests/bench/peer_compare.sh FPDIR CALIB EVAL RUNDIR METHOD:BITS:GROUP ...
#
# FPDIR is the FP32 checkpoint `peer_llmcompressor.py fp-checkpoint` wrote.
# Phase 1 quantizes, for each config ours then the peer's, back to back on an
# otherwise idle machine; the peer is fed the calibration rows ours sampled
# (RUNDIR/<ours>/calibration_ids.safetensors). Phase 2 evaluates every
# checkpoint with `quantscope-cli eval` (HF protocol, QS_EVAL_CTX, QS_EVAL_LIMIT);
# QS_EVAL=0 stops after phase 1. Env as quant_table.sh, plus QS_PEER_PY (default
# the peer venv's python).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fpdir="$1"; calib="$2"; text="$3"; rundir="$4"; shift 4
py="${QS_PEER_PY:-$HOME/.cache/quantscope/peer-venv/bin/python}"
cli="${QS_CLI:-$here/../../build/app/quantscope-cli}"
mkdir -p "$rundir"

for cfg in "$@"; do
  IFS=: read -r method bits group <<<"$cfg"
  name="$method-w${bits}g${group}"
  QS_EVAL=0 "$here/quant_table.sh" "$fpdir" "$calib" "$text" "$rundir" "$cfg" >/dev/null
  if [ ! -s "$rundir/peer-$name.quantize.json" ]; then
    OMP_NUM_THREADS="$(nproc)" /usr/bin/time -v "$py" "$here/peer_llmcompressor.py" quantize --model "$fpdir" \
      --method "$method" --bits "$bits" --group "$group" \
      --calib-ids "$rundir/$name/calibration_ids.safetensors" --out "$rundir/peer-$name" \
      >"$rundir/peer-$name.quantize.json.tmp" 2>"$rundir/peer-$name.quantize.log"
    mv "$rundir/peer-$name.quantize.json.tmp" "$rundir/peer-$name.quantize.json"
  fi
done

[ "${QS_EVAL:-1}" = 0 ] && exit 0
eval_args=(--text "$text" --protocol hf --ctx "${QS_EVAL_CTX:-2048}" --limit-chunks "${QS_EVAL_LIMIT:-0}")
for target in fp "$@"; do
  if [ "$target" = fp ]; then names=(fp); dirs=("$fpdir"); else
    IFS=: read -r method bits group <<<"$target"
    names=("$method-w${bits}g${group}" "peer-$method-w${bits}g${group}")
    dirs=("$rundir/${names[0]}" "$rundir/${names[1]}")
  fi
  for i in "${!names[@]}"; do
    [ -s "$rundir/${names[$i]}.eval.json" ] && continue
    "$cli" eval "${dirs[$i]}" "${eval_args[@]}" >"$rundir/${names[$i]}.eval.json.tmp" 2>"$rundir/${names[$i]}.eval.log"
    mv "$rundir/${names[$i]}.eval.json.tmp" "$rundir/${names[$i]}.eval.json"
  done
done

python3 - "$rundir" "$@" <<'PYEOF'
import json, pathlib, re, sys
d = pathlib.Path(sys.argv[1])
def rss(log):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", (d / log).read_text())
    return int(m.group(1)) / 1024 if m else float("nan")
fp = json.loads((d / "fp.eval.json").read_text())
print(f"FP perplexity {fp['ppl']:.4f} ({fp['chunks']} windows)")
print(f"{'config':<11} {'ours s':>8} {'peer s':>8} {'peer/ours':>9} {'ours MiB':>8} {'peer MiB':>8}"
      f" {'ours ppl':>9} {'peer ppl':>9} {'ours vs peer':>12}")
for cfg in sys.argv[2:]:
    m, b, g = cfg.split(":")
    n = f"{m}-w{b}g{g}"
    ours_s = json.loads((d / f"{n}.quantize.json").read_text())["quantize_seconds"]
    peer_s = json.loads((d / f"peer-{n}.quantize.json").read_text())["seconds"]
    ours_p = json.loads((d / f"{n}.eval.json").read_text())["ppl"]
    peer_p = json.loads((d / f"peer-{n}.eval.json").read_text())["ppl"]
    print(f"{m.upper()} W{b}g{g:<4} {ours_s:>8.1f} {peer_s:>8.1f} {peer_s / ours_s:>8.2f}x"
          f" {rss(f'{n}.quantize.log'):>8.0f} {rss(f'peer-{n}.quantize.log'):>8.0f}"
          f" {ours_p:>9.4f} {peer_p:>9.4f} {100 * (ours_p / peer_p - 1):>+11.2f}%")
PYEOF

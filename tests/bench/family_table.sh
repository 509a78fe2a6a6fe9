#!/usr/bin/env bash
# Per-family table for docs/benchmarks.md: forward throughput of each tiny
# family model (packaging/make-family-references.sh) in quantscope-cli eval
# against transformers on the same token windows, both fp32 on the CPU, and
# the wall time and peak RSS of a GPTQ W4 quantization of it.
#
#   tests/bench/family_table.sh [BUILD_DIR] [REPEATS]
#
# Forward: the eval text's windows (ctx 48), REPEATS passes each, best pass
# reported. GPTQ: groups of GROUP (default 32: the tiny models' rows are 64
# and 96 wide, so 128 does not divide them; 16 for the MoE models' 48-wide
# experts), 8 samples of 48 tokens from the eval text. FAMILIES picks the rows.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../packaging/common.sh"
BUILD="${1:-$QS_BUILD}"
REPEATS="${2:-5}"
export QS_ROOT
CLI="$BUILD/app/quantscope-cli"
FAM="$QS_CACHE/reference/families"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

GROUP="${GROUP:-32}"
printf '| family | QuantScope forward tok/s | transformers forward tok/s | ratio | GPTQ W4g%s wall s | GPTQ peak RSS MiB |\n' "$GROUP"
printf '|---|---:|---:|---:|---:|---:|\n'
for f in ${FAMILIES:-llama qwen2 qwen3 mistral gemma2 gemma3_text}; do
  d="$FAM/$f"
  ours=0
  for _ in $(seq "$REPEATS"); do
    t=$("$CLI" eval "$d" --text "$d/eval.txt" --protocol hf --ctx 48 2>/dev/null | tail -1 |
      "$QS_VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_second"])')
    ours=$("$QS_VENV/bin/python" -c "print(max($ours, $t))")
  done
  hf=$("$QS_VENV/bin/python" - "$d" "$REPEATS" <<'PY' 2>/dev/null
import os, sys, time, torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
sys.path.insert(0, os.path.join(os.environ.get("QS_ROOT", "."), "tests", "bench"))
from check_export_transformers import join_rows_hf
d, repeats = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(2)
tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(d, "tokenizer.json"))
with open(os.path.join(d, "eval.txt"), encoding="utf-8", newline="") as f:
    ids = tok(join_rows_hf(f.read()), return_tensors="pt").input_ids[0]
model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
windows = [ids[i * 48:(i + 1) * 48].unsqueeze(0) for i in range(ids.numel() // 48)]
best = 0.0
with torch.no_grad():
    for _ in range(repeats):
        t0 = time.perf_counter()
        for w in windows:
            model(input_ids=w).logits.float()
        best = max(best, len(windows) * 48 / (time.perf_counter() - t0))
print(best)
PY
)
  /usr/bin/time -v "$CLI" quantize "$d" --method gptq --bits 4 --group "$GROUP" --calib "$d/eval.txt" \
    --nsamples 8 --seqlen 48 --out "$tmp/$f" >/dev/null 2>"$tmp/$f.time"
  wall=$(awk -F': ' '/Elapsed/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tmp/$f.time")
  rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$tmp/$f.time")
  printf '| %s | %.0f | %.0f | %.2f | %s | %s |\n' "$f" "$ours" "$hf" "$("$QS_VENV/bin/python" -c "print($ours/$hf)")" "$wall" "$rss"
done

#!/usr/bin/env bash
# Each tiny family model (packaging/make-family-references.sh) quantized with
# GPTQ W4 in groups of GROUP (default 32; 16 divides the MoE models' 48-wide
# experts) and exported, then evaluated by quantscope-cli and by HF
# transformers from the export itself (tests/bench/check_export_transformers.py
# in the loaders venv, tests/bench/loaders_setup.sh): compressed-tensors from a
# symmetric run (transformers 5.24 + compressed-tensors 0.19 cannot load
# asymmetric pack-quantized zero points: llm-compressor issue 1618), GPTQ from
# an asymmetric one through gptqmodel's torch kernel, GGUF (Q4_1) from an
# asymmetric one through transformers' own GGUF reader, which builds the
# tokenizer from the file's metadata too. Same text, HF protocol, ctx 48, the
# tokenizer.json as it is on both sides (for GGUF, the metadata written from
# it). FORMATS picks formats. Prints a table.
#
#   tests/bench/check_family_exports.sh [BUILD_DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../packaging/common.sh"
BUILD="${1:-$QS_BUILD}"
CLI="$BUILD/app/quantscope-cli"
LOADERS="${QS_LOADERS_VENV:-$QS_CACHE/loaders-venv}/bin/python"
FAM="$QS_CACHE/reference/families"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ppl() { tail -1 | "$QS_VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["ppl"])'; }

printf '| family | format | quantscope-cli eval | transformers | relative difference |\n|---|---|---:|---:|---:|\n'
for f in ${FAMILIES:-llama qwen2 qwen3 mistral phi3 gemma2 gemma3_text}; do
  d="$FAM/$f"
  for fmt in ${FORMATS:-compressed-tensors gptq gguf}; do
    sym=$([ "$fmt" = compressed-tensors ] && echo --sym || true)
    "$CLI" quantize "$d" --method gptq --bits 4 --group "${GROUP:-32}" $sym --calib "$d/eval.txt" --nsamples 8 --seqlen 48 \
      --out "$tmp/$f-$fmt-q" >/dev/null 2>&1
    if ! err=$("$CLI" export "$tmp/$f-$fmt-q" --format "$fmt" --out "$tmp/$f-$fmt" 2>&1 >/dev/null); then
      printf '| %s | %s | export refused: %s | | |\n' "$f" "$fmt" "$(echo "$err" | tail -1 | cut -c1-90)"
      continue
    fi
    target="$tmp/$f-$fmt"
    [ "$fmt" = gguf ] && target="$tmp/$f-$fmt/model.gguf"
    ours=$("$CLI" eval "$target" --text "$d/eval.txt" --protocol hf --ctx 48 2>/dev/null | ppl)
    case "$fmt" in
      gptq) how="--raw-tokenizer --backend gptq_torch" ;;
      gguf) how="--gguf model.gguf" ;;
      *) how="--raw-tokenizer" ;;
    esac
    hf=$("$LOADERS" "$QS_ROOT/tests/bench/check_export_transformers.py" "$tmp/$f-$fmt" --text "$d/eval.txt" \
      --ctx 48 $how 2>"$tmp/$f-$fmt.err" | ppl) || hf="failed: $(grep -m1 -E 'Error|MISMATCH' "$tmp/$f-$fmt.err" | cut -c1-80)"
    rel=$("$QS_VENV/bin/python" -c "print('%.2e' % abs($ours / $hf - 1))" 2>/dev/null || echo "-")
    printf '| %s | %s | %s | %s | %s |\n' "$f" "$fmt" "$ours" "$hf" "$rel"
  done
done

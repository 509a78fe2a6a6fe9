#!/usr/bin/env bash
# Writes the HF transformers reference logits that test_model compares the
# decoder with: the demo model's first 128 tokens of a text, run in fp32 by
# transformers' LlamaForCausalLM (tests/reference/hf_logits.py). Installs
# transformers into the project venv when missing; skipped when the file exists.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="${QS_HF_LOGITS:-$QS_CACHE/reference/hf_logits_128.safetensors}"
[ -f "$OUT" ] && exit 0
[ -f "$QS_DEMO_MODEL" ] || { qs_log "no demo model: skipping the HF reference"; exit 0; }
if ! "$QS_VENV/bin/python" -c "import transformers, gguf, safetensors, tokenizers, accelerate" 2>/dev/null; then
  qs_log "installing transformers into $QS_VENV for the reference logits"
  "$QS_VENV/bin/pip" install -q transformers tokenizers safetensors gguf sentencepiece accelerate
fi
text="$QS_ROOT/../shared/data/wikitext2-test.raw"
[ -f "$text" ] || text="$QS_ROOT/README.md"
mkdir -p "$(dirname "$OUT")"
qs_log "computing HF reference logits into $OUT"
"$QS_VENV/bin/python" "$QS_ROOT/tests/reference/hf_logits.py" "$QS_DEMO_MODEL" "$text" -n 128 -o "$OUT" >&2

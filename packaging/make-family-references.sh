#!/usr/bin/env bash
# Writes the tiny random model of each architecture family and transformers'
# logits for it (tests/reference/hf_families.py), which test_model's
# TestFamilies compares the decoder with. Installs transformers into the
# project venv when missing; rewritten when the generator script changed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$QS_CACHE/reference/families"
script="$QS_ROOT/tests/reference/hf_families.py"
stamp="$OUT/.generator-sha256"
want="$(sha256sum "$script" | cut -d' ' -f1)"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
if ! "$QS_VENV/bin/python" -c "import transformers, safetensors" 2>/dev/null; then
  qs_log "installing transformers into $QS_VENV for the family references"
  "$QS_VENV/bin/pip" install -q transformers tokenizers safetensors gguf sentencepiece accelerate
fi
qs_log "writing tiny family models and their transformers logits into $OUT"
rm -rf "$OUT"
mkdir -p "$OUT"
"$QS_VENV/bin/python" "$script" "$OUT" >&2
echo "$want" >"$stamp"

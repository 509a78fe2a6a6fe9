#!/usr/bin/env bash
# Writes random blocks of each ggml type and the gguf package's dequantization
# of them (tests/reference/gguf_blocks.py), which test_io's TestGguf compares
# core/io/ggml_dequant with. Rewritten when the generator script changed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$QS_CACHE/reference/gguf_blocks.safetensors"
script="$QS_ROOT/tests/reference/gguf_blocks.py"
stamp="$OUT.generator-sha256"
want="$(sha256sum "$script" | cut -d' ' -f1)"
[ -f "$OUT" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
if ! "$QS_VENV/bin/python" -c "import gguf, safetensors" 2>/dev/null; then
  qs_log "installing gguf into $QS_VENV for the dequantization reference"
  "$QS_VENV/bin/pip" install -q gguf safetensors
fi
mkdir -p "$(dirname "$OUT")"
qs_log "writing the gguf package's dequantization of random blocks into $OUT"
"$QS_VENV/bin/python" "$script" "$OUT" >&2
echo "$want" >"$stamp"

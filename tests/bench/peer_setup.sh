#!/usr/bin/env bash
# Creates (or reuses) the peer venv for tests/bench/peer_llmcompressor.py and
# installs the pinned llm-compressor there.  Idempotent: a venv that already has
# the pinned versions is left alone.  Never touches the project venv.
#
#   tests/bench/peer_setup.sh            # then:
#   ~/.cache/quantscope/peer-venv/bin/python tests/bench/peer_llmcompressor.py ...
#
# Pins: llmcompressor 0.14.0.1 requires compressed-tensors==0.19.0,
# transformers>=5.15,<=5.17, torch>=2.10,<=2.14; torch is pinned to the
# project's 2.11.0 (PyPI's default Linux wheel, CUDA 13 build; runs on CPU).
set -euo pipefail

PEER_VENV="${QS_PEER_VENV:-$HOME/.cache/quantscope/peer-venv}"
PYTHON="${PYTHON:-python3}"
LLMCOMPRESSOR_VERSION=0.14.0.1
COMPRESSED_TENSORS_VERSION=0.19.0
TRANSFORMERS_VERSION=5.17.0
TORCH_VERSION=2.11.0

log() { echo "[peer_setup] $*" >&2; }

source "$(dirname "${BASH_SOURCE[0]}")/venv_pins.sh"

PINS=(llmcompressor="$LLMCOMPRESSOR_VERSION" compressed-tensors="$COMPRESSED_TENSORS_VERSION"
      transformers="$TRANSFORMERS_VERSION" torch="$TORCH_VERSION")
MODULES=(gguf safetensors sentencepiece)  # peer_llmcompressor.py's fp-checkpoint needs them

if [ -x "$PEER_VENV/bin/python" ] && venv_has_pins "$PEER_VENV/bin/python" "${PINS[@]}" -- "${MODULES[@]}"; then
  log "reusing $PEER_VENV"
else
  if [ ! -x "$PEER_VENV/bin/python" ]; then
    log "creating $PEER_VENV"
    "$PYTHON" -m venv "$PEER_VENV"
    "$PEER_VENV/bin/pip" install -q --upgrade pip
  fi
  log "installing llmcompressor==$LLMCOMPRESSOR_VERSION (torch==$TORCH_VERSION) into $PEER_VENV"
  "$PEER_VENV/bin/pip" install -q \
    "torch==$TORCH_VERSION" \
    "llmcompressor==$LLMCOMPRESSOR_VERSION" \
    "compressed-tensors==$COMPRESSED_TENSORS_VERSION" \
    "transformers==$TRANSFORMERS_VERSION" \
    gguf sentencepiece safetensors
  venv_has_pins "$PEER_VENV/bin/python" "${PINS[@]}" -- "${MODULES[@]}" || { log "installed versions do not match the pins"; exit 1; }
fi

"$PEER_VENV/bin/python" - <<'EOF'
from importlib.metadata import version
import sys
print("python", sys.version.split()[0])
for p in ("llmcompressor", "compressed-tensors", "torch", "transformers",
          "accelerate", "safetensors", "gguf"):
    print(p, version(p))
EOF

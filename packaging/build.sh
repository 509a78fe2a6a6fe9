#!/usr/bin/env bash
# Configures and builds QuantScope (Release, Ninja, ccache) against the venv's
# libtorch. Extra arguments go to CMake's configure step.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
TORCH_PREFIX="$("$QS_VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
JOBS="${QS_JOBS:-$(nproc)}"
mkdir -p "$QS_BUILD"
cmake -S "$QS_ROOT" -B "$QS_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" "$@" >"$QS_BUILD/configure.log" 2>&1 ||
  { cat "$QS_BUILD/configure.log" >&2; exit 1; }
grep -E '^-- QuantScope:' "$QS_BUILD/configure.log" >&2 || true
qs_log "building in $QS_BUILD with $JOBS jobs"
cmake --build "$QS_BUILD" -j "$JOBS"

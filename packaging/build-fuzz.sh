#!/usr/bin/env bash
# Builds the fuzz targets (tests/fuzz) in their own tree, $QS_BUILD-fuzz:
# clang with libFuzzer, ASan and UBSan, core and the kernels' CPU code only.
# tests/fuzz/run.sh runs them; CTest's fuzz_corpus_replay replays their
# corpora under the sanitizers. clang and its runtime come from setup-deps.sh.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BUILD="${QS_FUZZ_BUILD:-$QS_BUILD-fuzz}"
TORCH_PREFIX="$("$QS_VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
JOBS="${QS_JOBS:-$(nproc)}"
mkdir -p "$BUILD"
cmake -S "$QS_ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DQS_FUZZ=ON -DQS_WITH_CUDA=OFF -DQS_WITH_GUI=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" "$@" >"$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log" >&2; exit 1; }
qs_log "building the fuzz targets in $BUILD with $JOBS jobs"
cmake --build "$BUILD" -j "$JOBS"

#!/usr/bin/env bash
# Builds llama.cpp's llama-perplexity from public source, beside the project
# (never part of it), for the GGUF export check. The source comes from the
# llama-cpp-python sdist on PyPI, which vendors llama.cpp (the registries are
# all these machines reach). Prints the binary's path on stdout.
#
#   tests/bench/build_llamacpp.sh [DIR]     (default ~/.cache/quantscope/llama.cpp)
#
# Env: QS_LLAMACPP_PY_VERSION (llama-cpp-python version, default 0.3.36),
# QS_JOBS (parallel jobs, default nproc).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-$HOME/.cache/quantscope/llama.cpp}"
version="${QS_LLAMACPP_PY_VERSION:-0.3.36}"
python="${QS_VENV:-$HOME/.cache/quantscope/venv}/bin/python"
bin="$dir/build/bin/llama-perplexity"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  if [ ! -d "$dir/src/llama_cpp_python-$version" ]; then
    "$python" -m pip download "llama-cpp-python==$version" --no-deps --no-binary llama-cpp-python -d "$dir" >&2
    mkdir -p "$dir/src"
    tar xzf "$dir/llama_cpp_python-$version.tar.gz" -C "$dir/src"
  fi
  src="$dir/src/llama_cpp_python-$version/vendor/llama.cpp"
  cmake -S "$src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >&2
  cmake --build "$dir/build" --target llama-perplexity -j "${QS_JOBS:-$(nproc)}" >&2
fi
echo "$bin"

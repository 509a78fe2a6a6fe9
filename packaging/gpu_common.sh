# Shared by the scripts that run on a lent GPU machine (sourced, not run):
# it has nvcc, CMake, ninja and PyTorch but no Qt or HDF5, and reaches nothing
# outside, so the demo model travels in parts (gpu_check.sh --prepare).
#   QS_GPU_BUILD  build directory (<repo>/build-gpu)
#   .gpu-deps/    nlohmann_json headers and CMake config, carried when the
#                 machine has none
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${QS_GPU_BUILD:-$root/build-gpu}"

# gpu_join MODEL: MODEL from MODEL.part-* when MODEL itself is absent.
gpu_join() {
  if [ ! -f "$1" ] && compgen -G "$1.part-*" >/dev/null; then
    cat "$1".part-* >"$1"
  fi
}

# gpu_build LOGDIR TARGET...: configures (CUDA on, GUI and HDF5 off) against
# the machine's libtorch and builds TARGETs; on failure prints the log's tail.
gpu_build() {
  local logs="$1"
  shift
  local prefix
  prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  [ -d "$root/.gpu-deps" ] && prefix="$prefix;$root/.gpu-deps"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQS_WITH_GUI=OFF -DQS_WITH_HDF5=OFF \
    -DQS_WITH_CUDA=ON -DCMAKE_PREFIX_PATH="$prefix" >"$logs/configure.log"
  cmake --build "$build" --target "$@" -j "$(nproc)" >"$logs/build.log" 2>&1 ||
    { tail -40 "$logs/build.log"; return 1; }
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem --format=csv >"$logs/gpu.txt" || true
}

#!/usr/bin/env bash
# The kernels issue's GPU checks in one call, for a GPU machine that has nvcc,
# CMake, ninja and PyTorch but no Qt or HDF5:
#   1. builds quantscope-cli and test_kernels against that machine's libtorch,
#   2. runs test_kernels (every CUDA kernel against its float64 reference),
#   3. times the packed kernels against FP16 cuBLAS on the acceptance shapes
#      (batch 1 at 4, 3 and 2 bits; batch 16 at 4 bits; group 128),
#   4. with a model and texts: quantizes it on the GPU at W4g128 (GPTQ with a
#      calibration text, RTN without) and measures WikiText-style perplexity
#      through the dequantized path and through the packed kernels, which must
#      agree within 0.1%.
#
#   packaging/gpu_check.sh [MODEL EVAL_TEXT [CALIB_TEXT]]
#
# Writes logs and the bench JSON under $OUT (or build-gpu/out). The GPU machine
# reaches nothing outside: `packaging/gpu_check.sh --prepare` (here) writes the
# demo model in two parts under 64 MiB and the texts into .gpu-data/; carry
# each part in its own call while the machine stays warm, and MODEL is joined
# from MODEL.part-* there when MODEL itself is absent. When the
# machine has no nlohmann_json, carry its headers and CMake config in
# .gpu-deps/ (include/nlohmann and share/cmake/nlohmann_json from this machine).
source "$(dirname "${BASH_SOURCE[0]}")/gpu_common.sh"
if [ "${1:-}" = "--prepare" ]; then
  source "$root/packaging/common.sh"
  data="$root/.gpu-data"
  mkdir -p "$data"
  split -b 48M "$QS_DEMO_MODEL" "$data/$(basename "$QS_DEMO_MODEL").part-"
  cp "$root/../shared/data/wikitext2-test.raw" "$root/../shared/data/tinyshakespeare.txt" "$data/"
  ls -l "$data"
  exit 0
fi
[ $# -ge 1 ] && gpu_join "$1"
out="${OUT:-$build/out}"
mkdir -p "$out"
gpu_build "$out" test_kernels quantscope-cli

echo "== test_kernels"
"$build/tests/kernels/test_kernels" | tee "$out/test_kernels.log"

cli="$build/app/quantscope-cli"
shapes=4096x4096,4096x11008,11008x4096,8192x28672
echo "== bench-kernels batch 1, W4/W3/W2 g128"
"$cli" bench-kernels --shapes "$shapes" --bits 4,3,2 --group 128 --batch 1 --device cuda --lut \
  2> "$out/bench_b1.txt" > "$out/bench_b1.json"
echo "== bench-kernels batch 16, W4 g128"
"$cli" bench-kernels --shapes "$shapes" --bits 4 --group 128 --batch 16 --device cuda \
  2> "$out/bench_b16.txt" > "$out/bench_b16.json"

if [ $# -ge 2 ]; then
  quantized="$build/quantized-w4g128"
  if [ $# -ge 3 ]; then method=(--method gptq --calib "$3"); else method=(--method rtn --calib "$2"); fi
  echo "== quantize ${method[1]} W4g128 on the GPU"
  "$cli" quantize "$1" "${method[@]}" --bits 4 --group 128 --out "$quantized" --device cuda \
    2> "$out/quantize.log" | tail -1 > "$out/quantize.json"
  for kernels in dense packed; do
    echo "== eval --kernels $kernels"
    "$cli" eval "$quantized" --text "$2" --protocol hf --ctx 2048 --device cuda --dtype fp16 --kernels "$kernels" \
      2> "$out/eval_$kernels.log" | tail -1 > "$out/eval_$kernels.json"
  done
  python3 - "$out/eval_dense.json" "$out/eval_packed.json" <<'PY'
import json, sys
dense, packed = (json.load(open(p))["ppl"] for p in sys.argv[1:3])
print(f"perplexity dense {dense:.4f} packed {packed:.4f} difference {100 * (packed / dense - 1):+.4f}%")
PY
fi
cat "$out/bench_b1.txt" "$out/bench_b16.txt" | grep -v "^  "

#!/usr/bin/env bash
# The method table's GPU wall times: each method of the CPU table at one grid
# (default W3g128), quantized and evaluated on CUDA with the CPU table's
# calibration (32 × 512 tokens of CALIB, seed 0) and protocol (HF, ctx 2048),
# one method at a time, on a lent GPU machine (packaging/gpu_common.sh builds
# quantscope-cli there).
#
#   tests/bench/gpu_table.sh MODEL CALIB EVAL [BITS:GROUP]
#
# MODEL is joined from MODEL.part-* when absent (packaging/gpu_check.sh
# --prepare splits the demo model here, with the texts, into .gpu-data/).
# Each method leaves its rundir under $OUT/table/ as tests/bench/quant_table.sh
# does, so a call cut short returns the methods it finished; the table last.
# Env: QS_GPU_METHODS (default: rtn gptq awq lwc lsi affinequant awq+rilq
# gptq+lqer), QS_GPU_DTYPE (fp32, as the CPU table), QS_EVAL (1; 0 times the
# quantization alone).
source "$(dirname "${BASH_SOURCE[0]}")/../../packaging/gpu_common.sh"
model="$1"; calib="$2"; text="$3"; grid="${4:-3:128}"
out="${OUT:-$build/out}"
mkdir -p "$out/table"
gpu_join "$model"
gpu_build "$out" quantscope-cli
export QS_CLI="$build/app/quantscope-cli"
dtype="${QS_GPU_DTYPE:-fp32}"
export QS_EVAL_ARGS="--device cuda --dtype $dtype"

# The compositions as the CPU table runs them (docs/benchmarks.md).
echo '{"default": {"then": {"method": "rilq", "params": {"lr": 0.001, "max_steps": 800, "eval_every": 10}}}}' \
  >"$out/rilq.json"
echo '{"default": {"method": "lqer", "params": {"base": "gptq"}}}' >"$out/lqer_gptq.json"

for m in ${QS_GPU_METHODS:-rtn gptq awq lwc lsi affinequant awq+rilq gptq+lqer}; do
  extra="" method="$m"
  case "$m" in
    awq+rilq) method=awq extra="--layers-config $out/rilq.json" ;;
    gptq+lqer) method=lqer extra="--layers-config $out/lqer_gptq.json" ;;
  esac
  echo "== $m W${grid/:/g}"
  QS_QUANT_ARGS="--device cuda --dtype $dtype $extra" \
    "$root/tests/bench/quant_table.sh" "$model" "$calib" "$text" "$out/table/$m" "$method:$grid" |
    tail -n +2 | sed "s/^/$m /" || echo "$m failed: its logs are in $out/table/$m"
done

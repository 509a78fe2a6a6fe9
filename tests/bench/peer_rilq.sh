#!/usr/bin/env bash
# RILQ's official code (aiha-lab/RILQ) beside QuantScope's RILQ, over the same
# quantized model and the same calibration rows, on a machine without a GPU.
#
#   tests/bench/peer_rilq.sh RILQ_SRC FPDIR CKPT RUNDIR
#
# RILQ_SRC: a checkout of aiha-lab/RILQ (not fetched here). FPDIR: the FP32 HF
# checkpoint of the model (the targets). CKPT: a QuantScope checkpoint of the
# model quantized without RILQ; its fake-quant export is the "fake quantized
# model" the official code takes, and its calibration_ids.safetensors the
# calibration rows. Ours over the same model and rows:
#   quantscope-cli refine CKPT --then '{"method":"rilq","params":{"lr":LR,"max_steps":STEPS,"eval_every":EVAL}}' \
#       --calib TEXT --out DIR     (with CKPT's --calib/--nsamples/--seqlen/--seed)
#
# Settings are ours with the official script's rank 64, alpha 16, batch 1,
# gradient accumulation 8, 20% held out and patience 5; LR (1e-3), STEPS (320
# training sequences) and EVAL (10 optimizer steps) from the environment.
# peer_rilq.patch (kept in RUNDIR/cpu.patch) changes nothing of the method: the
# models load on the CPU in float32 when there is no CUDA, any directory name
# gets the seven Llama linears (the code knows four model names), and
# --calib_ids takes the rows from CKPT, holding out the first 20% in file
# order as ours does (the official loader holds out the last and shuffles).
# The best adapters are merged into the fake-quant weights
# (peer_rilq_merge.py) and the result evaluated by `quantscope-cli eval` with
# the HF protocol on QS_EVAL_TEXT (QS_EVAL_LIMIT windows, 0: all).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$1"; fpdir="$2"; ckpt="$3"; rundir="$4"
cli="${QS_CLI:-$here/../../build/app/quantscope-cli}"
qs_venv="${QS_VENV:-$HOME/.cache/quantscope/venv}"
rilq_venv="${QS_RILQ_VENV:-$HOME/.cache/quantscope/rilq-venv}"
text="${QS_EVAL_TEXT:?set QS_EVAL_TEXT to the evaluation text}"
mkdir -p "$rundir"
rundir="$(cd "$rundir" && pwd)"

# transformers 4.44 (not the pinned 4.40): 4.40 has no mlp_bias, and would drop
# the gate/up biases AffineQuant's shifts leave. torch comes from the project venv.
if ! "$rilq_venv/bin/python" -c "import torch, transformers, peft, accelerate, datasets
assert (transformers.__version__, peft.__version__, accelerate.__version__) == ('4.44.2', '0.11.0', '0.30.1')" 2>/dev/null; then
  python3 -m venv "$rilq_venv"
  site="$("$rilq_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  "$qs_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/quantscope-torch.pth"
  "$rilq_venv/bin/pip" install -q transformers==4.44.2 peft==0.11.0 accelerate==0.30.1 datasets==2.16.1
fi

rm -rf "$rundir/src" && cp -r "$src" "$rundir/src"
patch -s -p1 -d "$rundir/src" <"$here/peer_rilq.patch"
cp "$here/peer_rilq.patch" "$rundir/cpu.patch"
[ -s "$rundir/q-model/config.json" ] ||
  "$cli" export "$ckpt" --format fake-quant --dtype float32 --out "$rundir/q-model" >"$rundir/export.json"

rm -rf "$rundir/rilq-out" "$rundir/merged"
# main.py's last step writes the q_model again under FPDIR's config and fails
# when the q_model has biases the FP model has not (AffineQuant's shifts);
# the best adapters are saved before it, and they are all this uses.
status=0
(
  cd "$rundir/src"
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 CUDA_VISIBLE_DEVICES="" \
    /usr/bin/time -v "$rilq_venv/bin/python" main.py --base_model "$fpdir" --q_model "$rundir/q-model" \
    --lora_r 64 --lora_alpha 16 --lora_dropout 0.0 --calib_datasets c4 \
    --calib_ids "$ckpt/calibration_ids.safetensors" --calib_num_samples 1000000 --calib_val_ratio 0.2 \
    --a_type hid --a_dis_weight 0.5 --gt_weight 0.5 --approx_batch_size 1 --approx_lr "${LR:-1e-3}" \
    --approx_total_steps "${STEPS:-320}" --gradient_accumulation_steps 8 --approx_eval_steps "${EVAL:-10}" \
    --approx_early_stop --approx_es_patience 5 --m_seed 42 --output_dir "$rundir/rilq-out"
) >"$rundir/rilq.log" 2>&1 || status=$?
adapters="$rundir/rilq-out/approx_init/adapter_model.safetensors"
[ -s "$adapters" ] || { echo "peer_rilq.sh: main.py exited with $status and saved no adapters (see $rundir/rilq.log)" >&2; exit 1; }
"$rilq_venv/bin/python" "$here/peer_rilq_merge.py" "$rundir/rilq-out" "$rundir/q-model" "$rundir/merged"
rm -f "$rundir/rilq-out/model.safetensors"  # main.py's second copy of the q_model weights
"$cli" eval "$rundir/merged" --text "$text" --protocol hf --ctx 2048 --limit-chunks "${QS_EVAL_LIMIT:-0}" \
  >"$rundir/eval.json" 2>"$rundir/eval.log"
grep -E "Validation loss|Save Best|Elapsed \(wall|Maximum resident" "$rundir/rilq.log"
tail -n 1 "$rundir/eval.json"

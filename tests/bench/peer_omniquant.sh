#!/usr/bin/env bash
# OmniQuant's official code (OpenGVLab/OmniQuant, LWC) beside QuantScope's LWC
# on the same FP32 weights, the same calibration rows and the same evaluation,
# on a machine without a GPU.
#
#   tests/bench/peer_omniquant.sh OMNIQUANT_SRC FPDIR CKPT RUNDIR BITS GROUP [EPOCHS]
#
# OMNIQUANT_SRC: a checkout of OpenGVLab/OmniQuant (not fetched here). FPDIR:
# the FP32 HF checkpoint of the model (`peer_llmcompressor.py fp-checkpoint`,
# whose config.json also carries the transformers-4 keys). CKPT: a QuantScope
# checkpoint of the same model quantized with the calibration to reuse; its
# calibration_ids.safetensors become OmniQuant's cached calibration set and its
# tokenizer files go into OmniQuant's output, so `quantscope-cli eval` reads the
# same tokens for both. EPOCHS defaults to 20 (the official W3/W4 scripts).
#
# The official code targets CUDA and fp16 with transformers 4.3x. To run it on
# CPU in float32 this copies it to RUNDIR/src and changes seven lines, each
# checked to apply (the list is printed and kept in RUNDIR/cpu.patch):
#  - the model loads in float32 instead of float16, and `--deactive_amp` keeps
#    training in float32 without autocast;
#  - the calibration length comes from OMNI_SEQLEN (main.py fixes 2048);
#  - the layer is not cast to fp16 after training;
#  - QuantLinear stores the weight as a plain tensor (on CUDA the fp16→fp32
#    cast does this; in float32 it stays a Parameter and training fails);
#  - the quantizer's assert that a ragged last group (e.g. 576 columns at group
#    128) is quantized symmetrically is dropped: it pads the group with zeros,
#    which leaves an asymmetric min/max unchanged whenever the group has values
#    of both signs (the script reports the rows where that fails);
#  - weights sliced by that padding are made contiguous before saving.
# The transformers 4.36 it needs lives in its own venv, which reads torch from
# the project venv (QS_VENV) so no second torch is installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/peer_omniquant_lib.sh"
src="$1"; fpdir="$2"; ckpt="$3"; rundir="$4"; bits="$5"; group="$6"; epochs="${7:-20}"
cli="${QS_CLI:-$here/../../build/app/quantscope-cli}"
qs_venv="${QS_VENV:-$HOME/.cache/quantscope/venv}"
omni_venv="${QS_OMNI_VENV:-$HOME/.cache/quantscope/omniquant-venv}"
mkdir -p "$rundir"
rundir="$(cd "$rundir" && pwd)"

omni_venv "$qs_venv" "$omni_venv"

rm -rf "$rundir/src" && cp -r "$src" "$rundir/src"
s="$rundir/src"
omni_cpu_edits "$s" quantize/omniquant.py
omni_edit "$s" main.py "        lm.model.save_pretrained(args.save_dir)  " \
  "        [m._buffers.update({k: b.contiguous() for k, b in m._buffers.items() if b is not None}) for m in lm.model.modules()]; lm.model.save_pretrained(args.save_dir)"
omni_edit "$s" quantize/omniquant.py "        qlayer.half() " "        pass"
(cd "$rundir" && { diff -ru "$src" src >cpu.patch || true; })

read -r n seqlen <<<"$(omni_calibration "$qs_venv" "$ckpt" "$rundir/cache")"
echo "peer_omniquant: $(omni_ragged_rows "$qs_venv" "$fpdir" "$group")" >&2

name="omniquant-lwc-w${bits}g${group}"
model="$rundir/llama-fp"  # OmniQuant picks the architecture from the directory name
ln -sfn "$(cd "$fpdir" && pwd)" "$model"
(cd "$rundir/src" && OMNI_SEQLEN="$seqlen" /usr/bin/time -v "$omni_venv/bin/python" main.py --model "$model" \
  --epochs "$epochs" --output_dir "$rundir/$name.log.d" --cache_dir "$rundir/cache" --nsamples "$n" \
  --wbits "$bits" --abits 16 --group_size "$group" --lwc --deactive_amp --save_dir "$rundir/$name") \
  >"$rundir/$name.quantize.log" 2>&1
cp "$ckpt"/tokenizer.json "$ckpt"/tokenizer_config.json "$rundir/$name/"
"$cli" eval "$rundir/$name" --text "${QS_EVAL_TEXT:?set QS_EVAL_TEXT to the evaluation text}" --protocol hf \
  --ctx "${QS_EVAL_CTX:-2048}" --limit-chunks "${QS_EVAL_LIMIT:-0}" >"$rundir/$name.eval.json" 2>"$rundir/$name.eval.log"
tail -1 "$rundir/$name.eval.json"

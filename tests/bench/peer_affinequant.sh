#!/usr/bin/env bash
# AffineQuant's official code (bytedance/AffineQuant) beside QuantScope's
# AffineQuant on the same FP32 weights, the same calibration rows and the same
# evaluation tokens, on a machine without a GPU.
#
#   tests/bench/peer_affinequant.sh AFFINEQUANT_SRC FPDIR CKPT RUNDIR BITS GROUP [EPOCHS]
#
# AFFINEQUANT_SRC: a checkout of bytedance/AffineQuant (not fetched here).
# FPDIR: the FP32 HF checkpoint of the model. CKPT: a QuantScope checkpoint of
# the same model quantized with the calibration to reuse (its
# calibration_ids.safetensors and tokenizer.json). Settings are the official
# LLaMA scripts': --lwc --let --use_ln_matrix --sf 1e-2, 20 epochs at W3/W4,
# 40 with --aug_loss at W2. BITS 16 evaluates the FP model through the same
# code, the check that both evaluations agree.
#
# AffineQuant keeps the inverse of each norm's learned matrix as a buffer of
# the norm, which no HF loader reads, so the model is evaluated by the official
# code itself (main.py --eval_ppl: windows of 2048, the mean over windows of
# each window's mean next-token loss — QuantScope's HF protocol) on the token
# ids QuantScope reads from QS_EVAL_TEXT with CKPT's tokenizer.json, written
# as its cached test set. QS_EVAL_LIMIT=K evaluates the first K windows; the
# last line then gives their mean loss, which `quantscope-cli eval
# --protocol hf --limit-chunks K` prints as mean_nll.
#
# To run on CPU in float32 this copies the code to RUNDIR/src and changes it,
# each change checked to apply (kept in RUNDIR/cpu.patch): the model loads in
# float32 and `--deactive_amp` trains without autocast; attention is the eager
# one, whose explicit causal mask the code of its era expects (transformers
# 4.36's SDPA passes none); the calibration length
# comes from OMNI_SEQLEN and the evaluation length goes back to 2048 after
# quantization; the trained model is not cast to fp16 before evaluation; every
# `.cuda()` of the masks and clipping factors is dropped; QuantLinear keeps the
# weight as a plain tensor; the ragged-last-group symmetric assert is dropped
# (see peer_omniquant.sh); the logger's CUDA memory query and the auto_gptq
# import (only for --real_quant) go; only WikiText-2 is evaluated, from the
# cached token tensor.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/peer_omniquant_lib.sh"
src="$1"; fpdir="$2"; ckpt="$3"; rundir="$4"; bits="$5"; group="$6"
if [ "$bits" = 2 ]; then epochs="${7:-40}"; aug=(--aug_loss); else epochs="${7:-20}"; aug=(); fi
qs_venv="${QS_VENV:-$HOME/.cache/quantscope/venv}"
omni_venv="${QS_OMNI_VENV:-$HOME/.cache/quantscope/omniquant-venv}"
text="${QS_EVAL_TEXT:?set QS_EVAL_TEXT to the evaluation text}"
limit="${QS_EVAL_LIMIT:-0}"
mkdir -p "$rundir"
rundir="$(cd "$rundir" && pwd)"
omni_venv "$qs_venv" "$omni_venv"

rm -rf "$rundir/src" && cp -r "$src" "$rundir/src"
s="$rundir/src"
omni_cpu_edits "$s" quantize/affinequant.py
omni_edit "$s" models/LMClass.py "        config = AutoConfig.from_pretrained(args.model)" \
  "        config = AutoConfig.from_pretrained(args.model); config._attn_implementation = 'eager'"
omni_edit "$s" main.py "        logger.info(time.time() - tick)" "        logger.info(time.time() - tick); lm.seqlen = 2048"
omni_edit "$s" main.py "        for dataset in [\"wikitext2\", \"ptb\", \"c4\",\"ptb-new\",'c4-new']:" \
  "        for dataset in [\"wikitext2\"]:"
omni_edit "$s" main.py "                testenc = testloader.input_ids" "                testenc = testloader"
omni_edit "$s" quantize/affinequant.py "import auto_gptq.nn_modules.qlinear.qlinear_cuda as qlinear_cuda" ""
omni_edit "$s" quantize/affinequant.py "    return model.half()" "    return model"
# The official code assumes as many KV heads as query heads (LLaMA-1/2 7B-30B);
# SmolLM2 has 3 KV heads for 9 query heads. Extended as QuantScope does: the
# v→o matrix is one d×d block per KV head, serving each query head of its
# group in o_proj, initialised from o_proj's channels reduced over the group;
# the learned q/k channel scale is one per KV-head channel, repeated for q.
omni_edit "$s" models/transformation.py "import torch" "import torch

def gqa_expand_shift(s, n, d):
    return s.view(-1, 1, d).expand(-1, n // s.numel(), d).reshape(-1)

def gqa_expand(m, n, d):
    return torch.block_diag(*[m[g*d:(g+1)*d, g*d:(g+1)*d] for g in range(m.shape[0] // d) for _ in range(n // m.shape[0])])"
omni_edit "$s" models/transformation.py "        fc2.temp_bias = fc2.weight@shifts" \
  "        fc2.temp_bias = fc2.weight@gqa_expand_shift(shifts, fc2.weight.shape[1], fc2.weight.shape[1] // num_heads)"
omni_edit "$s" models/transformation.py "    fc2.temp_weight = fc2.weight.matmul((scales.mul(mask)).t())" \
  "    fc2.temp_weight = fc2.weight.matmul(gqa_expand(scales.mul(mask), fc2.weight.shape[1], fc2.weight.shape[1] // num_heads).t())"
omni_edit "$s" models/transformation.py "        fc2.register_buffer('bias',fc2.weight@shifts)" \
  "        fc2.register_buffer('bias',fc2.weight@gqa_expand_shift(shifts, fc2.weight.shape[1], fc2.weight.shape[1] // num_heads))"
omni_edit "$s" models/transformation.py "    fc2.weight = fc2.weight.matmul((scales.mul(maskfc)).t())" \
  "    fc2.weight = fc2.weight.matmul(gqa_expand(scales.mul(maskfc), fc2.weight.shape[1], fc2.weight.shape[1] // num_heads).t())"
omni_edit "$s" models/transformation.py "        q_proj.temp_weight = q_proj.temp_weight/scales.view(-1,1)" \
  "        q_proj.temp_weight = q_proj.temp_weight/gqa_expand_shift(scales, q_proj.temp_weight.shape[0], q_proj.head_dim).view(-1,1)"
omni_edit "$s" models/transformation.py "        q_proj.temp_bias = q_proj.temp_bias/scales.view(-1)" \
  "        q_proj.temp_bias = q_proj.temp_bias/gqa_expand_shift(scales, q_proj.temp_weight.shape[0], q_proj.head_dim)"
omni_edit "$s" models/transformation.py "        q_proj.weight.div_(scales.view(-1,1))" \
  "        q_proj.weight.div_(gqa_expand_shift(scales, q_proj.weight.shape[0], q_proj.head_dim).view(-1,1))"
omni_edit "$s" models/transformation.py "        q_proj.bias.div_(scales.view(-1))" \
  "        q_proj.bias.div_(gqa_expand_shift(scales, q_proj.weight.shape[0], q_proj.head_dim))"
for call in "            smooth_q_k_temporary(self.self_attn.q_proj, self.self_attn.k_proj, maskfc," \
  "            smooth_q_k_inplace(self.self_attn.q_proj, self.self_attn.k_proj,maskfc,"; do
  omni_edit "$s" models/int_llama_layer.py "$call" "            self.self_attn.q_proj.head_dim = self.self_attn.head_dim; ${call#            }"
done
omni_edit "$s" quantize/affinequant.py \
  '                qlayer.register_parameter("qkt_smooth_scale",torch.nn.Parameter(torch.ones(layer.self_attn.q_proj.out_features,device=dev, dtype=dtype)))' \
  '                qlayer.register_parameter("qkt_smooth_scale",torch.nn.Parameter(torch.ones(layer.self_attn.k_proj.out_features,device=dev, dtype=dtype)))'
omni_edit "$s" quantize/affinequant.py "                            weight = module.weight.max(dim=0)[0].clamp(min=1e-5)" \
  "                            weight = module.weight.max(dim=0)[0].clamp(min=1e-5)
                            if key == 'o_proj': act, weight = (t.view(lm.model.config.num_key_value_heads, -1, qlayer.self_attn.head_dim).amax(1).reshape(-1) for t in (act, weight))"
omni_edit "$s" quantize/affinequant.py \
  "                    maskfc = torch.zeros([qlayer.self_attn.o_proj.weight.data.size(0), qlayer.self_attn.o_proj.weight.data.size(1)]).cuda()" \
  "                    maskfc = torch.zeros([qlayer.self_attn.v_proj.weight.data.size(0)] * 2).cuda()"
omni_edit "$s" quantize/affinequant.py "                for i1 in range(lm.model.config.num_attention_heads):" \
  "                for i1 in range(lm.model.config.num_key_value_heads):"
cuda_calls="$(cat "$s/quantize/affinequant.py" "$s/quantize/quantizer.py" | grep -o '\.cuda()' | wc -l)"
[ "$cuda_calls" = 18 ] || { echo "peer_affinequant: expected 18 .cuda() calls in quantize/, found $cuda_calls" >&2; exit 1; }
sed -i 's/\.cuda()//g' "$s/quantize/affinequant.py" "$s/quantize/quantizer.py"
(cd "$rundir" && { diff -ru "$src" src >cpu.patch || true; })

read -r n seqlen <<<"$(omni_calibration "$qs_venv" "$ckpt" "$rundir/cache")"
echo "peer_affinequant: $(omni_ragged_rows "$qs_venv" "$fpdir" "$group")" >&2

model="$rundir/llama-fp"  # the architecture is picked from the directory name
ln -sfn "$(cd "$fpdir" && pwd)" "$model"
# The official act scales and shifts (their generate_act_scale_shift.py
# functions) over the same calibration rows, and the evaluation tokens.
(cd "$s" && "$omni_venv/bin/python" - "$model" "$rundir/cache" "$n" "$ckpt/tokenizer.json" "$text" <<'PY'
import sys, torch
from transformers import AutoModelForCausalLM
from tokenizers import Tokenizer
import generate_act_scale_shift as g
model_dir, cache, n, tokenizer, text = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
raw = open(text, encoding="utf-8", newline="").read()
rows, pos = [], 0  # the HF rows joined with "\n\n", as quantscope-cli's HF protocol (text_file.h)
while pos < len(raw):
    end = raw.find("\n", pos)
    newline = end != -1
    end = end if newline else len(raw)
    row = raw[pos:end].removesuffix("\r")
    rows.append(row + ("\n" if newline else "") if row.strip(" \t\r\f\v") else "")
    pos = end + 1
ids = Tokenizer.from_file(tokenizer).encode("\n\n".join(rows), add_special_tokens=False).ids
torch.save(torch.tensor([ids], dtype=torch.int64), f"{cache}/testloader_llama_wikitext2_all.cache")
print(f"peer_affinequant: {len(ids)} evaluation tokens", file=sys.stderr)
model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
rows = torch.load(f"{cache}/dataloader_llama_wikitext2_{n}.cache")
with torch.no_grad():
    torch.save(g.get_act_scales(model, rows, n), f"{cache}/act_scales.pt")
    torch.save(g.get_act_shifts(model, rows, n), f"{cache}/act_shifts.pt")
PY
)

name="affinequant-w${bits}g${group}"
if [ "$bits" = 16 ]; then
  quant=(--epochs 0 --wbits 16 --abits 16); seqlen=2048; name=fp
else
  quant=(--epochs "$epochs" --wbits "$bits" --abits 16 --group_size "$group" --lwc --let --use_ln_matrix --sf 1e-2
    --deactive_amp "${aug[@]}" --act-scales "$rundir/cache/act_scales.pt" --act-shifts "$rundir/cache/act_shifts.pt")
fi
(cd "$s" && OMNI_SEQLEN="$seqlen" /usr/bin/time -v "$omni_venv/bin/python" main.py --model "$model" \
  --output_dir "$rundir/$name.log.d" --cache_dir "$rundir/cache" --nsamples "$n" --eval_ppl \
  --limit "$((limit - 1))" "${quant[@]}") >"$rundir/$name.log" 2>&1
# The official perplexity divides by every window even when --limit stops early.
"$qs_venv/bin/python" - "$rundir/$name.log" "$rundir/cache/testloader_llama_wikitext2_all.cache" "$limit" <<'PY'
import math, re, sys, torch
ppl = float(re.findall(r"wikitext2 : ([0-9.eE+-]+)", open(sys.argv[1]).read())[-1])
windows = torch.load(sys.argv[2]).numel() // 2048
k = int(sys.argv[3]) or windows
print(f'{{"ppl": {ppl if k == windows else math.exp(math.log(ppl) * windows / k)}, '
      f'"mean_nll": {math.log(ppl) * windows / k}, "windows": {k}}}')
PY

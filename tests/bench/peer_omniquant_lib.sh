# shellcheck shell=bash
# Shared by the scripts that run OmniQuant-family official code (OmniQuant,
# AffineQuant) on a machine without a GPU; sourced, not run. Each function
# stops the calling script on failure (the callers use `set -euo pipefail`).

# omni_venv QS_VENV OMNI_VENV: the venv with the transformers 4.36 these
# codebases target; it reads torch from the project venv through a .pth, so no
# second torch is installed.
omni_venv() {
  local qs_venv="$1" omni_venv="$2" site
  if "$omni_venv/bin/python" -c "import transformers, datasets, torch; assert transformers.__version__ == '4.36.2'" 2>/dev/null; then
    return
  fi
  python3 -m venv "$omni_venv"
  site="$("$omni_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  "$qs_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/quantscope-torch.pth"
  "$omni_venv/bin/pip" install -q transformers==4.36.2 tokenizers==0.15.2 huggingface_hub==0.24.7 \
    datasets==2.16.1 "fsspec<=2023.10.0" sacrebleu==1.5.0 einops jsonlines numexpr omegaconf pycountry \
    pytablewriter rouge-score scikit-learn sqlitedict tqdm-multiprocess zstandard texttable toml attributedict protobuf
  "$omni_venv/bin/pip" install -q --no-deps accelerate==0.25.0
}

# omni_edit ROOT FILE OLD NEW: replace the one line OLD of ROOT/FILE by NEW, or
# stop naming the file and the line.
omni_edit() {
  local f="$1/$2"
  [ "$(grep -cxF -- "$3" "$f")" = 1 ] || { echo "$(basename "$0"): $2: expected line not found: $3" >&2; exit 1; }
  OLD="$3" NEW="$4" python3 - "$f" <<'PY'
import os, sys
p = sys.argv[1]
lines = open(p).read().split("\n")
lines = [os.environ["NEW"] if l == os.environ["OLD"] else l for l in lines]
open(p, "w").write("\n".join(lines))
PY
}

# omni_cpu_edits SRC QUANTIZE_PY: the edits both codebases need to train on
# the CPU in float32: the model loads in float32 (`--deactive_amp` then trains
# without autocast); the calibration length comes from OMNI_SEQLEN (main.py
# fixes 2048); the per-epoch log line of QUANTIZE_PY loses its CUDA memory
# query; QuantLinear keeps the weight as a plain tensor (on CUDA the fp16→fp32
# cast does that; in float32 it stays a Parameter and the first step fails);
# and the quantizer's assert that a ragged last group (576 columns at group
# 128) be symmetric goes: it pads the group with zeros, which leaves an
# asymmetric min/max unchanged whenever the group has values of both signs
# (omni_ragged_rows counts the rows where that fails).
omni_cpu_edits() {
  omni_edit "$1" models/LMClass.py \
    "        self.model = AutoModelForCausalLM.from_pretrained(args.model, config=config, device_map='cpu',torch_dtype=torch.float16)" \
    "        self.model = AutoModelForCausalLM.from_pretrained(args.model, config=config, device_map='cpu',torch_dtype=torch.float32)"
  omni_edit "$1" main.py "    lm.seqlen = 2048" "    lm.seqlen = int(os.environ['OMNI_SEQLEN'])"
  omni_edit "$1" "$2" \
    '                logger.info(f"layer {i} iter {epochs} loss:{loss_mean} norm:{norm_mean} max memory_allocated {torch.cuda.max_memory_allocated(lm._device) / 1024**2} ")' \
    '                logger.info(f"layer {i} iter {epochs} loss:{loss_mean} norm:{norm_mean}")'
  omni_edit "$1" quantize/int_linear.py "        self.register_buffer('weight',org_module.weight)" \
    "        self.register_buffer('weight',org_module.weight.data)"
  omni_edit "$1" quantize/quantizer.py "                    assert self.symmetric   # support for mlc-llm symmetric quantization" \
    "                    pass"
}

# omni_calibration QS_VENV CKPT CACHE_DIR: writes CKPT's calibration rows as the
# cached calibration set these codebases read before sampling their own, and
# prints "ROWS SEQLEN".
omni_calibration() {
  "$1/bin/python" - "$2/calibration_ids.safetensors" "$3" <<'PY'
import os, sys, torch
from safetensors.torch import load_file
ids = load_file(sys.argv[1])["input_ids"].to(torch.int64)
os.makedirs(sys.argv[2], exist_ok=True)
rows = []
for row in ids:
    tar = row.unsqueeze(0).clone()
    tar[:, :-1] = -100
    rows.append((row.unsqueeze(0).clone(), tar))
torch.save(rows, f"{sys.argv[2]}/dataloader_llama_wikitext2_{ids.shape[0]}.cache")
print(ids.shape[0], ids.shape[1])
PY
}

# omni_ragged_rows QS_VENV FPDIR GROUP: prints how many rows have a ragged last
# group and how many of those the official quantizer's zero padding changes
# (one sign: the padding widens the range to take in 0).
omni_ragged_rows() {
  "$1/bin/python" - "$2/model.safetensors" "$3" <<'PY'
import sys
from safetensors.torch import load_file
g = int(sys.argv[2])
one_sign = rows = 0
for name, w in load_file(sys.argv[1]).items():
    if w.dim() == 2 and "embed" not in name and w.shape[1] % g:
        last = w[:, w.shape[1] // g * g:]
        rows += w.shape[0]
        one_sign += int(((last.amin(1) > 0) | (last.amax(1) < 0)).sum())
print(f"{rows} rows with a ragged last group, {one_sign} of one sign (zero padding moves their range)")
PY
}

#!/usr/bin/env python
"""Merge the official RILQ adapters into the fake-quantized model's dense weights.

usage: peer_rilq_merge.py RILQ_OUT Q_MODEL_DIR DEST_DIR

RILQ_OUT     the official main.py --output_dir. main.py loads the best adapters (lowest validation loss)
             back into the model before `model.save_pretrained(RILQ_OUT/approx_init)`, so
             approx_init/adapter_model.safetensors holds the best adapters (keys
             base_model.model.<module>.lora_A.weight [r, in] / .lora_B.weight [out, r]) and
             approx_init/adapter_config.json holds r and lora_alpha.
Q_MODEL_DIR  the HF directory RILQ ran over (--q_model): config.json + *.safetensors + tokenizer files.
DEST_DIR     written: every top-level file of Q_MODEL_DIR copied, the *.safetensors rewritten with
             W <- W + (lora_alpha / r) * B @ A (computed in float64, stored in W's dtype, float32 here)
             for each adapted linear; every other tensor and key is unchanged (lm_head stays tied).
             `quantscope-cli eval DEST_DIR --protocol hf ...` reads it.
"""
import json
import math
import os
import shutil
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    rilq_out, q_dir, dest = sys.argv[1:]
    ad_dir = os.path.join(rilq_out, "approx_init")
    with open(os.path.join(ad_dir, "adapter_config.json")) as f:
        cfg = json.load(f)
    r, alpha = cfg["r"], cfg["lora_alpha"]
    if cfg.get("rank_pattern") or cfg.get("alpha_pattern"):
        raise SystemExit("peer_rilq_merge.py: rank_pattern/alpha_pattern not supported")
    if cfg.get("use_dora"):
        raise SystemExit("peer_rilq_merge.py: DoRA not supported")
    scaling = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
    ad = load_file(os.path.join(ad_dir, "adapter_model.safetensors"))

    # base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight -> model.layers.0.self_attn.q_proj.weight
    pairs = {}
    for k, v in ad.items():
        assert k.startswith("base_model.model."), k
        mod, kind = k[len("base_model.model."):].rsplit(".lora_", 1)
        assert kind in ("A.weight", "B.weight"), k
        pairs.setdefault(mod + ".weight", {})[kind[0]] = v
    for name, p in pairs.items():
        assert set(p) == {"A", "B"}, name

    if os.path.exists(dest):
        raise SystemExit(f"peer_rilq_merge.py: {dest} exists")
    os.makedirs(dest)
    files = sorted(os.listdir(q_dir))
    st_files = [x for x in files if x.endswith(".safetensors")]
    if not st_files:
        raise SystemExit(f"peer_rilq_merge.py: no *.safetensors in {q_dir}")
    for x in files:
        src = os.path.join(q_dir, x)
        if os.path.isfile(src) and not x.endswith(".safetensors"):
            shutil.copy2(src, os.path.join(dest, x))

    done, max_delta = 0, 0.0
    for x in st_files:
        src = os.path.join(q_dir, x)
        with safe_open(src, framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(src)
        for name in list(tensors):
            if name not in pairs:
                continue
            w = tensors[name]
            p = pairs.pop(name)
            a, b = p["A"], p["B"]
            assert a.shape == (r, w.shape[1]) and b.shape == (w.shape[0], r), (name, a.shape, b.shape, w.shape)
            delta = scaling * (b.double() @ a.double())
            tensors[name] = (w.double() + delta).to(w.dtype).contiguous()
            max_delta = max(max_delta, delta.abs().max().item())
            done += 1
        meta.setdefault("format", "pt")
        save_file(tensors, os.path.join(dest, x), metadata=meta)
    if pairs:
        raise SystemExit(f"peer_rilq_merge.py: {len(pairs)} adapters match no weight of {q_dir}, e.g. {next(iter(pairs))}")
    print(f"merged {done} adapters (r={r}, alpha={alpha}, scaling={scaling:g}, max |delta W|={max_delta:.3e}) "
          f"from {ad_dir} into {q_dir} -> {dest}")


if __name__ == "__main__":
    main()

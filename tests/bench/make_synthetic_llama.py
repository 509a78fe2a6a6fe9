#!/usr/bin/env python3
"""Writes a random-weight Llama (or Qwen3-MoE) checkpoint of real shapes, for scale work.

    make_synthetic_llama.py SHAPES OUT_DIR --tokenizer DEMO.gguf [--seed N]
                            [--layers N] [--shard-gb G]

SHAPES is one of the presets below. OUT_DIR gets what Hugging Face writes:
config.json, bf16 safetensors shards of at most --shard-gb GB with
model.safetensors.index.json, and the tokenizer: the GGUF given (the demo
model) copied as tokenizer.gguf, which QuantScope reads for its tokenizer.* metadata.
The demo vocabulary (49,152 tokens) fits inside every preset's, so text
tokenizes to valid ids. Weights are N(0, 0.02²) and norms are 1, so activations
stay in range through every layer. Never commit the output: an 8B model is 16 GB.

Needs torch (the project's venv: ~/.cache/quantscope/venv/bin/python).
"""

import argparse
import ctypes
import json
import os
import shutil
import struct
import sys

import torch

PRESETS = {
    # meta-llama/Meta-Llama-3-8B
    "llama3-8b": dict(hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8, vocab=128256, tied=False),
    # meta-llama/Llama-3.2-1B
    "llama3.2-1b": dict(hidden=2048, intermediate=8192, layers=16, heads=32, kv_heads=8, vocab=128256, tied=True),
    # meta-llama/Llama-3.3-70B's block shapes, 4 of its 80 layers
    "llama3-70b-slice": dict(hidden=8192, intermediate=28672, layers=4, heads=64, kv_heads=8, vocab=128256,
                             tied=False),
    # Qwen/Qwen3-30B-A3B: 128 experts of width 768, top 8, in each of 48 layers
    "qwen3-30b-a3b": dict(hidden=2048, intermediate=6144, layers=48, heads=32, kv_heads=4, head_dim=128,
                          vocab=151936, tied=False, experts=128, top_k=8, expert_intermediate=768),
}


def tensor_shapes(p):
    h, i = p["hidden"], p["intermediate"]
    d = p.get("head_dim", h // p["heads"])
    q, kv = p["heads"] * d, p["kv_heads"] * d
    moe = "experts" in p
    yield "model.embed_tokens.weight", [p["vocab"], h]
    for l in range(p["layers"]):
        pre = f"model.layers.{l}."
        yield pre + "input_layernorm.weight", [h]
        yield pre + "self_attn.q_proj.weight", [q, h]
        yield pre + "self_attn.k_proj.weight", [kv, h]
        yield pre + "self_attn.v_proj.weight", [kv, h]
        yield pre + "self_attn.o_proj.weight", [h, q]
        yield pre + "post_attention_layernorm.weight", [h]
        if moe:  # Qwen3-MoE: per-head q/k norms, a router and the experts
            yield pre + "self_attn.q_norm.weight", [d]
            yield pre + "self_attn.k_norm.weight", [d]
            yield pre + "mlp.gate.weight", [p["experts"], h]
            m = p["expert_intermediate"]
            for e in range(p["experts"]):
                yield pre + f"mlp.experts.{e}.gate_proj.weight", [m, h]
                yield pre + f"mlp.experts.{e}.up_proj.weight", [m, h]
                yield pre + f"mlp.experts.{e}.down_proj.weight", [h, m]
            continue
        yield pre + "mlp.gate_proj.weight", [i, h]
        yield pre + "mlp.up_proj.weight", [i, h]
        yield pre + "mlp.down_proj.weight", [h, i]
    yield "model.norm.weight", [h]
    if not p["tied"]:
        yield "lm_head.weight", [p["vocab"], h]


def write_shard(path, tensors, gen):
    """One safetensors file; tensors are generated as they are written."""
    header, offset = {}, 0
    for name, shape in tensors:
        n = 2 * int(torch.Size(shape).numel())
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # tensors start 8-byte aligned, as the safetensors library writes them
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape in tensors:
            if name.endswith("norm.weight"):
                t = torch.ones(shape, dtype=torch.bfloat16)
            else:
                t = torch.empty(shape, dtype=torch.float32).normal_(0.0, 0.02, generator=gen).to(torch.bfloat16)
            t = t.contiguous()  # torch without numpy: write the storage through ctypes
            f.write((ctypes.c_char * (2 * t.numel())).from_address(t.data_ptr()))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shapes", choices=sorted(PRESETS))
    ap.add_argument("out")
    ap.add_argument("--tokenizer", required=True, help="a GGUF whose tokenizer the model takes (the demo model)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, help="override the preset's layer count")
    ap.add_argument("--shard-gb", type=float, default=5.0)
    a = ap.parse_args()
    p = dict(PRESETS[a.shapes])
    if a.layers:
        p["layers"] = a.layers
    if os.path.exists(a.out) and os.listdir(a.out):
        sys.exit(f"{a.out}: exists and is not empty; give a new directory")
    os.makedirs(a.out, exist_ok=True)

    shards, current, size = [], [], 0
    limit = int(a.shard_gb * 1e9)
    for name, shape in tensor_shapes(p):
        n = 2 * int(torch.Size(shape).numel())
        if current and size + n > limit:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += n
    shards.append(current)

    gen = torch.Generator().manual_seed(a.seed)
    weight_map, total = {}, 0
    for k, tensors in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        write_shard(os.path.join(a.out, fname), tensors, gen)
        for name, shape in tensors:
            weight_map[name] = fname
            total += 2 * int(torch.Size(shape).numel())
        print(f"{fname}: {len(tensors)} tensors", file=sys.stderr)
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": p["hidden"],
        "intermediate_size": p["intermediate"],
        "num_hidden_layers": p["layers"],
        "num_attention_heads": p["heads"],
        "num_key_value_heads": p["kv_heads"],
        "head_dim": p.get("head_dim", p["hidden"] // p["heads"]),
        "vocab_size": p["vocab"],
        "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "tie_word_embeddings": p["tied"],
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "bfloat16",
    }
    if "experts" in p:
        config.update({"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "rope_theta": 1000000.0,
                       "num_experts": p["experts"], "num_experts_per_tok": p["top_k"],
                       "moe_intermediate_size": p["expert_intermediate"], "norm_topk_prob": True,
                       "decoder_sparse_step": 1, "mlp_only_layers": []})
        del config["mlp_bias"]
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    shutil.copyfile(a.tokenizer, os.path.join(a.out, "tokenizer.gguf"))
    print(f"{a.out}: {a.shapes}, {p['layers']} layers, {total / 1e9:.2f} GB in {len(shards)} shards", file=sys.stderr)


if __name__ == "__main__":
    main()

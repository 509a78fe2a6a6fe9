#!/usr/bin/env python3
"""Converts a checkpoint written by make_synthetic_llama.py into a Q8_0 GGUF,
as llama.cpp's convert_hf_to_gguf.py lays a Llama model out, for scale work
on QuantScope's GGUF loader.

    synthetic_llama_to_gguf.py MODEL_DIR OUT.gguf

Linear weights and the embedding/head are Q8_0, norms F32; q/k rows are
permuted as convert_hf_to_gguf permutes them (QuantScope undoes it). The
tokenizer.* metadata is copied from MODEL_DIR/tokenizer.gguf. Tensors are
quantized and written one at a time. Never commit the output.

Needs torch, numpy and gguf (the project's venv: ~/.cache/quantscope/venv/bin/python).
"""

import argparse
import json
import os

import numpy as np
import torch
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
from gguf.quants import quantize
from safetensors import safe_open

NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    layer, rest = hf[len("model.layers."):].split(".", 1)
    for k, v in NAMES.items():
        if rest.startswith(k):
            return f"blk.{layer}.{v}{rest[len(k):]}"
    raise SystemExit(f"no GGUF name for {hf}")


def permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def copy_tokenizer(reader, writer):
    for field in reader.fields.values():
        if not field.name.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        if vtype == GGUFValueType.ARRAY:
            sub = field.types[-1]
            if sub == GGUFValueType.STRING:
                value = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_array(field.name, value)
        elif vtype == GGUFValueType.STRING:
            writer.add_string(field.name, bytes(field.parts[-1]).decode("utf-8"))
        else:
            writer.add_key_value(field.name, field.parts[-1].tolist()[0], vtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("out")
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model_dir, "config.json")))
    index = json.load(open(os.path.join(a.model_dir, "model.safetensors.index.json")))["weight_map"]

    w = GGUFWriter(a.out, "llama")
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(7)  # MOSTLY_Q8_0
    copy_tokenizer(GGUFReader(os.path.join(a.model_dir, "tokenizer.gguf")), w)

    # Declared first, written one at a time: the header needs every shape.
    names = sorted(index)
    plan = []
    for name in names:
        with safe_open(os.path.join(a.model_dir, index[name]), "pt") as f:
            shape = f.get_slice(name).get_shape()
        q8 = len(shape) == 2
        if q8:  # declared by its byte shape: 34 bytes per block of 32
            w.add_tensor_info(gguf_name(name), [shape[0], shape[1] // 32 * 34], np.dtype(np.uint8),
                              shape[0] * shape[1] // 32 * 34, raw_dtype=GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor_info(gguf_name(name), shape, np.dtype(np.float32), shape[0] * 4)
        plan.append((name, q8))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, q8 in plan:
        with safe_open(os.path.join(a.model_dir, index[name]), "pt") as f:
            t = f.get_tensor(name).to(torch.float32).numpy()
        if name.endswith("q_proj.weight"):
            t = permute(t, cfg["num_attention_heads"])
        elif name.endswith("k_proj.weight"):
            t = permute(t, cfg["num_key_value_heads"])
        w.write_tensor_data(quantize(t, GGMLQuantizationType.Q8_0) if q8 else t)
    w.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into tests/fuzz/corpus/<target>/:
small valid inputs of each parser, made here from code (Python's standard
library only) so that libFuzzer starts from the structures the readers
accept. The output is committed; run again after changing this file.

    python3 tests/fuzz/make_seeds.py
"""
import json
import os
import random
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
rng = random.Random(20261207)


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: name -> (dtype, shape, bytes)."""
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def rand_f32(n, scale=0.2):
    return f32([rng.gauss(0, scale) for _ in range(n)])


# GGUF value types (gguf.h)
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, v):
    fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?", U64: "Q", I64: "q",
           F64: "d"}
    if vtype == STR:
        return gguf_str(v)
    if vtype == ARR:
        etype, items = v
        return struct.pack("<IQ", etype, len(items)) + b"".join(gguf_value(etype, x) for x in items)
    return struct.pack("<" + fmt[vtype], v)


def gguf(kv, tensors, alignment=32):
    """kv: list of (key, type, value); tensors: list of (name, ne, ggml_type, bytes)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, vtype, v in kv:
        out += gguf_str(key) + struct.pack("<I", vtype) + gguf_value(vtype, v)
    offset, blobs = 0, b""
    for name, ne, gtype, data in tensors:
        out += gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", gtype, offset)
        pad = data + b"\0" * (-len(data) % alignment)
        blobs += pad
        offset += len(pad)
    out += b"\0" * (-len(out) % alignment)
    return out + blobs


def byte_level_alphabet():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r")]


def byte_level_tokenizer(pre, ignore_merges=False):
    vocab = {t: i for i, t in enumerate(byte_level_alphabet())}
    for a, b in MERGES:
        vocab.setdefault(a + b, len(vocab))
    added = [{"id": len(vocab) + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, c in enumerate(["<|endoftext|>", "<|im_start|>"])]
    return json.dumps({"version": "1.0", "added_tokens": added, "normalizer": None, "pre_tokenizer": pre,
                       "post_processor": None, "decoder": {"type": "ByteLevel"},
                       "model": {"type": "BPE", "dropout": None, "unk_token": None, "ignore_merges": ignore_merges,
                                 "vocab": vocab, "merges": [a + " " + b for a, b in MERGES]}})


def sentencepiece_tokenizer():
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for c in "▁abcdehilnorstw":
        vocab.setdefault(c, len(vocab))
    merges = [("▁", "t"), ("h", "e"), ("▁t", "he")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return json.dumps({"version": "1.0", "added_tokens": [
        {"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
        "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                    {"Sequence": {"id": "A", "type_id": 0}}]},
        "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True, "vocab": vocab,
                  "merges": [[a, b] for a, b in merges]}})


GPT2_SPLIT = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
LLAMA3_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
LLAMA3_PRE = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
SMOLLM_PRE = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, GPT2_SPLIT]}

TINY = dict(vocab_size=300, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=10000.0,
            tie_word_embeddings=True, torch_dtype="float32")

FAMILIES = {
    "llama": dict(model_type="llama", architectures=["LlamaForCausalLM"],
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 32}),
    "qwen2": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], use_sliding_window=False),
    "qwen3": dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], head_dim=12),
    "mistral": dict(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=8),
    "gemma2": dict(model_type="gemma2", architectures=["Gemma2ForCausalLM"], head_dim=8, query_pre_attn_scalar=8,
                   sliding_window=8, attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
                   hidden_activation="gelu_pytorch_tanh"),
    "gemma3_text": dict(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], head_dim=8,
                        query_pre_attn_scalar=8, sliding_window=8, layer_types=["sliding_attention"],
                        rope_local_base_freq=10000.0, rope_scaling={"rope_type": "linear", "factor": 8.0}),
    "phi3": dict(model_type="phi3", architectures=["Phi3ForCausalLM"], partial_rotary_factor=0.5,
                 rope_scaling={"type": "longrope", "long_factor": [1.0] * 2, "short_factor": [1.0] * 2},
                 original_max_position_embeddings=32),
    "mixtral": dict(model_type="mixtral", architectures=["MixtralForCausalLM"], num_local_experts=4,
                    num_experts_per_tok=2),
    "qwen3_moe": dict(model_type="qwen3_moe", architectures=["Qwen3MoeForCausalLM"], num_experts=4,
                      num_experts_per_tok=2, moe_intermediate_size=8, norm_topk_prob=True, mlp_only_layers=[],
                      decoder_sparse_step=1),
}


def tiny_llama_tensors():
    h, i, v, kv = TINY["hidden_size"], TINY["intermediate_size"], TINY["vocab_size"], 8
    t = {"model.embed_tokens.weight": ("F32", [v, h], rand_f32(v * h)),
         "model.norm.weight": ("F32", [h], f32([1.0] * h))}
    p = "model.layers.0."
    for name, shape in [("self_attn.q_proj", [h, h]), ("self_attn.k_proj", [kv, h]), ("self_attn.v_proj", [kv, h]),
                        ("self_attn.o_proj", [h, h]), ("mlp.gate_proj", [i, h]), ("mlp.up_proj", [i, h]),
                        ("mlp.down_proj", [h, i])]:
        t[p + name + ".weight"] = ("F32", shape, rand_f32(shape[0] * shape[1]))
    for n in ("input_layernorm", "post_attention_layernorm"):
        t[p + n + ".weight"] = ("F32", [h], f32([1.0] * h))
    return t


def model_dir(files):
    """The fuzz_model_dir container: index byte, u32 length, bytes."""
    names = ["config.json", "model.safetensors", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
             "model-00002-of-00002.safetensors", "quantscope.json", "quantscope_provenance.json",
             "adapter/adapter_config.json", "adapter/adapter_model.safetensors", "tokenizer.json",
             "tokenizer_config.json", "tokenizer.gguf"]
    out = b""
    for name, data in files.items():
        data = data if isinstance(data, bytes) else data.encode()
        out += bytes([names.index(name)]) + struct.pack("<I", len(data)) + data
    return out


def main():
    shutil.rmtree(OUT, ignore_errors=True)

    put("fuzz_safetensors", "plain", safetensors({"a": ("F32", [2, 3], rand_f32(6)), "b": ("I8", [4], bytes(4))}))
    put("fuzz_safetensors", "metadata-bf16", safetensors({"w": ("BF16", [2, 2], bytes(8)), "s": ("F8_E4M3", [3], bytes(3))},
                                                        {"format": "pt"}))
    put("fuzz_safetensors", "empty", safetensors({}))

    tokens = byte_level_alphabet() + [a + b for a, b in MERGES]
    tok_kv = [("tokenizer.ggml.model", STR, "gpt2"), ("tokenizer.ggml.pre", STR, "smollm"),
              ("tokenizer.ggml.tokens", ARR, (STR, tokens)), ("tokenizer.ggml.token_type", ARR, (I32, [1] * len(tokens))),
              ("tokenizer.ggml.merges", ARR, (STR, [a + " " + b for a, b in MERGES])),
              ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.add_bos_token", BOOL, False)]
    h = 32
    model_kv = [("general.architecture", STR, "llama"), ("llama.block_count", U32, 1), ("llama.context_length", U32, 64),
                ("llama.embedding_length", U32, h), ("llama.feed_forward_length", U32, 64),
                ("llama.attention.head_count", U32, 2), ("llama.attention.head_count_kv", U32, 1),
                ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5), ("llama.rope.freq_base", F32, 10000.0)]
    q4_0 = lambda rows, cols: bytes(rng.randrange(256) for _ in range(rows * cols // 32 * 18))
    f32t = lambda n: rand_f32(n)
    blk = [("token_embd.weight", [h, len(tokens)], 0, f32t(h * len(tokens))), ("output_norm.weight", [h], 0, f32t(h)),
           ("blk.0.attn_norm.weight", [h], 0, f32t(h)), ("blk.0.ffn_norm.weight", [h], 0, f32t(h)),
           ("blk.0.attn_q.weight", [h, h], 2, q4_0(h, h)), ("blk.0.attn_k.weight", [h, 16], 2, q4_0(16, h)),
           ("blk.0.attn_v.weight", [h, 16], 8, bytes(16 * 34)), ("blk.0.attn_output.weight", [h, h], 2, q4_0(h, h)),
           ("blk.0.ffn_gate.weight", [h, 64], 2, q4_0(64, h)), ("blk.0.ffn_up.weight", [h, 64], 2, q4_0(64, h)),
           ("blk.0.ffn_down.weight", [64, h], 2, q4_0(h, 64))]
    put("fuzz_gguf", "llama-model", gguf(model_kv + tok_kv, blk))
    put("fuzz_gguf", "tokenizer-only", gguf([("general.architecture", STR, "llama")] + tok_kv, []))
    put("fuzz_gguf", "every-value-type", gguf([("u8", U8, 7), ("i8", I8, -7), ("u16", U16, 700), ("i16", I16, -700),
                                               ("f64", F64, 0.5), ("u64", U64, 2 ** 40), ("i64", I64, -(2 ** 40)),
                                               ("arr", ARR, (F32, [1.0, 2.0]))],
                                              [("k", [256], 12, bytes(144)), ("x", [256], 23, bytes(136))]))

    sizes = {2: 18, 3: 20, 6: 22, 7: 24, 8: 34, 10: 84, 11: 110, 12: 144, 13: 176, 14: 210, 16: 66, 18: 98, 20: 18,
             23: 136, 0: 4, 1: 2, 30: 2}
    for tid, size in sizes.items():
        put("fuzz_ggml_blocks", "type-%d" % tid, bytes([tid]) + bytes(rng.randrange(256) for _ in range(2 * size)))

    put("fuzz_tokenizer_json", "gpt2", byte_level_tokenizer(GPT2_SPLIT))
    put("fuzz_tokenizer_json", "llama3", byte_level_tokenizer(LLAMA3_PRE, True))
    put("fuzz_tokenizer_json", "smollm", byte_level_tokenizer(SMOLLM_PRE))
    put("fuzz_tokenizer_json", "sentencepiece", sentencepiece_tokenizer())

    for fam, extra in FAMILIES.items():
        put("fuzz_hf_config", fam, json.dumps({**TINY, **extra}))

    put("fuzz_quant_plan", "rules", json.dumps({
        "default": {"method": "gptq", "bits": 4, "group": 128, "symmetric": True, "params": {"damp": 0.01}},
        "layers": {"*.mlp.down_proj": {"method": "rtn", "bits": 8, "group": 32, "clip_ratio": 0.9},
                   "model.layers.0.*": {"method": "fp16"}},
        "then": {"method": "rilq", "params": {"rank": 8}}}))
    put("fuzz_quant_plan", "awq-lwc", json.dumps({"default": {"method": "awq", "params": {"quantizer": "lwc"}}}))

    config = json.dumps({**TINY, **FAMILIES["llama"], "rope_scaling": None})
    weights = safetensors(tiny_llama_tensors(), {"format": "pt"})
    tok = byte_level_tokenizer(GPT2_SPLIT)
    put("fuzz_model_dir", "hf", model_dir({"config.json": config, "model.safetensors": weights, "tokenizer.json": tok,
                                           "tokenizer_config.json": json.dumps({"add_bos_token": False})}))
    t = tiny_llama_tensors()
    half = len(t) // 2
    names = sorted(t)
    shard = lambda ns: safetensors({n: t[n] for n in ns})
    index = {"metadata": {"total_size": 0}, "weight_map": {n: ("model-00001-of-00002.safetensors" if k < half else
                                                             "model-00002-of-00002.safetensors")
                                                         for k, n in enumerate(names)}}
    put("fuzz_model_dir", "sharded", model_dir({"config.json": config, "model.safetensors.index.json": json.dumps(index),
                                                "model-00001-of-00002.safetensors": shard(names[:half]),
                                                "model-00002-of-00002.safetensors": shard(names[half:])}))
    fp8 = dict(t)
    for n in [n for n in names if n.startswith("model.layers.0.") and "proj" in n]:
        dt, shape, _ = t[n]
        fp8[n] = ("F8_E4M3", shape, bytes(rng.randrange(256) & 0x77 for _ in range(shape[0] * shape[1])))
        fp8[n[:-len(".weight")] + ".weight_scale"] = ("F32", [shape[0], 1], f32([0.01] * shape[0]))
    cfg = json.loads(config)
    cfg["quantization_config"] = {"quant_method": "fp8", "activation_scheme": "dynamic"}
    put("fuzz_model_dir", "fp8", model_dir({"config.json": json.dumps(cfg), "model.safetensors": safetensors(fp8)}))
    adapter = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"], "fan_in_fan_out": False,
               "base_model_name_or_path": "x"}
    lora = {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": ("F32", [2, 16], rand_f32(32)),
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": ("F32", [16, 2], rand_f32(32))}
    put("fuzz_model_dir", "adapter", model_dir({"config.json": config, "model.safetensors": weights,
                                                "adapter/adapter_config.json": json.dumps(adapter),
                                                "adapter/adapter_model.safetensors": safetensors(lora)}))


if __name__ == "__main__":
    main()

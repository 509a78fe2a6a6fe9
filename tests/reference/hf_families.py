#!/usr/bin/env python3
"""Tiny random models of each architecture family, with transformers' fp32 logits as the oracle.

    python tests/reference/hf_families.py OUT_DIR [--family NAME ...]

For every family it builds the model offline from a small config
(AutoModelForCausalLM.from_config), redraws the weights so each piece of the
forward matters (transformers initialises norms to their identity and linears
to std 0.02, which leaves logits near uniform and would let a wrong norm or
activation pass), saves it with save_pretrained as float32 safetensors and
writes OUT_DIR/<family>.reference.safetensors (beside the model's folder, whose
*.safetensors files are all the model's) with

    input_ids        int64   [2, T]   seeded random ids
    logits           float32 [2, T, vocab]
    short_input_ids  int64   [2, 16]  their first 16
    short_logits     float32 [2, 16, vocab]

computed by transformers with eager attention. T is longer than every
sliding window, so windowed layers are exercised. Each folder also gets a
byte-level BPE tokenizer trained on a generated corpus (tokenizer.json,
tokenizer_config.json), a generated eval.txt, and in the reference's metadata
transformers' perplexity of eval.txt under `quantscope-cli eval --protocol hf`'s
protocol (tests/bench/check_export_transformers.py) at EVAL_CTX tokens. The configs set the
families' options away from their defaults where a wrong reading would go
unnoticed at the default (soft-caps that bite, query scaling that differs
from head_dim, a head_dim that differs from hidden / heads).

Needs: torch, transformers, safetensors (pip).
"""

import argparse
import json
import math
import os
import sys

TOKENS = 40
SHORT_TOKENS = 16
VOCAB = 512
EVAL_CTX = 48
WORDS = ("the a of model weight layer quantized scale group bits error norm head token window rotary expert "
         "gemma qwen llama mistral calibration perplexity 0 1 2 3 4 5 6 7 8 9 , . ; : ( ) -").split()

COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=4,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              rms_norm_eps=1e-5, tie_word_embeddings=False)

FAMILIES = {
    "llama": dict(model_type="llama", rope_theta=10000.0),
    # LongRoPE past an original context of 32 tokens (the references' 40 and the
    # evaluation's 48 use the long factors, short_input_ids the short ones),
    # RoPE over 3/4 of each head, and a window.
    "phi3": dict(model_type="phi3", pad_token_id=0, bos_token_id=1, eos_token_id=2, partial_rotary_factor=0.75, sliding_window=24, original_max_position_embeddings=32,
                 max_position_embeddings=256,
                 rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                  "short_factor": [1.0 + 0.1 * i for i in range(6)],
                                  "long_factor": [1.0 + 0.7 * i for i in range(6)]}),
    "qwen2": dict(model_type="qwen2", rope_theta=1000000.0),
    "qwen3": dict(model_type="qwen3", head_dim=24, rope_theta=1000000.0, tie_word_embeddings=True),
    "mistral": dict(model_type="mistral", sliding_window=12, rope_theta=10000.0),
    "gemma2": dict(model_type="gemma2", head_dim=16, query_pre_attn_scalar=20, sliding_window=12,
                   attn_logit_softcapping=3.0, final_logit_softcapping=6.0,
                   hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True),
    "gemma3_text": dict(model_type="gemma3_text", head_dim=16, query_pre_attn_scalar=20, sliding_window=12,
                        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
                        rope_parameters={"full_attention": {"rope_type": "linear", "factor": 4.0,
                                                            "rope_theta": 1000000.0},
                                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
                        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True),
    # Mixture of Experts: 6 experts (top 2) of their own width; Qwen3-MoE with a
    # dense layer among them (mlp_only_layers), Qwen2-MoE with a shared expert
    # and MoE in every second layer, Mixtral with a window.
    "mixtral": dict(model_type="mixtral", num_local_experts=6, num_experts_per_tok=2, sliding_window=12,
                    rope_theta=1000000.0),
    "qwen3_moe": dict(model_type="qwen3_moe", head_dim=24, num_experts=6, num_experts_per_tok=2,
                      moe_intermediate_size=48, norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[2],
                      rope_theta=1000000.0),
    "qwen2_moe": dict(model_type="qwen2_moe", num_experts=6, num_experts_per_tok=2, moe_intermediate_size=48,
                      shared_expert_intermediate_size=80, norm_topk_prob=False, decoder_sparse_step=2,
                      mlp_only_layers=[], rope_theta=1000000.0),
    # Gemma 3's multimodal model: the language model above inside
    # Gemma3ForConditionalGeneration with a small vision tower beside it.
    "gemma3": dict(model_type="gemma3", text_config="gemma3_text",
                   vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, image_size=28, patch_size=14),
                   mm_tokens_per_image=4),
}


def redraw(model, torch, generator):
    # Norms of the (1 + w) kind (Gemma) are drawn around 0, the others around 1.
    one_plus = model.config.model_type.startswith("gemma")
    for name, p in model.named_parameters():
        with torch.no_grad():
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float64)
            if name.endswith("norm.weight"):
                p.copy_((0.0 if one_plus else 1.0) + 0.2 * noise)
            elif name.endswith("bias"):
                p.copy_(0.1 * noise)
            elif "embed_tokens" in name:
                p.copy_(0.5 * noise)
            else:
                p.copy_(noise / (p.shape[-1] ** 0.5))


def generated_text(seed, lines):
    import random
    rng = random.Random(seed)
    return "".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) + "\n" for _ in range(lines))


def write_tokenizer(target):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(generated_text(7, 400).splitlines(), trainer=trainer)
    tok.save(os.path.join(target, "tokenizer.json"))
    with open(os.path.join(target, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": False, "add_eos_token": False}, f)


def hf_protocol_perplexity(model, target, torch):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    from check_export_transformers import join_rows_hf
    from transformers import PreTrainedTokenizerFast

    with open(os.path.join(target, "eval.txt"), "w", newline="") as f:
        f.write(generated_text(11, 60))
    with open(os.path.join(target, "eval.txt"), encoding="utf-8", newline="") as f:
        # The tokenizer.json as it is: AutoTokenizer would swap in the family's
        # own class (Qwen2Tokenizer re-splits text its own way).
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(target, "tokenizer.json"))
        ids = tok(join_rows_hf(f.read()), return_tensors="pt").input_ids[0]
    nll, count = 0.0, 0
    with torch.no_grad():
        for i in range(ids.numel() // EVAL_CTX):
            window = ids[i * EVAL_CTX:(i + 1) * EVAL_CTX].unsqueeze(0)
            logits = model(input_ids=window).logits.double()
            nll += torch.nn.functional.cross_entropy(logits[0, :-1], window[0, 1:], reduction="sum").item()
            count += EVAL_CTX - 1
    return math.exp(nll / count), ids.numel() // EVAL_CTX


def build(family, out_dir):
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM

    spec = dict(COMMON)
    spec.update(FAMILIES[family])
    if "text_config" in spec:  # a multimodal model around one of the language models above
        text = dict(COMMON)
        text.update(FAMILIES[spec["text_config"]])
        text.pop("model_type")
        spec = {k: v for k, v in spec.items() if k not in COMMON}
        spec["text_config"] = text
        spec["tie_word_embeddings"] = text["tie_word_embeddings"]
    model_type = spec.pop("model_type")
    config = AutoConfig.for_model(model_type, **spec)
    torch.manual_seed(0)
    if "text_config" in spec:
        from transformers import AutoModelForImageTextToText
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32, attn_implementation="eager")
    else:
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    generator = torch.Generator().manual_seed(1234)
    redraw(model, torch, generator)
    model.eval()

    target = os.path.join(out_dir, family)
    os.makedirs(target, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    ids = torch.randint(0, VOCAB, (2, TOKENS), generator=generator)
    short_ids = ids[:, :SHORT_TOKENS].contiguous()
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float().contiguous()
        short_logits = model(input_ids=short_ids).logits.float().contiguous()
    write_tokenizer(target)
    ppl, windows = hf_protocol_perplexity(model, target, torch)
    save_file({"input_ids": ids.contiguous(), "logits": logits, "short_input_ids": short_ids,
               "short_logits": short_logits}, os.path.join(out_dir, family + ".reference.safetensors"),
              metadata={"family": family, "transformers": __import__("transformers").__version__,
                        "torch": torch.__version__, "eval_ctx": str(EVAL_CTX), "eval_windows": str(windows),
                        "eval_ppl": repr(ppl)})
    print(json.dumps({"family": family, "dir": target, "logits": list(logits.shape),
                      "max_abs_logit": float(logits.abs().max()), "eval_ppl": ppl, "eval_windows": windows}))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="output directory (one folder per family)")
    p.add_argument("--family", action="append", choices=sorted(FAMILIES), help="only these families")
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(2)
    for family in args.family or sorted(FAMILIES):
        build(family, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])

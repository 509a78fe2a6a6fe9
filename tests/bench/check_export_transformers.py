#!/usr/bin/env python3
"""Perplexity of an exported checkpoint as HF transformers computes it.

Run with the loaders venv's python (tests/bench/loaders_setup.sh: transformers,
compressed-tensors, and gptqmodel for GPTQ and AWQ checkpoints):

  check_export_transformers.py DIR --text FILE [--ctx 2048] [--limit-chunks K] [--backend NAME]
                               [--gguf FILE]

The tokenizer is DIR's tokenizer.json (exports of a GGUF model carry one
written from its metadata); older exports with only tokenizer.gguf are read
through transformers' gguf_file=, whose pre-tokenizer differs from SmolLM2's
own on digits. --backend picks gptqmodel's kernel (e.g. gptq_torch,
torch_awq): gptqmodel 7.6's automatic choice on a CPU is the ATen int4pack
kernel, which refuses a group size that does not divide the row.

With --gguf, DIR/FILE is a GGUF export: transformers dequantizes it and builds
the model and the tokenizer from its metadata (gguf_file=), so both the
tensors and the tokenizer.ggml.* keys are read by transformers' own code.

DIR is loaded with AutoModelForCausalLM.from_pretrained on the CPU in float32,
so the packed weights go through the format's own loader (compressed-tensors
decompresses pack-quantized itself). The evaluation is the HF protocol of
`quantscope-cli eval --protocol hf`: the text's lines joined as GPTQ's
evaluation code joins WikiText rows ("\\n\\n"), tokenized by DIR's tokenizer,
non-overlapping windows of ctx tokens, mean NLL over every predicted token.
One JSON line goes to stdout.
"""

import argparse
import json
import math
import sys
import time


def join_rows_hf(text):
    """The rows of a line-oriented text as HF datasets gives WikiText: every
    line keeps its "\\n", blank lines are empty rows; joined with "\\n\\n"."""
    rows = []
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos)
        has_newline = end != -1
        if not has_newline:
            end = len(text)
        row = text[pos:end]
        if row.endswith("\r"):
            row = row[:-1]
        blank = row.strip(" \t\r\f\v") == ""
        rows.append("" if blank else row + ("\n" if has_newline else ""))
        pos = end + 1
    return "\n\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir")
    p.add_argument("--text", required=True)
    p.add_argument("--ctx", type=int, default=2048)
    p.add_argument("--limit-chunks", type=int, default=0)
    p.add_argument("--backend", default="")
    p.add_argument("--gguf", default="", help="a GGUF file in DIR to load instead of safetensors")
    p.add_argument("--raw-tokenizer", action="store_true",
                   help="tokenize with DIR's tokenizer.json as it is (PreTrainedTokenizerFast), not the class "
                        "AutoTokenizer picks for the model type (Qwen2Tokenizer re-splits text its own way)")
    a = p.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.time()
    import os
    if a.gguf:
        tok = AutoTokenizer.from_pretrained(a.dir, gguf_file=a.gguf)
    elif a.raw_tokenizer:
        from transformers import PreTrainedTokenizerFast
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(a.dir, "tokenizer.json"))
    elif not os.path.exists(os.path.join(a.dir, "tokenizer.json")) and \
            os.path.exists(os.path.join(a.dir, "tokenizer.gguf")):
        tok = AutoTokenizer.from_pretrained(a.dir, gguf_file="tokenizer.gguf")
    else:
        tok = AutoTokenizer.from_pretrained(a.dir)
    overrides = {}
    if a.backend:
        with open(os.path.join(a.dir, "config.json"), encoding="utf-8") as f:
            qc = json.load(f)["quantization_config"]
        from transformers import AwqConfig, GPTQConfig
        kind = {"gptq": GPTQConfig, "awq": AwqConfig}[qc["quant_method"]]
        overrides["quantization_config"] = kind(bits=qc["bits"], backend=a.backend)
    if a.gguf:
        overrides["gguf_file"] = a.gguf
    model = AutoModelForCausalLM.from_pretrained(a.dir, dtype=torch.float32, **overrides)
    model.eval()
    load_s = time.time() - t0
    qc = getattr(model.config, "quantization_config", None)
    print(f"[check] loaded {a.dir} in {load_s:.1f} s; quantization_config: "
          f"{type(qc).__name__ if qc is not None else None}", file=sys.stderr)

    with open(a.text, encoding="utf-8", newline="") as f:
        text = join_rows_hf(f.read())
    ids = tok(text, return_tensors="pt").input_ids[0]
    chunks = ids.numel() // a.ctx
    if a.limit_chunks > 0:
        chunks = min(chunks, a.limit_chunks)
    nll, count = 0.0, 0
    t0 = time.time()
    with torch.no_grad():
        for i in range(chunks):
            window = ids[i * a.ctx:(i + 1) * a.ctx].unsqueeze(0)
            logits = model(input_ids=window).logits.float()
            loss = torch.nn.functional.cross_entropy(logits[0, :-1], window[0, 1:], reduction="sum")
            nll += loss.item()
            count += a.ctx - 1
            print(f"[check] window {i + 1}/{chunks}: running ppl {math.exp(nll / count):.4f}",
                  file=sys.stderr, flush=True)
    print(json.dumps({"tool": "transformers", "dir": a.dir, "backend": a.backend or "auto", "ppl": math.exp(nll / count), "chunks": chunks,
                      "ctx": a.ctx, "text_tokens": int(ids.numel()), "load_seconds": round(load_s, 2),
                      "eval_seconds": round(time.time() - t0, 2)}))


if __name__ == "__main__":
    main()

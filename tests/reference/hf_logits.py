#!/usr/bin/env python3
"""Reference logits for a GGUF model from Hugging Face `transformers`, in fp32 on CPU.

QuantScope's forward pass is checked against these numbers. transformers dequantizes every
GGUF tensor to fp32 (the same values llama.cpp's dequantization gives) and undoes the Q/K
row permutation that llama.cpp's converter applies to LLaMA-style attention weights, so the
model run here is the fp32 model that the GGUF encodes.

    python tests/reference/hf_logits.py MODEL.gguf TEXT_FILE -n 128 -o OUT.safetensors

What it does:
  * loads the tokenizer and the model with `gguf_file=` (AutoTokenizer,
    AutoModelForCausalLM, dtype float32);
  * reads the first bytes of TEXT_FILE as raw bytes (no newline translation: CRLF stays
    CRLF), cuts them on a UTF-8 character boundary, tokenizes them without special tokens
    and keeps the first N ids (the prefix read is long enough that the cut never reaches
    them); with --bos the model's BOS id is put in front, as llama.cpp does when the GGUF
    says tokenizer.ggml.add_bos_token = true;
  * runs one forward pass over the N ids and writes a safetensors file with
      input_ids  int64   [1, N]
      logits     float32 [1, N, vocab]
    plus string metadata (model file, text file, versions);
  * prints a one-line JSON summary: shapes, the first ids, the mean next-token NLL and
    its perplexity over the N-1 predicted positions, and logit statistics.

transformers' GGUF tokenizer builder knows no pre-tokenizer for tokenizer.ggml.pre =
"smollm" and falls back to GPT-2's plain ByteLevel, while SmolLM2's tokenizer.json (and
llama.cpp) split digits first; the script puts the real pre-tokenizer back (see
--keep-hf-pretokenizer).

--generate PROMPT greedily continues PROMPT and puts the text in the summary: a sensible
continuation ("The capital of France is" -> "Paris...") shows the Q/K un-permutation and
the rest of the loading are right.

Needs: torch, transformers, tokenizers, safetensors, gguf (pip).
"""

import argparse
import hashlib
import json
import math
import os
import sys

SMOLLM_PRE = "smollm"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("gguf", help="model file (.gguf)")
    p.add_argument("text", help="text file; its first bytes are tokenized")
    p.add_argument("-n", "--tokens", type=int, default=128, help="number of token ids (default 128)")
    p.add_argument("-o", "--out", required=True, help="output .safetensors path")
    p.add_argument("--bos", action="store_true", help="put the BOS id in front (counts toward N)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--attn", default="eager", choices=["eager", "sdpa"],
                   help="attention implementation (default eager)")
    p.add_argument("--keep-hf-pretokenizer", action="store_true",
                   help="do not replace transformers' GGUF pre-tokenizer for smollm vocabularies")
    p.add_argument("--generate", metavar="PROMPT", help="also greedy-generate from PROMPT (sanity check)")
    p.add_argument("--max-new-tokens", type=int, default=12, help="tokens for --generate (default 12)")
    args = p.parse_args(argv)
    if args.tokens < 2:
        p.error("--tokens must be at least 2")
    return args


def gguf_pre_tokenizer_name(path):
    from gguf import GGUFReader

    field = GGUFReader(path).fields.get("tokenizer.ggml.pre")
    if field is None:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def smollm_pre_tokenizer():
    from tokenizers import pre_tokenizers as pt

    return pt.Sequence([pt.Digits(individual_digits=True),
                        pt.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])


def load_tokenizer(gguf_path, keep_hf_pre):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(gguf_path)),
                                        gguf_file=os.path.basename(gguf_path))
    replaced = False
    if not keep_hf_pre and gguf_pre_tokenizer_name(gguf_path) == SMOLLM_PRE:
        backend = tok.backend_tokenizer
        want = smollm_pre_tokenizer()
        if backend.pre_tokenizer is None or backend.pre_tokenizer.__getstate__() != want.__getstate__():
            backend.pre_tokenizer = want
            replaced = True
    return tok, replaced


def utf8_prefix(data, n):
    """The first n bytes of data (or fewer), cut back to a UTF-8 character boundary."""
    if n >= len(data):
        return data
    while n > 0 and (data[n] & 0xC0) == 0x80:
        n -= 1
    return data[:n]


def first_ids(tok, text_path, n_ids):
    """Token ids of the text's first bytes: read longer prefixes until well over n_ids."""
    with open(text_path, "rb") as f:
        data = f.read()
    n_bytes = max(4096, 16 * n_ids)
    while True:
        prefix = utf8_prefix(data, n_bytes)
        ids = tok.backend_tokenizer.encode(prefix.decode("utf-8"), add_special_tokens=False).ids
        # A margin of tokens after the kept ones, so the cut cannot change them.
        if len(ids) >= n_ids + 16 or len(prefix) == len(data):
            return ids[:n_ids], len(prefix)
        n_bytes *= 2


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)

    import torch
    import transformers
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    tok, pre_replaced = load_tokenizer(args.gguf, args.keep_hf_pretokenizer)
    n_text = args.tokens - 1 if args.bos else args.tokens
    ids, n_bytes = first_ids(tok, args.text, n_text)
    if args.bos:
        if tok.bos_token_id is None:
            sys.exit("--bos: the model has no BOS token")
        ids = [tok.bos_token_id] + ids
    if len(ids) < args.tokens:
        sys.exit(f"the text gives only {len(ids)} tokens, fewer than {args.tokens}")

    # `dtype` replaced `torch_dtype` in transformers 4.56.
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    dtype_kw = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(os.path.abspath(args.gguf)), gguf_file=os.path.basename(args.gguf),
        attn_implementation=args.attn, **{dtype_kw: torch.float32})
    model.eval()

    input_ids = torch.tensor([ids], dtype=torch.int64)
    with torch.inference_mode():
        logits = model(input_ids=input_ids, use_cache=False).logits.to(torch.float32).contiguous()

    metadata = {
        "gguf": os.path.basename(args.gguf),
        "gguf_sha256": file_sha256(args.gguf),
        "text": os.path.basename(args.text),
        "text_prefix_bytes": str(n_bytes),
        "bos": str(bool(args.bos)),
        "pre_tokenizer_replaced": str(pre_replaced),
        "attn": args.attn,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file({"input_ids": input_ids, "logits": logits}, args.out, metadata=metadata)

    logp = torch.log_softmax(logits[0, :-1].double(), dim=-1)
    nll = -logp.gather(1, input_ids[0, 1:, None]).mean().item()
    summary = {
        "out": args.out,
        "input_ids_shape": list(input_ids.shape),
        "logits_shape": list(logits.shape),
        "first_ids": ids[:16],
        "bos": bool(args.bos),
        "pre_tokenizer_replaced": pre_replaced,
        "text_prefix_bytes": n_bytes,
        "mean_nll": round(nll, 6),
        "ppl": round(math.exp(nll), 4),
        "logits_mean": round(logits.mean().item(), 6),
        "logits_std": round(logits.std().item(), 6),
        "logits_absmax": round(logits.abs().max().item(), 6),
        "argmax_last": int(logits[0, -1].argmax().item()),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }
    if args.generate is not None:
        prompt = tok(args.generate, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**prompt, max_new_tokens=args.max_new_tokens, do_sample=False)
        summary["generate"] = tok.decode(out[0], skip_special_tokens=False)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()

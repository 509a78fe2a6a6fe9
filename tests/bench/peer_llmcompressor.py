#!/usr/bin/env python3
"""Peer comparison against llm-compressor (PyPI `llmcompressor`).

Run with the peer venv's python (tests/bench/peer_setup.sh creates it):

  peer_llmcompressor.py fp-checkpoint --gguf GGUF --out DIR
      Dequantize a GGUF with transformers and save it as an FP32 Hugging Face
      checkpoint (config.json, model.safetensors, tokenizer files).  Both
      QuantScope and llm-compressor quantize these same FP weights.

  peer_llmcompressor.py quantize --model FPDIR --method gptq|awq --bits B
      --group G --calib-ids FILE --out DIR
      FILE is a safetensors file holding one tensor "input_ids" [N, L]
      (int32/int64): the exact calibration rows QuantScope sampled.  They are
      fed to llm-compressor's `oneshot` unchanged (batch size 1, in file order,
      no re-tokenization, no shuffling, no padding).  Weight-only, asymmetric
      (zero-point) INT-B quantization with group size G of every Linear in the
      decoder layers (lm_head ignored) on CPU.  Only the oneshot call is timed;
      one JSON line goes to stdout, everything else to stderr.  DIR receives a
      plain FP32 checkpoint (no quantization_config) whose Linear weights are
      llm-compressor's fake-quantized weights, i.e. exactly what its quantized
      model computes with, plus any norm weights AWQ rescaled.

Method settings (llmcompressor 0.14.0.1 / compressed-tensors 0.19.0):
  gptq: GPTQModifier(block_size=128, dampening_frac=0.01, actorder=None).
        The group scales/zero points come from a min-max observer run on the
        *original* weights before the GPTQ sweep and stay fixed during it.
  awq:  AWQModifier() with its defaults (Llama mappings, duo_scaling=True,
        n_grid=20) followed by QuantizationModifier (round-to-nearest,
        min-max observer) with the same scheme.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path


# stdout carries only the result JSON line: llm-compressor's loguru sink and any
# library print() go to stderr (main() swaps sys.stdout before importing them).
RESULT_OUT = sys.stdout


def log(*args):
    print("[peer]", *args, file=sys.stderr, flush=True)


def write_compat_config(out):
    """transformers 5 writes rope_theta only inside "rope_parameters" and the
    dtype as "dtype".  Also write the classic top-level keys (rope_theta,
    rope_scaling for non-default rope types, torch_dtype) so readers of the
    transformers-4 layout (QuantScope's hf_config) get the same values.
    transformers 5 still loads such a config identically."""
    path = Path(out) / "config.json"
    cfg = json.loads(path.read_text())
    if "quantization_config" in cfg:
        raise SystemExit("config.json unexpectedly has quantization_config")
    rp = cfg.get("rope_parameters")
    if isinstance(rp, dict):
        if "rope_theta" in rp:
            cfg.setdefault("rope_theta", rp["rope_theta"])
        if rp.get("rope_type", "default") != "default":
            cfg.setdefault("rope_scaling", {k: v for k, v in rp.items() if k != "rope_theta"})
    cfg.setdefault("torch_dtype", cfg.get("dtype", "float32"))
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return cfg


# ---------------------------------------------------------------- fp-checkpoint

def cmd_fp_checkpoint(args):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(args.gguf).resolve()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log(f"loading {gguf} (dequantized to float32 by transformers)")
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model carries an hf_quantizer (QuantizationMethod.GGUF) that
    # refuses save_pretrained: rebuild a plain model from a clean config.
    config = model.config
    config.__dict__.pop("quantization_config", None)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.eval()
    plain.save_pretrained(str(out), safe_serialization=True, max_shard_size="100GB")
    tok.save_pretrained(str(out))
    write_compat_config(out)
    n = sum(p.numel() for p in model.parameters())
    log(f"saved FP32 checkpoint to {out} ({n / 1e6:.1f}M parameters, "
        f"tie_word_embeddings={getattr(model.config, 'tie_word_embeddings', None)})")
    return 0


# -------------------------------------------------------------------- quantize

def load_calib_ids(path):
    import torch
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    if "input_ids" not in tensors:
        raise SystemExit(f"{path}: no tensor named 'input_ids' (has {list(tensors)})")
    ids = tensors["input_ids"]
    if ids.dtype not in (torch.int32, torch.int64) or ids.dim() != 2:
        raise SystemExit(f"{path}: input_ids must be int32/int64 [N, L], got "
                         f"{ids.dtype} {tuple(ids.shape)}")
    return ids.to(torch.int64).contiguous()


def make_dataloader(ids):
    """One row per batch, file order, no padding/truncation/shuffle."""
    import torch
    from torch.utils.data import DataLoader, SequentialSampler

    rows = [ids[i] for i in range(ids.shape[0])]

    def collate(batch):
        x = torch.stack(batch)  # [1, L]
        return {"input_ids": x, "attention_mask": torch.ones_like(x)}

    return DataLoader(rows, batch_size=1, sampler=SequentialSampler(rows),
                      collate_fn=collate)


def build_recipe(method, bits, group):
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

    weights = QuantizationArgs(num_bits=bits, type="int", symmetric=False,
                               strategy="group", group_size=group, dynamic=False,
                               actorder=None)
    # targets "Linear" + ignore lm_head == every Linear inside the decoder layers
    groups = {"group_0": QuantizationScheme(targets=["Linear"], weights=weights)}
    if method == "gptq":
        from llmcompressor.modifiers.gptq import GPTQModifier
        return [GPTQModifier(config_groups=groups, ignore=["lm_head"],
                             block_size=128, dampening_frac=0.01, actorder=None)]
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from llmcompressor.modifiers.transform.awq import AWQModifier
    return [AWQModifier(), QuantizationModifier(config_groups=groups, ignore=["lm_head"])]


def describe_recipe(recipe):
    keep = ("block_size", "dampening_frac", "actorder", "duo_scaling", "n_grid",
            "offload_device", "mappings")
    for m in recipe:
        fields = {k: getattr(m, k) for k in keep if hasattr(m, k)}
        if "mappings" in fields and fields["mappings"] is not None:
            fields["mappings"] = [(mp.smooth_layer, list(mp.balance_layers))
                                  for mp in fields["mappings"]]
        log(f"{type(m).__name__}: {fields}")


def dequantized_weights(model):
    """Return {module name: fake-quantized weight} for every quantized module.

    This is the weight the module's quantized forward uses
    (compressed_tensors.quantization.lifecycle.forward.set_forward_quantized:
    forward_quantize(weight, weight_scale, weight_zero_point)).  GPTQ already
    writes fake-quantized values into module.weight; AWQ+RTN leaves the
    (smoothed) FP weight there and quantizes only in forward / at compression,
    so we always apply the fake-quantizer.  We also run the real integer path
    (quantize -> int codes -> dequantize, what a compressed checkpoint stores)
    and require it to agree bit for bit.
    """
    import torch
    from compressed_tensors.quantization import (
        QuantizationStatus, dequantize, quantize)
    from compressed_tensors.quantization.lifecycle.forward import forward_quantize
    from compressed_tensors.quantization.utils import calculate_range

    out, stats = {}, {"max_abs_diff_vs_module_weight": 0.0}
    for name, mod in model.named_modules():
        scheme = getattr(mod, "quantization_scheme", None)
        if scheme is None or scheme.weights is None:
            continue
        qargs = scheme.weights
        status = getattr(mod, "quantization_status", None)
        if status is not None and status >= QuantizationStatus.COMPRESSED:
            raise SystemExit(f"{name}: already compressed; expected a frozen model")
        w = mod.weight.data
        scale, zp = mod.weight_scale.data, mod.weight_zero_point.data
        with torch.no_grad():
            wq = forward_quantize(mod, w, "weight", qargs).to(torch.float32)
            codes = quantize(w, scale, zp, qargs, dtype=torch.int8)
            wd = dequantize(codes, scale, zp, qargs, dtype=torch.float32)
        qmin, qmax = calculate_range(qargs, "cpu")
        if codes.min() < qmin or codes.max() > qmax:
            raise SystemExit(f"{name}: integer codes outside [{qmin}, {qmax}]")
        if not torch.equal(wq, wd):
            raise SystemExit(f"{name}: fake-quant and int-dequant disagree "
                             f"(max {(wq - wd).abs().max().item():.3g})")
        stats["max_abs_diff_vs_module_weight"] = max(
            stats["max_abs_diff_vs_module_weight"], (wq - w.float()).abs().max().item())
        out[name] = wq
    return out, stats


def max_distinct_per_group(w, group):
    """Max number of distinct values in any run of `group` input weights of a row."""
    import torch
    rows, cols = w.shape
    g = w.reshape(rows * (cols // group), group).sort(dim=1).values
    distinct = 1 + (g[:, 1:] != g[:, :-1]).sum(dim=1)
    return int(distinct.max())


def cmd_quantize(args):
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer
    import llmcompressor
    from llmcompressor import oneshot

    try:
        from importlib.metadata import version as _v
        version = _v("llmcompressor")
    except Exception:  # pragma: no cover
        version = getattr(llmcompressor, "__version__", "unknown")

    torch.manual_seed(0)
    ids = load_calib_ids(args.calib_ids)
    nsamples, seqlen = ids.shape
    log(f"llmcompressor {version}, torch {torch.__version__}, threads "
        f"{torch.get_num_threads()}; calibration {nsamples} x {seqlen} from {args.calib_ids}")

    fpdir = str(Path(args.model).resolve())
    tok = AutoTokenizer.from_pretrained(fpdir)
    model = AutoModelForCausalLM.from_pretrained(fpdir, dtype=torch.float32)
    model.eval()
    fp_state = {k: v.clone() for k, v in model.state_dict().items()}

    # compressed-tensors' GROUP strategy needs in_features % group == 0 (no ragged
    # last group: validate_group_size_divisibility errors at initialize and
    # fake_quantize raises in forward).  Fail early with the usable sizes.
    widths = sorted({m.in_features for n, m in model.named_modules()
                     if isinstance(m, torch.nn.Linear) and n != "lm_head"})
    bad = [w for w in widths if w >= args.group and w % args.group]
    if bad:
        from math import gcd
        from functools import reduce
        g = reduce(gcd, widths)
        ok = [d for d in range(16, g + 1) if g % d == 0]
        raise SystemExit(f"llm-compressor cannot quantize with group {args.group}: Linear "
                         f"input widths {bad} are not multiples of it (ragged last groups "
                         f"are unsupported). Group sizes dividing all widths {widths}: {ok}")

    if not torch.accelerator.is_available():
        # AWQModifier._apply_smoothing pins its cached activations unconditionally
        # (IntermediatesCache.pin_memory), which raises "Found no NVIDIA driver"
        # on a CPU-only machine.  Pinning only speeds host->device copies and has
        # no numerical effect, so make it a no-op without an accelerator.
        from llmcompressor.pipelines.cache import IntermediatesCache
        IntermediatesCache.pin_memory = lambda self, *a, **k: None
        log("no accelerator: IntermediatesCache.pin_memory disabled (AWQ CPU workaround)")

    recipe = build_recipe(args.method, args.bits, args.group)
    describe_recipe(recipe)
    loader = make_dataloader(ids)

    t0 = time.perf_counter()
    model = oneshot(model=model, processor=tok, recipe=recipe, dataset=loader,
                    output_dir=None)
    seconds = time.perf_counter() - t0

    # AWQModifier fills in its mappings during initialize: report what was used
    describe_recipe(recipe)

    dq, stats = dequantized_weights(model)
    if not dq:
        raise SystemExit("no quantized modules found after oneshot")
    log(f"{len(dq)} quantized modules; max |fake-quant - module.weight| = "
        f"{stats['max_abs_diff_vs_module_weight']:.3g} "
        f"({'GPTQ writes quantized weights in place' if args.method == 'gptq' else 'AWQ+RTN quantizes in forward'})")

    # describe the scheme llm-compressor actually applied to one module
    probe = next(iter(dq))
    pmod = model.get_submodule(probe)
    log(f"{probe}: {pmod.quantization_scheme.weights.model_dump(exclude={'observer_kwargs'})}")
    log(f"{probe}: weight_scale {tuple(pmod.weight_scale.shape)} {pmod.weight_scale.dtype}, "
        f"weight_zero_point {tuple(pmod.weight_zero_point.shape)} {pmod.weight_zero_point.dtype} "
        f"range [{int(pmod.weight_zero_point.min())}, {int(pmod.weight_zero_point.max())}]")

    if args.method == "awq":
        # RTN after AWQ: the stored qparams must be a fresh min-max of the final
        # (smoothed) weights, not stale ones from the grid search.
        from compressed_tensors.quantization.utils import calculate_qparams
        stale = 0
        for name in dq:
            m = model.get_submodule(name)
            w = m.weight.data
            g = w.reshape(w.shape[0], -1, args.group)
            s, z = calculate_qparams(g.amin(-1), g.amax(-1), m.quantization_scheme.weights)
            if not (torch.equal(s, m.weight_scale.data) and
                    torch.equal(z.to(m.weight_zero_point.dtype), m.weight_zero_point.data)):
                stale += 1
        log(f"qparams equal to a fresh min-max of the smoothed weights: "
            f"{len(dq) - stale}/{len(dq)} modules")
        if stale:
            raise SystemExit("stale AWQ qparams")

    # reference output of llm-compressor's own quantized model (QDQ forward)
    probe_ids = ids[:1, : min(64, seqlen)]
    with torch.no_grad():
        ref_logits = model(input_ids=probe_ids).logits.float()

    # plain FP32 model from the FP checkpoint (config without quantization_config)
    fresh = AutoModelForCausalLM.from_pretrained(fpdir, dtype=torch.float32)
    fresh_sd = fresh.state_dict()
    qsd = model.state_dict()
    new_sd, changed = {}, []
    for k in fresh_sd:
        if k.endswith(".weight") and k[: -len(".weight")] in dq:
            new_sd[k] = dq[k[: -len(".weight")]]
            continue
        if k not in qsd:
            raise SystemExit(f"parameter {k} missing from llm-compressor's model")
        v = qsd[k].detach().to(torch.float32)
        if not torch.equal(v, fp_state[k]):
            changed.append(k)
        new_sd[k] = v
    unexpected = [k for k in dq if k + ".weight" not in fresh_sd]
    if unexpected:
        raise SystemExit(f"quantized modules not in the plain model: {unexpected[:5]}")
    if "lm_head.weight" in new_sd and "model.embed_tokens.weight" in new_sd and \
            getattr(fresh.config, "tie_word_embeddings", False) and \
            not torch.equal(new_sd["lm_head.weight"], new_sd["model.embed_tokens.weight"]):
        raise SystemExit("tied lm_head and embed_tokens diverged")
    norms = [k for k in changed if "norm" in k]
    others = [k for k in changed if "norm" not in k]
    log(f"non-quantized parameters changed by {args.method}: {len(norms)} norm weights"
        + (f" (e.g. {norms[0]})" if norms else "")
        + (f", others: {others}" if others else ""))
    fresh.load_state_dict(new_sd, strict=True)

    fresh.eval()
    with torch.no_grad():
        got_logits = fresh(input_ids=probe_ids).logits.float()
    diff = (got_logits - ref_logits).abs().max().item()
    log(f"logits of saved plain model vs llm-compressor's quantized forward on "
        f"{tuple(probe_ids.shape)}: max |diff| = {diff:.3g}")
    if not diff <= 1e-3 * max(1.0, ref_logits.abs().max().item()):
        raise SystemExit("saved model does not reproduce llm-compressor's quantized model")

    # verification: each group of G input weights takes at most 2^B values
    limit = 2 ** args.bits
    worst = 0
    for name, w in dq.items():
        d = max_distinct_per_group(w, args.group)
        worst = max(worst, d)
        if d > limit:
            raise SystemExit(f"{name}: a group has {d} > {limit} distinct values")
    show = "model.layers.0.self_attn.q_proj"
    show = show if show in dq else probe
    saved_w = fresh.get_submodule(show).weight.data
    log(f"verify {show}: shape {tuple(saved_w.shape)}, max distinct values per group of "
        f"{args.group} = {max_distinct_per_group(saved_w, args.group)} (limit {limit}); "
        f"all {len(dq)} modules: max {worst}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fresh.config.__dict__.pop("quantization_config", None)
    fresh.save_pretrained(str(out), safe_serialization=True, max_shard_size="100GB")
    tok.save_pretrained(str(out))
    write_compat_config(out)
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        w = f.get_tensor(show + ".weight")
        if not torch.equal(w, dq[show]):
            raise SystemExit("saved weight differs from the dequantized weight")
        log(f"saved {out}/model.safetensors ({len(list(f.keys()))} tensors, "
            f"{w.dtype}); re-read {show}.weight matches")

    print(json.dumps({"tool": "llm-compressor", "version": version,
                      "method": args.method, "bits": args.bits, "group": args.group,
                      "nsamples": int(nsamples), "seqlen": int(seqlen),
                      "seconds": round(seconds, 3)}), file=RESULT_OUT, flush=True)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fp-checkpoint", help="GGUF -> FP32 HF checkpoint")
    f.add_argument("--gguf", required=True)
    f.add_argument("--out", required=True)
    q = sub.add_parser("quantize", help="run llm-compressor oneshot, save fake-quant FP32")
    q.add_argument("--model", required=True, help="FP checkpoint directory")
    q.add_argument("--method", required=True, choices=["gptq", "awq"])
    q.add_argument("--bits", type=int, required=True)
    q.add_argument("--group", type=int, required=True)
    q.add_argument("--calib-ids", required=True)
    q.add_argument("--out", required=True)
    a = p.parse_args(argv)
    sys.stdout = sys.stderr
    if a.cmd == "quantize" and not (2 <= a.bits <= 8):
        p.error("--bits must be in 2..8")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return cmd_fp_checkpoint(a) if a.cmd == "fp-checkpoint" else cmd_quantize(a)


if __name__ == "__main__":
    sys.exit(main())

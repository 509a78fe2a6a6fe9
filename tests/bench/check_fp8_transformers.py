#!/usr/bin/env python3
"""An FP8 release made from a tiny family model, read by HF transformers as the oracle.

    python tests/bench/check_fp8_transformers.py FAMILY_DIR OUT_DIR [--block 32] [--compressed-tensors]

FAMILY_DIR is one of packaging/make-family-references.sh's models. Its linears
are quantized to float8 E4M3 block by block as DeepSeek-V3's recipe does
(scale = amax / 448 per block; stored: codes and `weight_scale_inv`), and
saved with `quantization_config: {quant_method: fp8, weight_block_size}`
into OUT_DIR. transformers loads OUT_DIR on the CPU with
FineGrainedFP8Config(dequantize=True). The script prints whether its dequantized
weights equal float8 · scale (computed in float64, rounded once) bit for bit,
and transformers' perplexity of FAMILY_DIR/eval.txt under `quantscope-cli eval
--protocol hf --ctx 48`'s protocol, for comparison with `quantscope-cli eval OUT_DIR ...`.
"""

import argparse
import math
import os
import shutil
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("family_dir")
    p.add_argument("out_dir")
    p.add_argument("--block", type=int, default=32)
    p.add_argument("--compressed-tensors", action="store_true")
    a = p.parse_args()

    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM, FineGrainedFP8Config, PreTrainedTokenizerFast

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from check_export_transformers import join_rows_hf

    B = a.block
    shutil.rmtree(a.out_dir, ignore_errors=True)
    shutil.copytree(a.family_dir, a.out_dir)
    out = {}
    for k, t in load_file(os.path.join(a.family_dir, "model.safetensors")).items():
        if t.dim() != 2 or ".layers." not in k:
            out[k] = t
            continue
        o, i = t.shape
        s = torch.empty((o + B - 1) // B, (i + B - 1) // B)
        c = torch.empty(o, i, dtype=torch.float8_e4m3fn)
        for r in range(s.shape[0]):
            for q in range(s.shape[1]):
                blk = t[r * B:(r + 1) * B, q * B:(q + 1) * B]
                s[r, q] = blk.abs().max() / 448.0
                c[r * B:(r + 1) * B, q * B:(q + 1) * B] = (blk / s[r, q]).to(torch.float8_e4m3fn)
        out[k] = c
        out[k[:-len(".weight")] + (".weight_scale" if a.compressed_tensors else ".weight_scale_inv")] = s
    save_file(out, os.path.join(a.out_dir, "model.safetensors"), metadata={"format": "pt"})
    import json
    cfg_path = os.path.join(a.out_dir, "config.json")
    cfg = json.load(open(cfg_path))
    if a.compressed_tensors:
        weights = {"num_bits": 8, "type": "float", "symmetric": True, "strategy": "block",
                   "block_structure": [B, B], "dynamic": False}
        cfg["quantization_config"] = {
            "quant_method": "compressed-tensors", "format": "float-quantized", "quantization_status": "compressed",
            "config_groups": {"group_0": {"targets": ["re:.*layers[.].*"], "weights": weights,
                                          "input_activations": None, "format": "float-quantized"}},
            "ignore": ["lm_head"]}
    else:
        cfg["quantization_config"] = {"quant_method": "fp8", "activation_scheme": "dynamic",
                                      "weight_block_size": [B, B]}
    json.dump(cfg, open(cfg_path, "w"), indent=2)

    torch.set_num_threads(2)
    if a.compressed_tensors:
        from transformers import CompressedTensorsConfig
        qc = CompressedTensorsConfig(run_compressed=False)
    else:
        qc = FineGrainedFP8Config(weight_block_size=(B, B), dequantize=True)
    m = AutoModelForCausalLM.from_pretrained(a.out_dir, dtype=torch.float32, quantization_config=qc).eval()
    equal = True
    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.Linear) and ".layers." in name:
            c = out[name + ".weight"]
            s = out[name + (".weight_scale" if a.compressed_tensors else ".weight_scale_inv")]
            o, i = c.shape
            ref = (c.double() * s.repeat_interleave(B, 0).repeat_interleave(B, 1)[:o, :i].double()).float()
            equal = equal and torch.equal(mod.weight.data, ref)

    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(a.out_dir, "tokenizer.json"))
    with open(os.path.join(a.out_dir, "eval.txt"), encoding="utf-8", newline="") as f:
        ids = tok(join_rows_hf(f.read()), return_tensors="pt").input_ids[0]
    nll, n = 0.0, 0
    with torch.no_grad():
        for w in range(ids.numel() // 48):
            win = ids[w * 48:(w + 1) * 48].unsqueeze(0)
            logits = m(input_ids=win).logits.double()
            nll += torch.nn.functional.cross_entropy(logits[0, :-1], win[0, 1:], reduction="sum").item()
            n += 47
    print(json.dumps({"dequantized_bit_for_bit": bool(equal), "ppl": math.exp(nll / n), "windows": ids.numel() // 48}))


if __name__ == "__main__":
    main()

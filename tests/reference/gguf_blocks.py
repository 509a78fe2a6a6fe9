"""Random blocks of every ggml type QuantScope dequantizes, and the gguf
package's dequantization of them: test_io's TestGguf::matchesTheGgufPackage
compares core/io/ggml_dequant with it.

Block bytes are random except the f16 scale fields, which are set to finite
halves so both sides compare numbers rather than NaN patterns.

Usage: gguf_blocks.py OUT.safetensors
"""
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES
from safetensors.numpy import save_file

# Byte offsets of each type's f16 fields within its block (ggml-common.h).
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ2_XXS: [0], T.IQ3_XXS: [0], T.IQ4_NL: [0], T.IQ4_XS: [0],
}
BLOCKS = 64


def main(out):
    rng = np.random.default_rng(20261207)
    tensors = {}
    for qtype, offsets in HALF_FIELDS.items():
        _, type_size = GGML_QUANT_SIZES[qtype]
        blocks = rng.integers(0, 256, size=(BLOCKS, type_size), dtype=np.uint8)
        for off in offsets:
            halves = rng.uniform(-2.0, 2.0, size=BLOCKS).astype(np.float16)
            blocks[:, off:off + 2] = halves.view(np.uint8).reshape(BLOCKS, 2)
        values = quants.dequantize(blocks.reshape(-1), qtype).astype(np.float32)
        tensors[qtype.name + ".blocks"] = np.ascontiguousarray(blocks.reshape(-1))
        tensors[qtype.name + ".values"] = np.ascontiguousarray(values.reshape(-1))
    save_file(tensors, out)


if __name__ == "__main__":
    main(sys.argv[1])

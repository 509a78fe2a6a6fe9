#pragma once
// Where each tensor of a model lives in a GGUF file, as llama.cpp's
// convert_hf_to_gguf writes it: GGUF name, Hugging Face name, torch shape
// implied by the config, the Q/K row permutation it applies to Llama models
// (GGML's rope pairs adjacent elements, HF's the two halves of each head), the
// 1 it adds to Gemma's norms (llama.cpp multiplies by the stored weight), and
// the tensors it joins: Phi-3's fused attn_qkv and ffn_up, and a Mixture of
// Experts' experts stacked in one 3-D tensor per projection.

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/model/model_config.h"

namespace qs::checkpoint {

// One HF tensor inside a joined GGUF tensor: its name and how many of the
// joined tensor's rows (its shape's first dimensions flattened) it holds.
struct GgufTensorPart {
  std::string hf;
  int64_t rows = 0;
};

struct GgufTensorName {
  std::string gguf;
  std::string hf;              // empty when the tensor joins parts
  std::vector<int64_t> shape;  // torch order, as the GGUF holds it
  int64_t permute_heads = 0;   // heads the rows were permuted with (0: not permuted)
  bool required = true;
  double added = 0.0;  // what the GGUF holds beyond the HF tensor (Gemma's norms: 1)
  // The HF tensors the rows hold, in order, each [rows, shape.back()]; ggml
  // blocks never cross a row, so each part decodes and encodes alone.
  std::vector<GgufTensorPart> parts = {};
  bool f32 = false;  // kept in float32 however the rest is stored (routers, as the converter keeps them)
};

std::vector<GgufTensorName> gguf_tensor_map(const model::ModelConfig& c);

// HF row order → GGUF row order, for a tensor whose rows are n_head heads.
torch::Tensor permute_rows(const torch::Tensor& w, int64_t n_head);
// The inverse: GGUF row order → HF row order.
torch::Tensor unpermute_rows(const torch::Tensor& w, int64_t n_head);

}  // namespace qs::checkpoint

#pragma once
// A checkpoint opened: the config plus every tensor under its Hugging Face name
// ("model.layers.0.self_attn.q_proj.weight"). Safetensors FP tensors are views
// of the mapped files in their stored dtype (read-only: compute from them,
// never in place); GGUF tensors are deferred: decoded to float32 from the
// mapped file each time one is read, so opening one decodes nothing and a
// streamed run holds one block's weights, never the whole model's.

#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model/model_config.h"

namespace qs::quant {
struct QuantizedLinear;
}

namespace qs::model {

// A tensor read only when asked for: its shape, and how to decode it (a new
// tensor each call); where rows decode alone (a GGUF matrix), also how to
// decode rows [first, first + n), so a vocabulary matrix is read a few rows
// at a time and never whole.
struct DeferredTensor {
  std::vector<int64_t> shape;
  std::function<torch::Tensor()> decode;
  std::function<torch::Tensor(int64_t first, int64_t n)> decode_rows;
};

struct ModelWeights {
  ModelConfig config;
  std::map<std::string, torch::Tensor> tensors;  // HF names, torch [out, in] layout, stored dtype
  std::map<std::string, DeferredTensor> deferred;  // as `tensors`, for names not there
  std::filesystem::path source;                  // file or directory it came from
  std::string source_format;                     // "safetensors" or "gguf"
  std::map<std::string, std::string> source_dtypes;  // HF name -> dtype as stored
  // Linears stored quantized, under their module name ("model.layers.0.mlp.up_proj");
  // such a linear has no "<name>.weight" in `tensors`.
  std::map<std::string, std::shared_ptr<const quant::QuantizedLinear>> quantized;
  // What of a multimodal checkpoint is not the language model (its vision
  // tower, its projector): tensors per top-level module, not read.
  std::map<std::string, int64_t> left_alone;

  // The tensor under `name`, decoded now when deferred. Throws qs::FormatError
  // naming `source` and the tensor when absent.
  torch::Tensor at(const std::string& name) const;
  bool has(const std::string& name) const { return tensors.count(name) != 0 || deferred.count(name) != 0; }
  // Its shape, without decoding it. Throws like at().
  std::vector<int64_t> shape(const std::string& name) const;
  // Replaces (or adds) the tensor under `name`, deferred or not.
  void set(const std::string& name, torch::Tensor t);
  void erase(const std::string& name);
};

}  // namespace qs::model

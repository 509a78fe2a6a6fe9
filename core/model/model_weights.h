#pragma once
// A checkpoint opened: the config plus every tensor under its Hugging Face name
// ("model.layers.0.self_attn.q_proj.weight"). Safetensors FP tensors are views
// of the mapped files in their stored dtype (read-only: compute from them,
// never in place); GGUF tensors are dequantized to float32.

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/model/model_config.h"

namespace qs::quant {
struct QuantizedLinear;
}

namespace qs::model {

struct ModelWeights {
  ModelConfig config;
  std::map<std::string, torch::Tensor> tensors;  // HF names, torch [out, in] layout, stored dtype
  std::filesystem::path source;                  // file or directory it came from
  std::string source_format;                     // "safetensors" or "gguf"
  std::map<std::string, std::string> source_dtypes;  // HF name -> dtype as stored
  // Linears stored quantized, under their module name ("model.layers.0.mlp.up_proj");
  // such a linear has no "<name>.weight" in `tensors`.
  std::map<std::string, std::shared_ptr<const quant::QuantizedLinear>> quantized;

  // Throws qs::FormatError naming `source` and the tensor when absent.
  const torch::Tensor& at(const std::string& name) const;
  bool has(const std::string& name) const { return tensors.count(name) != 0; }
};

}  // namespace qs::model

#pragma once
// One interoperable quantized checkpoint format, both directions: which
// QuantizedLinear records it can hold, the tensors and the config.json
// `quantization_config` it writes for them, and how it reads them back.
// Internal to core (it speaks nlohmann::json); the public entry points are
// packed_export.h and packed_checkpoint.h.

#include <torch/torch.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/quant/quantized_linear.h"

namespace qs::checkpoint {

using TensorList = std::vector<std::pair<std::string, torch::Tensor>>;
using QuantizedMap = std::map<std::string, std::shared_ptr<const quant::QuantizedLinear>>;

class CheckpointFormat {
 public:
  virtual ~CheckpointFormat() = default;
  virtual const char* name() const = 0;

  // Throws qs::ArgumentError naming the layer and the reason when the format
  // cannot hold what these records compute; `kept_fp` are linears left in FP.
  virtual void check(const QuantizedMap& quantized, const std::vector<std::string>& kept_fp) const = 0;
  // Appends the tensors of one linear (scales and floats in `dtype`).
  virtual void add_linear(const std::string& name, const quant::QuantizedLinear& q, torch::ScalarType dtype,
                          TensorList& out) const = 0;
  virtual nlohmann::ordered_json quantization_config(const QuantizedMap& quantized,
                                                     const std::vector<std::string>& kept_fp) const = 0;

  // Turns the format's tensors in `tensors` into records (removing them from
  // `tensors`). Throws qs::FormatError naming `source` and the field or tensor.
  virtual QuantizedMap read(const nlohmann::json& qconfig, const std::string& source,
                            std::map<std::string, torch::Tensor>& tensors) const = 0;
};

std::unique_ptr<CheckpointFormat> make_compressed_tensors_format();
std::unique_ptr<CheckpointFormat> make_gptq_format();
std::unique_ptr<CheckpointFormat> make_gptq_v2_format();
std::unique_ptr<CheckpointFormat> make_awq_format();

// Shared by the formats.
// Removes and returns tensors[name]; throws qs::FormatError naming `source` when absent.
torch::Tensor take_tensor(std::map<std::string, torch::Tensor>& tensors, const std::string& name,
                          const std::string& source);
// Module names of the tensors named "<module><suffix>".
std::vector<std::string> modules_with(const std::map<std::string, torch::Tensor>& tensors, const std::string& suffix);
// The one spec every record shares, or qs::ArgumentError naming a layer that differs.
quant::QuantSpec uniform_spec(const QuantizedMap& quantized, const char* format);
// qs::ArgumentError when a record keeps a dense transform, which no packed
// format can hold. (Side branches go to the PEFT adapter, peft_adapter.h.)
void refuse_transform(const std::string& name, const quant::QuantizedLinear& q, const char* format);
// g_idx of a record: its act-order indices, or i / group.
torch::Tensor group_index(const quant::QuantizedLinear& q);
bool is_trivial_group_index(const torch::Tensor& g_idx, int64_t group);

}  // namespace qs::checkpoint

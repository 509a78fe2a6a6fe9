#include "core/model/model_weights.h"

#include "core/error.h"

namespace qs::model {

const torch::Tensor& ModelWeights::at(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end())
    throw FormatError(source.string(), "tensor '" + name + "'", "missing from the checkpoint");
  return it->second;
}

}  // namespace qs::model

#include "core/model/model_weights.h"

#include "core/error.h"

namespace qs::model {

torch::Tensor ModelWeights::at(const std::string& name) const {
  if (auto it = tensors.find(name); it != tensors.end()) return it->second;
  if (auto it = deferred.find(name); it != deferred.end()) return it->second.decode();
  throw FormatError(source.string(), "tensor '" + name + "'", "missing from the checkpoint");
}

std::vector<int64_t> ModelWeights::shape(const std::string& name) const {
  if (auto it = tensors.find(name); it != tensors.end()) return it->second.sizes().vec();
  if (auto it = deferred.find(name); it != deferred.end()) return it->second.shape;
  throw FormatError(source.string(), "tensor '" + name + "'", "missing from the checkpoint");
}

void ModelWeights::set(const std::string& name, torch::Tensor t) {
  deferred.erase(name);
  tensors[name] = std::move(t);
}

void ModelWeights::erase(const std::string& name) {
  tensors.erase(name);
  deferred.erase(name);
}

}  // namespace qs::model

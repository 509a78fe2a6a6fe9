#include "core/checkpoint/checkpoint_format.h"

#include "core/error.h"

namespace qs::checkpoint {

torch::Tensor take_tensor(std::map<std::string, torch::Tensor>& tensors, const std::string& name,
                          const std::string& source) {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw FormatError(source, "tensor '" + name + "'", "missing");
  auto t = std::move(it->second);
  tensors.erase(it);
  return t;
}

std::vector<std::string> modules_with(const std::map<std::string, torch::Tensor>& tensors, const std::string& suffix) {
  std::vector<std::string> names;
  for (const auto& [n, t] : tensors)
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      names.push_back(n.substr(0, n.size() - suffix.size()));
  return names;
}

quant::QuantSpec uniform_spec(const QuantizedMap& quantized, const char* format) {
  QS_ASSERT(!quantized.empty(), "uniform_spec of no records");
  const auto& [first_name, first] = *quantized.begin();
  for (const auto& [name, q] : quantized) {
    if (q->spec.bits != first->spec.bits || q->spec.group_size != first->spec.group_size ||
        q->spec.symmetric != first->spec.symmetric)
      throw ArgumentError(std::string(format) + " holds one bits/group/symmetric setting for the whole model: " + name +
                          " is " + q->spec.label() + " but " + first_name + " is " + first->spec.label() +
                          " (compressed-tensors can hold mixed settings)");
  }
  return first->spec;
}

void refuse_transform(const std::string& name, const quant::QuantizedLinear& q, const char* format) {
  if (q.transform.defined())
    throw ArgumentError(name + " keeps a dense input transform, which " + std::string(format) +
                        " cannot hold (only a plain W·x layer fits in a packed checkpoint)");
}

torch::Tensor group_index(const quant::QuantizedLinear& q) {
  if (q.g_idx.defined()) return q.g_idx.to(torch::kInt32);
  return torch::div(torch::arange(q.in_features, torch::kInt64), q.spec.group_size, "floor").to(torch::kInt32);
}

bool is_trivial_group_index(const torch::Tensor& g_idx, int64_t group) {
  const auto expected = torch::div(torch::arange(g_idx.numel(), torch::kInt64), group, "floor");
  return torch::equal(g_idx.to(torch::kInt64), expected);
}

}  // namespace qs::checkpoint

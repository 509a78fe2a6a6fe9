#include "core/methods/block_context.h"

#include <algorithm>

#include "core/error.h"
#include "core/model/quantized_linear_op.h"

namespace qs::methods {

BlockContext::BlockContext(model::Decoder& decoder, int64_t layer, torch::Tensor inputs, int64_t batch,
                           Feedback& feedback, torch::Tensor fp_inputs)
    : decoder_(decoder),
      layer_(layer),
      inputs_(std::move(inputs)),
      fp_state_(decoder.block_state(layer)),
      fp_inputs_(std::move(fp_inputs)),
      batch_(std::max<int64_t>(1, batch)),
      feedback_(feedback),
      last_mark_(std::chrono::steady_clock::now()) {}

torch::Tensor BlockContext::run_fp_block(const torch::Tensor& x) {
  auto run = [&] { return map_batches(x, [&](const torch::Tensor& b) { return decoder_.run_block(layer_, b); }); };
  if (!modified_) return run();
  const auto current = decoder_.block_state(layer_);
  decoder_.restore_block_state(layer_, fp_state_);
  torch::Tensor out;
  try {
    out = run();
  } catch (...) {
    decoder_.restore_block_state(layer_, current);
    throw;
  }
  decoder_.restore_block_state(layer_, current);
  return out;
}

const torch::Tensor& BlockContext::targets() {
  if (!targets_.defined()) targets_ = run_fp_block(inputs_);
  return targets_;
}

const torch::Tensor& BlockContext::fp_targets() {
  if (!fp_inputs_.defined() || fp_inputs_.is_same(inputs_)) return targets();
  if (!fp_targets_.defined()) fp_targets_ = run_fp_block(fp_inputs_);
  return fp_targets_;
}

bool BlockContext::is_assigned(LinearRole r) const {
  return std::find(assigned_.begin(), assigned_.end(), r) != assigned_.end();
}

const quant::QuantSpec& BlockContext::spec(LinearRole r) const {
  auto it = specs_.find(r);
  QS_ASSERT(it != specs_.end(), std::string("no spec for ") + model::linear_role_name(r));
  return it->second;
}

torch::Tensor BlockContext::weight(LinearRole r) const {
  return decoder_.linear(layer_, r)->dense_weight().to(torch::kFloat32);
}

torch::Tensor BlockContext::bias(LinearRole r) const { return decoder_.linear(layer_, r)->bias(); }

void BlockContext::set_weight(LinearRole r, const torch::Tensor& weight, const torch::Tensor& bias) {
  QS_ASSERT(!is_quantized(r), std::string(model::linear_role_name(r)) + " is already quantized");
  auto b = bias.defined() ? bias : decoder_.linear(layer_, r)->bias();
  decoder_.set_linear(layer_, r,
                      std::make_shared<model::DenseLinear>(weight.to(device(), dtype()).contiguous(),
                                                           b.defined() ? b.to(device(), dtype()) : b));
  modified_ = true;
}

void BlockContext::set_norm_weight(NormRole n, const torch::Tensor& w) {
  decoder_.set_norm_weight(layer_, n, w);
  modified_ = true;
}

torch::Tensor BlockContext::router_weight() const {
  const auto w = decoder_.router_weight(layer_);
  return w.defined() ? w.to(torch::kFloat32) : w;
}

torch::Tensor BlockContext::shared_expert_gate() const {
  const auto w = decoder_.shared_expert_gate(layer_);
  return w.defined() ? w.to(torch::kFloat32) : w;
}

void BlockContext::set_router(const torch::Tensor& router, const torch::Tensor& shared_expert_gate) {
  decoder_.set_router(layer_, router, shared_expert_gate);
  modified_ = true;
}

void BlockContext::commit(LinearRole r, quant::QuantizedLinear q) {
  QS_ASSERT(is_assigned(r), std::string(model::linear_role_name(r)) + " is not assigned to this method");
  QS_ASSERT(!is_quantized(r), std::string(model::linear_role_name(r)) + " committed twice");
  Committed c;
  c.reference_weight = weight(r);
  c.reference_bias = bias(r);
  if (!q.bias.defined() && c.reference_bias.defined()) q.bias = c.reference_bias.to(torch::kFloat32);
  q.validate("method result", model::linear_name(layer_, r));
  auto record = std::make_shared<const quant::QuantizedLinear>(q.to(torch::kCPU));
  decoder_.set_linear(layer_, r, std::make_shared<model::QuantizedLinearOp>(record, device(), dtype()));
  c.record = record;
  modified_ = true;
  const auto now = std::chrono::steady_clock::now();
  c.seconds = std::chrono::duration<double>(now - last_mark_).count();
  last_mark_ = now;
  committed_.emplace(r, std::move(c));
}

namespace {
// Thrown by the capture hook once a batch has reached every linear asked for:
// the rest of the block (for q, k and v, all of it) need not run.
struct AllCaptured {};
}  // namespace

void BlockContext::for_each_input(const std::vector<LinearRole>& roles,
                                  const std::function<void(LinearRole, const torch::Tensor&)>& fn) {
  torch::NoGradGuard no_grad;
  const bool with_targets = !targets_.defined() && !modified_;
  size_t seen = 0;
  const auto hook =
      decoder_.add_linear_hook([&](const model::LinearSite& site, const torch::Tensor& x, const torch::Tensor&) {
        if (site.layer != layer_ || std::find(roles.begin(), roles.end(), site.role) == roles.end()) return;
        fn(site.role, x);
        if (++seen == roles.size() && !with_targets) throw AllCaptured{};
      });
  std::vector<torch::Tensor> outputs;
  try {
    for (int64_t i = 0; i < inputs_.size(0); i += batch_) {
      check_cancelled();
      seen = 0;
      try {
        auto out = decoder_.run_block(layer_, inputs_.narrow(0, i, std::min(batch_, inputs_.size(0) - i)));
        if (with_targets) outputs.push_back(std::move(out));
      } catch (const AllCaptured&) {
      }
    }
  } catch (...) {
    decoder_.remove_hook(hook);
    throw;
  }
  decoder_.remove_hook(hook);
  if (with_targets) targets_ = torch::cat(outputs, 0);
}

std::map<LinearRole, torch::Tensor> BlockContext::capture_inputs(const std::vector<LinearRole>& roles) {
  std::map<LinearRole, std::vector<torch::Tensor>> parts;
  for_each_input(roles, [&](LinearRole r, const torch::Tensor& x) { parts[r].push_back(x); });
  std::map<LinearRole, torch::Tensor> out;
  for (auto& [r, list] : parts) out[r] = torch::cat(list, 0);
  return out;
}

torch::Tensor map_batches(const torch::Tensor& x, int64_t batch, const Feedback& feedback,
                          const std::function<torch::Tensor(const torch::Tensor&)>& fn) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> outs;
  for (int64_t i = 0; i < x.size(0); i += batch) {
    feedback.check_cancelled();
    outs.push_back(fn(x.narrow(0, i, std::min(batch, x.size(0) - i))));
  }
  return torch::cat(outs, 0);
}

torch::Tensor BlockContext::map_batches(const torch::Tensor& x,
                                        const std::function<torch::Tensor(const torch::Tensor&)>& fn) const {
  return methods::map_batches(x, batch_, feedback_, fn);
}

void BlockContext::begin_method(std::vector<LinearRole> roles, std::map<LinearRole, quant::QuantSpec> specs) {
  assigned_ = std::move(roles);
  specs_ = std::move(specs);
  last_mark_ = std::chrono::steady_clock::now();
}

}  // namespace qs::methods

#include "core/methods/block_training.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/number_format.h"
#include "core/quant/input_transform.h"

namespace qs::methods {
namespace {

using model::LinearRole;

// A linear whose weight (and input transform, shift and bias) is recomputed,
// with gradients, on every forward. The decoder computes T·x once for the
// linears sharing a transform (Decoder::apply_linear); the step's transforms
// are one tensor each, which it recognises, and linears sharing a transform
// share its shift.
class TrainingLinear final : public model::LinearOp {
 public:
  using Part = std::function<torch::Tensor()>;
  TrainingLinear(TrainedWeight weight, Part transform, Part shift, Part bias, int64_t in, int64_t out)
      : weight_(std::move(weight)),
        transform_(std::move(transform)),
        shift_(std::move(shift)),
        bias_(std::move(bias)),
        in_(in),
        out_(out) {}
  torch::Tensor forward(const torch::Tensor& x) const override { return forward_transformed(transform_input(x), x); }
  int64_t in_features() const override { return in_; }
  int64_t out_features() const override { return out_; }
  torch::Tensor dense_weight() const override {
    torch::NoGradGuard no_grad;
    return quant::fold_input_transform(weight_(), transform_()).detach();
  }
  torch::Tensor bias() const override { return bias_(); }
  torch::Tensor input_transform() const override { return transform_(); }
  torch::Tensor transform_input(const torch::Tensor& x) const override {
    const auto t = transform_();
    const auto s = shift_();
    return quant::apply_input_transform(s.defined() ? x - s.to(x.scalar_type()) : x,
                                        t.defined() ? t.to(x.scalar_type()) : t);
  }
  torch::Tensor forward_transformed(const torch::Tensor& tx, const torch::Tensor& x) const override {
    const auto b = bias_();
    return torch::linear(tx, weight_().to(x.scalar_type()), b.defined() ? b.to(x.scalar_type()) : b);
  }

 private:
  TrainedWeight weight_;
  Part transform_;
  Part shift_;
  Part bias_;
  int64_t in_;
  int64_t out_;
};

}  // namespace

TrainingOptions default_training(const methods::BlockContext& ctx, int64_t epochs, const std::string& aug_loss,
                                 int64_t batch, const std::string& method) {
  int bits = 8;
  for (auto r : ctx.assigned()) bits = std::min(bits, ctx.spec(r).bits);
  TrainingOptions o;
  o.epochs = epochs > 0 ? epochs : (bits <= 2 ? 40 : 20);
  o.aug_loss = aug_loss == "auto" ? bits <= 2 : aug_loss == "on";
  o.batch = std::max<int64_t>(1, batch);
  o.method = method;
  return o;
}

TrainingResult train_block(methods::BlockContext& ctx, const std::map<LinearRole, TrainedWeight>& weights,
                           torch::optim::Optimizer& optimizer, const TrainingOptions& options) {
  auto& decoder = ctx.decoder();
  const int64_t layer = ctx.layer();
  const auto fp_out = ctx.fp_targets();
  const auto aug_out = options.aug_loss ? ctx.targets() : torch::Tensor();
  const auto& inputs = ctx.inputs();
  const int64_t n = inputs.size(0), batch = std::max<int64_t>(1, options.batch);
  const std::string series = "layer " + std::to_string(layer) + " " + options.method + " loss";

  const auto saved = decoder.block_state(layer);
  for (const auto& [role, weight] : weights) {
    const auto& op = decoder.linear(layer, role);
    TrainingLinear::Part transform = [&options, role = role] {
      return options.input_transform ? options.input_transform(role) : torch::Tensor();
    };
    TrainingLinear::Part shift = [&options, role = role] {
      return options.input_shift ? options.input_shift(role) : torch::Tensor();
    };
    TrainingLinear::Part bias = [&options, role = role, own = op->bias()] {
      const auto b = options.bias ? options.bias(role) : torch::Tensor();
      return b.defined() ? b : own;
    };
    decoder.set_linear(layer, role,
                       std::make_shared<TrainingLinear>(weight, std::move(transform), std::move(shift), std::move(bias),
                                                        op->in_features(), op->out_features()));
  }
  TrainingResult result;
  try {
    torch::AutoGradMode grad(true);
    for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
      if (options.on_epoch) options.on_epoch(epoch);
      double sum = 0.0;
      int64_t count = 0;
      for (int64_t i = 0; i < n; i += batch) {
        ctx.check_cancelled();
        if (options.before_step) options.before_step();
        const int64_t b = std::min(batch, n - i);
        auto out = decoder.run_block(layer, inputs.narrow(0, i, b)).to(torch::kFloat32);
        auto loss = torch::mse_loss(out, fp_out.narrow(0, i, b).to(torch::kFloat32));
        if (options.aug_loss) loss = loss + torch::mse_loss(out, aug_out.narrow(0, i, b).to(torch::kFloat32));
        const double value = loss.item<double>();
        if (!std::isfinite(value))
          throw Error(options.method + ": the training loss of layer " + std::to_string(layer) +
                      " is not finite at epoch " + std::to_string(epoch) + ", step " + std::to_string(result.steps) +
                      " (try a smaller learning rate)");
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        ctx.feedback().curve_point(series, result.steps++, value);
        sum += value;
        ++count;
      }
      const double mean = sum / static_cast<double>(std::max<int64_t>(1, count));
      if (epoch == 0) result.first_epoch_loss = mean;
      result.last_epoch_loss = mean;
      ctx.feedback().log("layer " + std::to_string(layer) + " " + options.method + " epoch " +
                         std::to_string(epoch + 1) + "/" + std::to_string(options.epochs) + ": loss " +
                         format_number("%.4e", mean));
    }
  } catch (...) {
    decoder.restore_block_state(layer, saved);
    throw;
  }
  decoder.restore_block_state(layer, saved);
  return result;
}

}  // namespace qs::methods

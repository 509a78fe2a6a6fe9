#include "core/methods/rilq.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/methods/rilq_checkpoint.h"
#include "core/number_format.h"
#include "core/methods/model_context.h"

namespace qs::methods {

using methods::LinearSlot;

namespace {

// A frozen linear with a trainable low-rank branch: base(x) + s · B(A x).
// It passes the base's input transform through, so q/k/v (gate/up) still
// compute an AffineQuant norm matrix's T·x once per step, not once per linear.
class LoraTrainingOp final : public model::LinearOp {
 public:
  LoraTrainingOp(std::shared_ptr<const model::LinearOp> base, torch::Tensor a, torch::Tensor b, double scaling)
      : base_(std::move(base)), a_(std::move(a)), b_(std::move(b)), scaling_(scaling) {}
  torch::Tensor forward(const torch::Tensor& x) const override { return base_->forward(x) + branch(x); }
  torch::Tensor input_transform() const override { return base_->input_transform(); }
  torch::Tensor transform_input(const torch::Tensor& x) const override { return base_->transform_input(x); }
  torch::Tensor forward_transformed(const torch::Tensor& tx, const torch::Tensor& x) const override {
    return base_->forward_transformed(tx, x) + branch(x);
  }
  int64_t in_features() const override { return base_->in_features(); }
  int64_t out_features() const override { return base_->out_features(); }
  torch::Tensor dense_weight() const override {
    torch::NoGradGuard no_grad;
    return base_->dense_weight() + (torch::matmul(b_, a_) * scaling_).to(base_->dense_weight().scalar_type());
  }
  torch::Tensor bias() const override { return base_->bias(); }
  // A streamed decoder releases the blocks it no longer keeps: the frozen
  // base's built weight goes with them (the adapters are not built state).
  void release() const override { base_->release(); }

 private:
  torch::Tensor branch(const torch::Tensor& x) const {
    const auto t = x.scalar_type();
    return torch::linear(torch::linear(x, a_.to(t)), b_.to(t)) * scaling_;
  }

  std::shared_ptr<const model::LinearOp> base_;
  torch::Tensor a_;
  torch::Tensor b_;
  double scaling_;
};

struct Adapter {
  LinearSlot slot;
  std::shared_ptr<const model::LinearOp> base;
  torch::Tensor a;  // float32 [rank, in], trained
  torch::Tensor b;  // float32 [out, rank], trained
  torch::Tensor best_a;
  torch::Tensor best_b;
  bool had_gradient = false;
};

struct Losses {
  torch::Tensor hidden;  // MSE of the last hidden state against the FP model's
  torch::Tensor ce;      // next-token cross-entropy
};

// The losses of `last`, the final-normed hidden state of `ids`.
Losses losses_at(model::Decoder& decoder, const torch::Tensor& last, const torch::Tensor& ids,
                 const torch::Tensor& fp_hidden) {
  Losses out;
  out.hidden = torch::mse_loss(last.to(torch::kFloat32), fp_hidden.to(torch::kFloat32));
  const int64_t t = ids.size(1);
  const auto logits = decoder.logits(last.narrow(1, 0, t - 1)).to(torch::kFloat32);
  out.ce = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}), ids.narrow(1, 1, t - 1).reshape({-1}));
  return out;
}

Losses losses_of(model::Decoder& decoder, const torch::Tensor& ids, const torch::Tensor& fp_hidden) {
  return losses_at(decoder, decoder.last_hidden(ids), ids, fp_hidden);
}

struct Weights {
  double hidden = 0.5;
  double ce = 0.5;
};

// One training sequence: its loss, whose gradient divided by `divisor` is
// added to the adapters'. A decoder that keeps every block resident backpropagates
// through one graph of the whole model. One that streams its blocks would
// keep every block's weights alive in that graph, so it is checkpointed per
// block instead: the forward keeps only each block's input, and the backward
// runs the blocks again from the last, one at a time, each graph freed before
// the next block is built. The gradients are the same; the forward is paid twice.
double train_step(model::Decoder& decoder, const torch::Tensor& ids, const torch::Tensor& fp_hidden,
                  const Weights& w, double divisor) {
  const int64_t n = decoder.num_layers();
  const bool streamed = decoder.resident_blocks() > 0 && decoder.resident_blocks() < n;
  if (!streamed) {
    const auto l = losses_of(decoder, ids, fp_hidden);
    const auto loss = w.hidden * l.hidden + w.ce * l.ce;
    (loss / divisor).backward();
    return loss.item<double>();
  }
  std::vector<torch::Tensor> inputs;
  torch::Tensor h;
  {
    torch::NoGradGuard no_grad;
    h = decoder.embed(ids);
    for (int64_t l = 0; l < n; ++l) {
      inputs.push_back(h);
      h = decoder.run_block(l, h);
    }
  }
  auto top = h.detach().requires_grad_(true);
  const auto l = losses_at(decoder, decoder.final_hidden(top), ids, fp_hidden);
  const auto loss = w.hidden * l.hidden + w.ce * l.ce;
  (loss / divisor).backward();
  auto grad = top.grad();
  for (int64_t layer = n - 1; layer >= 0; --layer) {
    // The embedding is frozen: block 0's input needs no gradient.
    auto x = inputs[static_cast<size_t>(layer)].detach().requires_grad_(layer > 0);
    inputs[static_cast<size_t>(layer)] = torch::Tensor();
    const auto y = decoder.run_block(layer, x);
    if (y.requires_grad()) y.backward(grad);
    if (layer > 0) grad = x.grad();
  }
  return loss.item<double>();
}

using Validation = RilqValidation;

Validation validate(methods::ModelContext& ctx, int64_t n_val, const Weights& w) {
  torch::NoGradGuard no_grad;
  Validation v;
  for (int64_t i = 0; i < n_val; ++i) {
    ctx.check_cancelled();
    const auto l = losses_of(ctx.decoder(), ctx.ids().narrow(0, i, 1), ctx.fp_hidden().narrow(0, i, 1));
    v.hidden += l.hidden.item<double>();
    v.ce += l.ce.item<double>();
  }
  v.hidden /= static_cast<double>(n_val);
  v.ce /= static_cast<double>(n_val);
  v.loss = w.hidden * v.hidden + w.ce * v.ce;
  return v;
}

std::string describe(const Validation& v) {
  return format_number("%.5f", v.loss) + " (hidden MSE " + format_number("%.4e", v.hidden) + ", CE " +
         format_number("%.4f", v.ce) + ")";
}

// What a saved state must have been trained with to go on: the parameters
// and the linears, in order.
std::string state_key(const quant::MethodParams& params, const std::vector<Adapter>& adapters) {
  std::string key = "rilq";
  for (const auto& [k, v] : params.values()) key += ";" + k + "=" + quant::to_string(v);
  key += "|";
  for (const auto& ad : adapters) key += model::linear_name(ad.slot.layer, ad.slot.role) + ",";
  return key;
}

// Saves the state after a validation. A save copies every adapter and Adam's
// moments (seconds on a 7B model), so it waits until the training since the
// last save took 20 times as long as that save did: at most 5% of the time
// goes to saving. A state that cannot be written (a full disk) stops the
// saving, not the training.
class StateSaver {
 public:
  StateSaver(std::filesystem::path file, std::string key) : file_(std::move(file)), key_(std::move(key)) {}

  template <class Snapshot>
  void save(const Snapshot& snapshot, Feedback& feedback) {
    using Clock = std::chrono::steady_clock;
    if (file_.empty() || Clock::now() - last_end_ < 20 * last_took_) return;
    const auto t0 = Clock::now();
    const RilqCheckpoint c = snapshot();
    try {
      save_rilq_checkpoint(file_, key_, c);
    } catch (const IoError& e) {
      feedback.log(std::string("rilq: the training state is no longer saved (") + e.what() +
                   "); the training goes on, and should it be cut short, it " +
                   (saved_step_ ? "goes on from training step " + std::to_string(*saved_step_) : "starts over"));
      file_.clear();
      return;
    }
    saved_step_ = c.steps;
    last_end_ = Clock::now();
    last_took_ = last_end_ - t0;
    ++saves_;
    seconds_ += std::chrono::duration<double>(last_took_).count();
  }

  // How often and how long the state was saved, for the run's report.
  void report(methods::ModelContext& ctx) const {
    if (saves_ == 0) return;
    ctx.report("rilq state saves", static_cast<double>(saves_));
    ctx.report("rilq state save seconds", seconds_);
  }

 private:
  std::filesystem::path file_;
  std::string key_;
  std::optional<int64_t> saved_step_;
  std::chrono::steady_clock::time_point last_end_;
  std::chrono::steady_clock::duration last_took_{0};
  int64_t saves_ = 0;
  double seconds_ = 0.0;
};

// The state a run cut short saved in ctx.state_file(), if it fits this run;
// one that does not is set aside with a log line, and the training starts over.
std::optional<RilqCheckpoint> read_state(methods::ModelContext& ctx, const std::string& key,
                                         const std::vector<Adapter>& adapters) {
  if (ctx.state_file().empty()) return std::nullopt;
  std::vector<torch::Tensor> a_like, b_like;
  for (const auto& ad : adapters) {
    a_like.push_back(ad.a);
    b_like.push_back(ad.b);
  }
  try {
    return load_rilq_checkpoint(ctx.state_file(), key, a_like, b_like);
  } catch (const Error& e) {
    ctx.feedback().log(std::string("rilq: starting over: the training state of a run cut short cannot be taken: ") +
                       e.what());
    return std::nullopt;
  }
}

// The record with the adapter appended to its side branch; or, with `merge`,
// the adapter added to the dequantized weight and re-quantized on the same
// grid. Merging needs the plain grid layout; a linear with an input transform
// or act-order groups keeps the branch, and the log says so.
quant::QuantizedLinear with_adapter(const quant::QuantizedLinear& old, const torch::Tensor& a, const torch::Tensor& b,
                                    bool merge, const std::string& name, Feedback& feedback) {
  if (merge && !old.transform.defined() && !old.g_idx.defined()) {
    auto merged = quant::QuantizedLinear::round_to_nearest(old.effective_weight() + torch::matmul(b, a), old.spec);
    merged.bias = old.bias;
    merged.input_scale = old.input_scale;
    return merged;
  }
  if (merge)
    feedback.log("rilq: " + name + " keeps its adapter as a side branch: " +
                 (old.transform.defined() ? "its input transform" : "its act-order groups") +
                 " cannot be re-quantized on the same grid");
  auto q = old;
  q.lora_a = old.lora_a.defined() ? torch::cat({old.lora_a, a}, 0) : a;
  q.lora_b = old.lora_b.defined() ? torch::cat({old.lora_b, b}, 1) : b;
  return q;
}

}  // namespace

std::vector<quant::ParamSpec> RilqRefinement::param_specs() const {
  return {
      {"rank", int64_t{64}, "LoRA rank of each adapter", 1, 65536, {}},
      {"alpha", 16.0, "LoRA alpha; the branch is scaled by alpha / rank", 1e-6, 1e6, {}},
      {"lr", 1e-4, "Adam learning rate", 0.0, 10.0, {}},
      {"grad_accum", int64_t{8}, "sequences whose gradients are summed per optimizer step", 1, 4096, {}},
      {"max_steps", int64_t{10000}, "upper bound on training sequences seen (one per step)", 1, 100000000, {}},
      {"val_fraction", 0.2, "share of the calibration sequences held out for validation and early stopping", 0.0,
       0.9, {}},
      {"eval_every", int64_t{25}, "optimizer steps between validations", 1, 1000000, {}},
      {"patience", int64_t{5}, "validations without improvement before training stops", 1, 1000000, {}},
      {"hidden_weight", 0.5, "weight of the last hidden state's MSE against the FP model", 0.0, 1e6, {}},
      {"ce_weight", 0.5, "weight of the next-token cross-entropy", 0.0, 1e6, {}},
      {"merge", false, "add the adapters to the weights and re-quantize instead of keeping a side branch", 0, 0, {}},
      {"seed", int64_t{42}, "seed of the adapters' Gaussian initialisation", 0, 1e15, {}},
  };
}

void RilqRefinement::refine(methods::ModelContext& ctx, const quant::MethodParams& params) const {
  const auto t0 = std::chrono::steady_clock::now();
  auto& decoder = ctx.decoder();
  const int64_t n = ctx.ids().size(0);
  const double val_fraction = params.get_double("val_fraction");
  if (n < 2 && val_fraction > 0)
    throw ConfigError("rilq", "val_fraction",
                      "holding out validation sequences needs at least 2 calibration sequences (have " +
                          std::to_string(n) + "); add sequences or set val_fraction to 0");
  const int64_t n_val =
      val_fraction > 0 ? std::clamp<int64_t>(std::llround(val_fraction * static_cast<double>(n)), 1, n - 1) : 0;
  if (ctx.ids().size(1) < 2) throw ConfigError("rilq", "calibration", "sequences must be at least 2 tokens long");
  const int64_t n_train = n - n_val;
  const int64_t rank_param = params.get_int("rank");
  const double alpha = params.get_double("alpha");
  const int64_t accum = params.get_int("grad_accum");
  const int64_t max_steps = params.get_int("max_steps");
  const int64_t eval_every = params.get_int("eval_every");
  const int64_t patience = params.get_int("patience");
  const Weights weights{params.get_double("hidden_weight"), params.get_double("ce_weight")};

  auto gen = torch::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(params.get_int("seed")));
  std::vector<Adapter> adapters;
  std::vector<torch::Tensor> learned;
  for (const auto& slot : ctx.assigned()) {
    Adapter ad;
    ad.slot = slot;
    ad.base = decoder.linear(slot.layer, slot.role);
    const int64_t in = ad.base->in_features(), out = ad.base->out_features();
    const int64_t rank = std::min({rank_param, in, out});
    // PEFT's "gaussian" initialisation, as the official code uses: A ~ N(0, (1/r)²), B = 0.
    ad.a = (torch::randn({rank, in}, gen) / static_cast<double>(rank)).to(decoder.device()).requires_grad_(true);
    ad.b = torch::zeros({out, rank}, torch::TensorOptions(decoder.device())).requires_grad_(true);
    learned.push_back(ad.a);
    learned.push_back(ad.b);
    adapters.push_back(std::move(ad));
  }
  if (adapters.empty()) return;
  const auto scaling_of = [alpha](const Adapter& ad) { return alpha / static_cast<double>(ad.a.size(0)); };
  const auto keep_best = [&adapters] {
    for (auto& ad : adapters) {
      ad.best_a = ad.a.detach().clone();
      ad.best_b = ad.b.detach().clone();
    }
  };
  const auto restore_bases = [&] {
    for (const auto& ad : adapters) decoder.set_linear(ad.slot.layer, ad.slot.role, ad.base);
  };

  for (const auto& ad : adapters)
    decoder.set_linear(ad.slot.layer, ad.slot.role,
                       std::make_shared<LoraTrainingOp>(ad.base, ad.a, ad.b, scaling_of(ad)));
  torch::optim::Adam optimizer(learned, torch::optim::AdamOptions(params.get_double("lr")));
  const auto key = state_key(params, adapters);
  StateSaver saver(ctx.state_file(), key);
  Validation initial, best;
  int64_t best_step = 0, steps = 0, optimizer_steps = 0, stale = 0;
  const auto snapshot = [&] {
    RilqCheckpoint c;
    for (const auto& ad : adapters) {
      c.a.push_back(ad.a.detach());
      c.b.push_back(ad.b.detach());
      c.best_a.push_back(ad.best_a);
      c.best_b.push_back(ad.best_b);
      c.had_gradient.push_back(ad.had_gradient);
    }
    capture_adam(optimizer, learned, c);
    c.steps = steps;
    c.optimizer_steps = optimizer_steps;
    c.stale = stale;
    c.best_step = best_step;
    c.initial = initial;
    c.best = best;
    return c;
  };
  try {
    keep_best();
    if (const auto saved = read_state(ctx, key, adapters)) {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < adapters.size(); ++i) {
        adapters[i].a.copy_(saved->a[i]);
        adapters[i].b.copy_(saved->b[i]);
        adapters[i].best_a = saved->best_a[i].to(decoder.device());
        adapters[i].best_b = saved->best_b[i].to(decoder.device());
        adapters[i].had_gradient = saved->had_gradient[i];
      }
      restore_adam(optimizer, learned, *saved);
      steps = saved->steps;
      optimizer_steps = saved->optimizer_steps;
      stale = saved->stale;
      best_step = saved->best_step;
      initial = saved->initial;
      best = saved->best;
      if (n_val > 0) ctx.feedback().curve_point("rilq validation loss", 0, initial.loss);
      ctx.feedback().log("rilq: going on from training step " + std::to_string(steps) + " (optimizer step " +
                         std::to_string(optimizer_steps) + ") of a run cut short, read from " +
                         ctx.state_file().string() +
                         (n_val > 0 ? "; validation loss " + describe(initial) + " at the start, best " +
                                          describe(best) + " at optimizer step " + std::to_string(best_step)
                                    : std::string()));
    } else if (n_val > 0) {
      initial = best = validate(ctx, n_val, weights);
      ctx.feedback().curve_point("rilq validation loss", 0, initial.loss);
      ctx.feedback().log("rilq: " + std::to_string(adapters.size()) + " adapters of rank " +
                         std::to_string(adapters.front().a.size(0)) + ", " + std::to_string(n_train) +
                         " training and " + std::to_string(n_val) + " validation sequences; validation loss " +
                         describe(initial));
    }
    torch::AutoGradMode grad(true);
    double window = 0.0;
    // A run cut short after its last validation stopped it has nothing left to train.
    bool stopped = stale >= patience;
    while (!stopped && steps < max_steps) {
      ++steps;
      ctx.check_cancelled();
      const int64_t i = n_val + (steps - 1) % n_train;
      const double value = train_step(decoder, ctx.ids().narrow(0, i, 1), ctx.fp_hidden().narrow(0, i, 1), weights,
                                      static_cast<double>(accum));
      if (!std::isfinite(value))
        throw Error("rilq: the training loss is not finite at step " + std::to_string(steps) +
                    " (try a smaller learning rate)");
      window += value;
      ctx.feedback().progress("rilq", steps, max_steps);
      if (steps % accum != 0) continue;
      for (auto& ad : adapters)
        ad.had_gradient = ad.had_gradient || (ad.a.grad().defined() && ad.b.grad().defined() &&
                                              ad.a.grad().abs().sum().item<double>() > 0 &&
                                              ad.b.grad().abs().sum().item<double>() > 0);
      optimizer.step();
      optimizer.zero_grad();
      ctx.feedback().curve_point("rilq loss", ++optimizer_steps, window / static_cast<double>(accum));
      window = 0.0;
      if (optimizer_steps % eval_every != 0) continue;
      if (n_val > 0) {
        const auto v = validate(ctx, n_val, weights);
        ctx.feedback().curve_point("rilq validation loss", optimizer_steps, v.loss);
        const bool better = v.loss < best.loss;
        ctx.feedback().log("rilq step " + std::to_string(optimizer_steps) + ": validation loss " + describe(v) +
                           (better ? ", best so far" : ""));
        if (better) {
          best = v;
          best_step = optimizer_steps;
          stale = 0;
          keep_best();
        } else if (++stale >= patience) {
          ctx.feedback().log("rilq: no improvement in " + std::to_string(patience) + " validations, stopping");
          stopped = true;
        }
      }
      saver.save(snapshot, ctx.feedback());
    }
    if (n_val == 0) keep_best();
  } catch (...) {
    restore_bases();
    throw;
  }
  restore_bases();

  const bool merge = params.get_bool("merge");
  int64_t with_gradient = 0;
  for (const auto& ad : adapters) {
    with_gradient += ad.had_gradient ? 1 : 0;
    const auto name = model::linear_name(ad.slot.layer, ad.slot.role);
    ctx.commit(ad.slot, with_adapter(*ctx.record(ad.slot), ad.best_a.to(torch::kCPU),
                                     ad.best_b.to(torch::kCPU) * scaling_of(ad), merge, name, ctx.feedback()));
  }
  ctx.report("rilq steps", static_cast<double>(steps));
  ctx.report("rilq optimizer steps", static_cast<double>(optimizer_steps));
  ctx.report("rilq adapters with gradient", static_cast<double>(with_gradient));
  ctx.report("rilq adapters", static_cast<double>(adapters.size()));
  if (n_val > 0) {
    ctx.report("rilq initial validation loss", initial.loss);
    ctx.report("rilq best validation loss", best.loss);
    ctx.report("rilq best step", static_cast<double>(best_step));
    ctx.feedback().log("rilq: kept the adapters of step " + std::to_string(best_step) + ", validation loss " +
                       describe(initial) + " -> " + describe(best));
    if (merge) {
      const auto merged = validate(ctx, n_val, weights);
      ctx.report("rilq merged validation loss", merged.loss);
      ctx.feedback().log("rilq: merged into the weights and re-quantized, validation loss " + describe(merged) +
                         " (the side branch had " + format_number("%.5f", best.loss) + ")");
    }
  }
  saver.report(ctx);
  ctx.report("rilq seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace qs::methods

#include "core/methods/rilq_checkpoint.h"

#include <map>
#include <utility>

#include "core/error.h"
#include "core/io/safetensors.h"

namespace qs::methods {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "quantscope-rilq-state";

std::string indexed(const char* name, size_t i) { return std::string(name) + "." + std::to_string(i); }

std::string shape_of(torch::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// The loop's counters, "loop.counters" in the file, and its losses,
// "loop.losses", in this order.
std::vector<int64_t> counters_of(const RilqCheckpoint& c) { return {c.steps, c.optimizer_steps, c.stale, c.best_step}; }

std::vector<double> losses_of(const RilqCheckpoint& c) {
  return {c.initial.loss, c.initial.hidden, c.initial.ce, c.best.loss, c.best.hidden, c.best.ce};
}

class Reader {
 public:
  explicit Reader(const fs::path& file) : st_(file), file_(file.string()) {}

  const std::map<std::string, std::string>& metadata() const { return st_.metadata(); }
  const std::string& file() const { return file_; }

  torch::Tensor tensor(const std::string& name, torch::ScalarType dtype, torch::IntArrayRef shape) const {
    const auto* e = st_.find(name);
    if (!e) throw FormatError(file_, name, "missing");
    auto t = st_.load(name);
    if (t.scalar_type() != dtype)
      throw FormatError(file_, name,
                        std::string("is ") + c10::toString(t.scalar_type()) + ", expected " + c10::toString(dtype));
    if (t.sizes() != shape)
      throw FormatError(file_, name, "has shape " + shape_of(t.sizes()) + " where " + shape_of(shape) + " fits");
    return t;
  }

 private:
  io::SafetensorsFile st_;
  std::string file_;
};

}  // namespace

void capture_adam(torch::optim::Adam& adam, const std::vector<torch::Tensor>& params, RilqCheckpoint& c) {
  c.adam_step.clear();
  c.exp_avg.clear();
  c.exp_avg_sq.clear();
  for (const auto& p : params) {
    const auto it = adam.state().find(p.unsafeGetTensorImpl());
    if (it == adam.state().end()) {
      c.adam_step.push_back(0);
      c.exp_avg.emplace_back();
      c.exp_avg_sq.emplace_back();
      continue;
    }
    const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
    c.adam_step.push_back(s.step());
    c.exp_avg.push_back(s.exp_avg());
    c.exp_avg_sq.push_back(s.exp_avg_sq());
  }
}

void restore_adam(torch::optim::Adam& adam, const std::vector<torch::Tensor>& params, const RilqCheckpoint& c) {
  for (size_t i = 0; i < params.size(); ++i) {
    if (c.adam_step[i] == 0) continue;
    auto s = std::make_unique<torch::optim::AdamParamState>();
    s->step(c.adam_step[i]);
    s->exp_avg(c.exp_avg[i].to(params[i].device()));
    s->exp_avg_sq(c.exp_avg_sq[i].to(params[i].device()));
    adam.state()[params[i].unsafeGetTensorImpl()] = std::move(s);
  }
}

void save_rilq_checkpoint(const fs::path& file, const std::string& key, const RilqCheckpoint& c) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (size_t i = 0; i < c.a.size(); ++i) {
    tensors.emplace_back(indexed("a", i), c.a[i]);
    tensors.emplace_back(indexed("b", i), c.b[i]);
    tensors.emplace_back(indexed("best_a", i), c.best_a[i]);
    tensors.emplace_back(indexed("best_b", i), c.best_b[i]);
  }
  std::vector<int64_t> had(c.had_gradient.begin(), c.had_gradient.end());
  tensors.emplace_back("had_gradient", torch::tensor(had, torch::kInt64));
  tensors.emplace_back("adam_step", torch::tensor(c.adam_step, torch::kInt64));
  for (size_t i = 0; i < c.adam_step.size(); ++i) {
    if (c.adam_step[i] == 0) continue;
    tensors.emplace_back(indexed("exp_avg", i), c.exp_avg[i]);
    tensors.emplace_back(indexed("exp_avg_sq", i), c.exp_avg_sq[i]);
  }
  tensors.emplace_back("loop.counters", torch::tensor(counters_of(c), torch::kInt64));
  tensors.emplace_back("loop.losses", torch::tensor(losses_of(c), torch::kFloat64));
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) throw IoError(file.parent_path().string(), "cannot create the directory: " + ec.message());
  io::write_safetensors(file, tensors, {{"format", kFormat}, {"key", key}});
}

std::optional<RilqCheckpoint> load_rilq_checkpoint(const fs::path& file, const std::string& key,
                                                   const std::vector<torch::Tensor>& a_like,
                                                   const std::vector<torch::Tensor>& b_like) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  const Reader r(file);
  const auto meta = [&](const char* field) {
    const auto it = r.metadata().find(field);
    if (it == r.metadata().end()) throw FormatError(r.file(), std::string("__metadata__.") + field, "missing");
    return it->second;
  };
  if (meta("format") != kFormat)
    throw FormatError(r.file(), "__metadata__.format", "is '" + meta("format") + "', expected '" + kFormat + "'");
  if (meta("key") != key)
    throw FormatError(r.file(), "__metadata__.key",
                      "was written by a run with other RILQ parameters or other linears than this one");

  const auto n = static_cast<int64_t>(a_like.size());
  RilqCheckpoint c;
  for (size_t i = 0; i < a_like.size(); ++i) {
    c.a.push_back(r.tensor(indexed("a", i), torch::kFloat32, a_like[i].sizes()));
    c.b.push_back(r.tensor(indexed("b", i), torch::kFloat32, b_like[i].sizes()));
    c.best_a.push_back(r.tensor(indexed("best_a", i), torch::kFloat32, a_like[i].sizes()));
    c.best_b.push_back(r.tensor(indexed("best_b", i), torch::kFloat32, b_like[i].sizes()));
  }
  const auto had = r.tensor("had_gradient", torch::kInt64, {n});
  for (int64_t i = 0; i < n; ++i) c.had_gradient.push_back(had[i].item<int64_t>() != 0);
  const auto steps = r.tensor("adam_step", torch::kInt64, {2 * n});
  for (int64_t i = 0; i < 2 * n; ++i) {
    const int64_t s = steps[i].item<int64_t>();
    if (s < 0) throw FormatError(r.file(), "adam_step", "holds a negative step count");
    c.adam_step.push_back(s);
    const auto& like = i % 2 == 0 ? a_like[static_cast<size_t>(i / 2)] : b_like[static_cast<size_t>(i / 2)];
    c.exp_avg.push_back(s ? r.tensor(indexed("exp_avg", static_cast<size_t>(i)), torch::kFloat32, like.sizes())
                          : torch::Tensor());
    c.exp_avg_sq.push_back(s ? r.tensor(indexed("exp_avg_sq", static_cast<size_t>(i)), torch::kFloat32, like.sizes())
                             : torch::Tensor());
  }
  const auto counters = r.tensor("loop.counters", torch::kInt64, {4});
  const auto* k = counters.data_ptr<int64_t>();
  c.steps = k[0];
  c.optimizer_steps = k[1];
  c.stale = k[2];
  c.best_step = k[3];
  if (c.steps < 0 || c.optimizer_steps < 0 || c.stale < 0 || c.best_step < 0 || c.best_step > c.optimizer_steps)
    throw FormatError(r.file(), "loop.counters", "holds counts no run reaches");
  const auto losses = r.tensor("loop.losses", torch::kFloat64, {6});
  const auto* v = losses.data_ptr<double>();
  c.initial = {v[0], v[1], v[2]};
  c.best = {v[3], v[4], v[5]};
  return c;
}

}  // namespace qs::methods

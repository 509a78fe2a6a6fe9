#include "core/analysis/stored_linear.h"

#include <optional>
#include <utility>

#include "core/error.h"
#include "core/model/decoder.h"
#include "core/quant/quantized_linear.h"

namespace qs::analysis {
namespace {

using model::LinearRole;

std::optional<std::pair<int64_t, LinearRole>> site_of(const model::ModelWeights& w, const std::string& name) {
  for (int64_t l = 0; l < w.config.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LinearRole r;
    if (name.rfind(p, 0) == 0 && model::parse_linear_role(name.substr(p.size()), r) &&
        model::linear_slot(w.config, l, r) >= 0)
      return std::pair{l, r};
  }
  return std::nullopt;
}

std::string norm_name(const model::ModelConfig& c, int64_t layer, bool in_front_of_mlp) {
  return model::norm_name(c, layer, in_front_of_mlp ? model::NormRole::PostAttention : model::NormRole::Input);
}

torch::Tensor f32(const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat32); }

// s_in of `name`: its record's, else the one recorded beside the checkpoint;
// undefined when neither holds one (or `name` is not quantized).
torch::Tensor input_scale_of(const model::ModelWeights& checkpoint,
                             const std::map<std::string, torch::Tensor>& recorded, const std::string& name) {
  if (auto it = checkpoint.quantized.find(name); it != checkpoint.quantized.end() && it->second->input_scale.defined())
    return it->second->input_scale;
  if (auto it = recorded.find(name); it != recorded.end()) return it->second;
  return {};
}

}  // namespace

StoredFrame fp_weight_in_stored_frame(const model::ModelWeights& checkpoint, const model::ModelWeights& fp,
                                      const std::string& name, const std::map<std::string, torch::Tensor>& recorded) {
  const auto& q = *checkpoint.quantized.at(name);
  const auto site = site_of(checkpoint, name);
  auto w = f32(fp.at(name + ".weight"));
  if (w.size(0) != q.out_features || w.size(1) != q.in_features)
    return {{}, "the FP model's " + name + " has another shape"};
  if (!site) return {w, {}};
  const auto [layer, role] = *site;

  // Norms that differ from the FP model's hold folded scales; whether the
  // checkpoint also says which ones went into the linears is read off its records.
  bool norms_moved = false, records_scales = false;
  for (bool post : {false, true}) {
    const auto n = norm_name(checkpoint.config, layer, post);
    if (checkpoint.has(n) && fp.has(n) && !torch::equal(f32(checkpoint.at(n)), f32(fp.at(n)))) norms_moved = true;
  }
  for (auto r : model::block_linear_roles(checkpoint.config, layer))
    if (input_scale_of(checkpoint, recorded, model::linear_name(layer, r)).defined()) records_scales = true;
  const bool unknown_scales = norms_moved && !records_scales;

  const bool norm_fed = role.kind != model::LinearKind::O && role.kind != model::LinearKind::Down;
  if (const auto s = input_scale_of(checkpoint, recorded, name); s.defined()) {
    if (s.numel() != w.size(1)) return {{}, "the recorded input scale of " + name + " has another length"};
    w = w * f32(s).unsqueeze(0);
  } else if (unknown_scales && norm_fed) {
    const auto n = norm_name(checkpoint.config, layer, role.in_mlp());
    const auto stored = f32(model::norm_factor(checkpoint.config, checkpoint.at(n)));
    if ((stored == 0).any().item<bool>()) return {{}, n + " has zeros, so the folded scale is not recoverable"};
    w = w * (f32(model::norm_factor(fp.config, fp.at(n))) / stored).unsqueeze(0);
  } else if (unknown_scales) {
    return {{},
            "its block's norms differ from the FP model's (scales folded by activation smoothing, as AWQ does), and "
            "the checkpoint does not record the scales of this linear's input"};
  }
  // v and up give their rows' 1/s to o's and down's inputs.
  if (role == LinearRole::V || role.kind == model::LinearKind::Up) {
    if (unknown_scales)
      return {{},
              "its block's norms differ from the FP model's (scales folded by activation smoothing, as AWQ does), "
              "and the checkpoint does not record the scales folded into this linear's rows"};
    const auto next =
        model::linear_name(layer, role == LinearRole::V ? LinearRole::O : LinearRole{model::LinearKind::Down, role.expert});
    if (const auto s = input_scale_of(checkpoint, recorded, next); s.defined()) {
      if (s.numel() != w.size(0)) return {{}, "the recorded input scale of " + next + " has another length"};
      w = w / f32(s).unsqueeze(1);
    }
  }
  return {w, {}};
}

}  // namespace qs::analysis

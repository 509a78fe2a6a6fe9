#include "core/methods/affine_fold.h"

#include "core/error.h"

namespace qs::methods {

using model::LinearRole;

namespace {

// W·Aᵀ, or W·diag(a).
torch::Tensor times_transpose(const torch::Tensor& w, const torch::Tensor& a) {
  return a.dim() == 1 ? w * a.unsqueeze(0) : torch::matmul(w, a.t());
}

// The per-KV-head blocks as one block-diagonal matrix [kv·d, kv·d].
torch::Tensor block_diagonal(const torch::Tensor& blocks) {
  std::vector<torch::Tensor> rows;
  for (int64_t g = 0; g < blocks.size(0); ++g) rows.push_back(blocks[g]);
  return torch::block_diag(rows);
}

// What belongs to the norm feeding `role`: `input` for q/k/v, `post` for
// gate/up; none for o_proj and down_proj.
const torch::Tensor& fed_by_norm(LinearRole role, const torch::Tensor& input, const torch::Tensor& post) {
  static const torch::Tensor none;
  switch (role.kind) {
    case model::LinearKind::Q:
    case model::LinearKind::K:
    case model::LinearKind::V:
      return input;
    case model::LinearKind::Gate:
    case model::LinearKind::Up:
      return post;
    default:
      return none;
  }
}

}  // namespace

torch::Tensor input_transform(const torch::Tensor& a) {
  if (a.dim() == 1) return 1.0 / a;
  const auto eye = torch::eye(a.size(0), a.options());
  return torch::linalg_solve(a.t(), eye);
}

const torch::Tensor& input_shift(LinearRole role, const BlockAffine& affine) {
  return fed_by_norm(role, affine.input_shift, affine.post_shift);
}

torch::Tensor shifted_bias(LinearRole role, const torch::Tensor& w, const torch::Tensor& b, const BlockAffine& affine,
                           const model::ModelConfig& config) {
  auto out = b;
  const auto add = [&out](const torch::Tensor& t) { out = out.defined() ? out + t : t; };
  if (const auto& d = input_shift(role, affine); d.defined()) add(torch::mv(w, d));
  const auto& dv = affine.value_shift;
  if (!dv.defined()) return out;
  const int64_t kv = config.num_kv_heads, d = config.head_dim;
  if (role == LinearRole::V) {
    const auto shifted = out.defined() ? out - dv : -dv;
    if (!affine.values.defined()) return shifted;
    // A⁻ᵀ per KV head, as on v_proj's rows.
    return torch::linalg_solve(affine.values.transpose(1, 2), shifted.reshape({kv, d, 1})).reshape({kv * d});
  }
  if (role == LinearRole::O)
    add(torch::mv(w, dv.reshape({kv, 1, d}).expand({kv, config.num_heads / kv, d}).reshape({-1})));
  return out;
}

const torch::Tensor& input_affine(LinearRole role, const BlockAffine& affine) {
  return fed_by_norm(role, affine.input_norm, affine.post_attention);
}

torch::Tensor transformed_weight(LinearRole role, const torch::Tensor& w, const BlockAffine& affine,
                                 const model::ModelConfig& config) {
  auto out = w;
  if (affine.values.defined() && (role == LinearRole::V || role == LinearRole::O)) {
    const auto& blocks = affine.values;
    const int64_t kv = blocks.size(0), d = blocks.size(1);
    if (kv != config.num_kv_heads || d != config.head_dim)
      throw ArgumentError("AffineQuant: the value transform has the wrong shape");
    if (role == LinearRole::V) {
      // A⁻ᵀ per KV head on v_proj's rows.
      const auto eye = torch::eye(d, blocks.options()).expand({kv, d, d});
      out = torch::matmul(block_diagonal(torch::linalg_solve(blocks.transpose(1, 2), eye)), out);
    } else {
      // Aᵀ of each query head's KV group on o_proj's columns.
      const int64_t groups = config.num_heads / config.num_kv_heads;
      out = torch::matmul(out, block_diagonal(blocks.repeat_interleave(groups, 0)).t());
    }
  }
  if (const auto& a = input_affine(role, affine); a.defined()) out = times_transpose(out, a);
  return out;
}

std::map<LinearRole, torch::Tensor> transformed_weights(const std::map<LinearRole, torch::Tensor>& weights,
                                                        const BlockAffine& affine, const model::ModelConfig& config) {
  std::map<LinearRole, torch::Tensor> out;
  for (const auto& [role, w] : weights) out[role] = transformed_weight(role, w, affine, config);
  return out;
}

torch::Tensor gradual_mask(int64_t n, int64_t epoch, int64_t epochs, double stability, torch::Device device) {
  const int64_t band = epochs <= 1 ? n : (n - 1) * epoch / (epochs - 1) + 1;
  const auto idx = torch::arange(n, torch::TensorOptions(device).dtype(torch::kLong));
  const auto dist = (idx.unsqueeze(0) - idx.unsqueeze(1)).abs();
  auto mask = torch::where(dist < band, torch::full({}, stability, torch::TensorOptions(device)),
                           torch::zeros({}, torch::TensorOptions(device)));
  return mask + torch::eye(n, torch::TensorOptions(device)) * (1.0 - stability);
}

void keep_away_from_zero(torch::Tensor& p, double least) {
  torch::NoGradGuard no_grad;
  p.copy_(torch::where(p.abs() < least, p.sign() * least, p));
}

torch::Tensor non_dominant_rows(const torch::Tensor& a) {
  const auto m = a.dim() == 2 ? a.unsqueeze(0) : a;
  const auto diag = m.diagonal(0, 1, 2).abs();
  const auto off = m.abs().sum(-1) - diag;
  return (diag <= off).reshape({-1}).nonzero().reshape({-1});
}

}  // namespace qs::methods

#include "core/quant/ste_fake_quant.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>

#include "core/error.h"
#include "core/quant/uniform_quantizer.h"

namespace qs::quant {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Round half to even, as torch::round, in plain float arithmetic so the loops
// vectorize without SSE4.1: past 1.5·2^23 a float's spacing is 1. |x| is kept
// under 2^22, where that holds; such a code is clamped to the grid's end anyway.
inline float round_even(float x) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  constexpr float kLimit = 4194304.0f;   // 2^22
  x = x < -kLimit ? -kLimit : (x > kLimit ? kLimit : x);
  return (x + kMagic) - kMagic;
}

struct Shape {
  int64_t out, in, groups, group;
  float qmax;
};

Shape shape_of(const torch::Tensor& w, const torch::Tensor& scale, int64_t group, int64_t qmax) {
  return {w.size(0), w.size(1), scale.size(1), group, static_cast<float>(qmax)};
}

void forward_cpu(const torch::Tensor& w, const torch::Tensor& scale, const torch::Tensor& zero, const Shape& sh,
                 torch::Tensor& y) {
  const float* wp = w.data_ptr<float>();
  const float* sp = scale.data_ptr<float>();
  const float* zp = zero.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, sh.out, 16, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      for (int64_t g = 0; g < sh.groups; ++g) {
        const float s = sp[o * sh.groups + g], z = zp[o * sh.groups + g];
        const int64_t j0 = g * sh.group, j1 = std::min(sh.in, j0 + sh.group);
        const float* wr = wp + o * sh.in;
        float* yr = yp + o * sh.in;
        for (int64_t j = j0; j < j1; ++j) {
          float c = round_even(wr[j] / s) + z;
          c = c < 0.0f ? 0.0f : (c > sh.qmax ? sh.qmax : c);
          yr[j] = (c - z) * s;
        }
      }
    }
  });
}

// Eight partial sums per group, so the reduction vectorizes without
// reassociating float additions.
template <bool kGradW>
void backward_cpu(const torch::Tensor& grad, const torch::Tensor& w, const torch::Tensor& scale,
                  const torch::Tensor& zero, const Shape& sh, float* grad_w, float* grad_scale) {
  const float* gp = grad.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const float* sp = scale.data_ptr<float>();
  const float* zp = zero.data_ptr<float>();
  at::parallel_for(0, sh.out, 16, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      const float* wr = wp + o * sh.in;
      const float* gr = gp + o * sh.in;
      float* gwr = kGradW ? grad_w + o * sh.in : nullptr;
      for (int64_t g = 0; g < sh.groups; ++g) {
        const float s = sp[o * sh.groups + g], z = zp[o * sh.groups + g];
        const int64_t j0 = g * sh.group, j1 = std::min(sh.in, j0 + sh.group);
        std::array<float, 8> acc{};
        const auto term = [&](int64_t k, size_t lane) {
          const float u = wr[k] / s;
          const float raw = round_even(u) + z;
          const bool inside = raw >= 0.0f && raw <= sh.qmax;
          const float c = raw < 0.0f ? 0.0f : (raw > sh.qmax ? sh.qmax : raw);
          if constexpr (kGradW) gwr[k] = inside ? gr[k] : 0.0f;
          acc[lane] += gr[k] * ((c - z) - (inside ? u : 0.0f));
        };
        int64_t j = j0;
        for (; j + 8 <= j1; j += 8)
          for (size_t l = 0; l < 8; ++l) term(j + static_cast<int64_t>(l), l);
        for (; j < j1; ++j) term(j, 0);
        if (grad_scale) {
          float sum = 0.0f;
          for (float a : acc) sum += a;
          grad_scale[o * sh.groups + g] = sum;
        }
      }
    }
  });
}

bool fused(const torch::Tensor& w) { return w.device().is_cpu() && w.scalar_type() == torch::kFloat32; }

// The same formulas as tensor ops, on [out, groups, group] views of w padded
// to whole groups.
struct Grouped {
  torch::Tensor u, raw, code;
};

Grouped grouped_codes(const torch::Tensor& w, const torch::Tensor& scale, const torch::Tensor& zero,
                      const Shape& sh) {
  const auto wg = pad_to_groups(w, sh.group).reshape({sh.out, sh.groups, sh.group});
  Grouped r;
  r.u = wg / scale.unsqueeze(-1);
  r.raw = torch::round(r.u) + zero.unsqueeze(-1);
  r.code = r.raw.clamp(0.0, static_cast<double>(sh.qmax));
  return r;
}

torch::Tensor ungroup(const torch::Tensor& t, const Shape& sh) {
  return t.reshape({sh.out, sh.groups * sh.group}).narrow(1, 0, sh.in);
}

class FakeQuantSte : public torch::autograd::Function<FakeQuantSte> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& w, const torch::Tensor& scale,
                               const torch::Tensor& zero, int64_t group, int64_t qmax) {
    const auto sh = shape_of(w, scale, group, qmax);
    ctx->save_for_backward({w, scale, zero});
    ctx->saved_data["group"] = group;
    ctx->saved_data["qmax"] = qmax;
    if (fused(w)) {
      auto y = torch::empty_like(w);
      forward_cpu(w, scale, zero, sh, y);
      return y;
    }
    const auto g = grouped_codes(w, scale, zero, sh);
    return ungroup((g.code - zero.unsqueeze(-1)) * scale.unsqueeze(-1), sh).contiguous();
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &w = saved[0], &scale = saved[1], &zero = saved[2];
    const auto sh = shape_of(w, scale, ctx->saved_data["group"].toInt(), ctx->saved_data["qmax"].toInt());
    const bool want_w = ctx->needs_input_grad(0), want_scale = ctx->needs_input_grad(1);
    torch::Tensor grad_w, grad_scale;
    if (fused(w)) {
      const auto grad = grads[0].to(torch::kFloat32).contiguous();
      if (want_w) grad_w = torch::empty_like(w);
      if (want_scale) grad_scale = torch::empty_like(scale);
      float* gs = want_scale ? grad_scale.data_ptr<float>() : nullptr;
      if (want_w)
        backward_cpu<true>(grad, w, scale, zero, sh, grad_w.data_ptr<float>(), gs);
      else
        backward_cpu<false>(grad, w, scale, zero, sh, nullptr, gs);
    } else {
      const auto g = grouped_codes(w, scale, zero, sh);
      const auto inside = (g.raw >= 0.0) & (g.raw <= static_cast<double>(sh.qmax));
      const auto padded = torch::constant_pad_nd(grads[0], {0, sh.groups * sh.group - sh.in})
                              .reshape({sh.out, sh.groups, sh.group});
      if (want_w) grad_w = ungroup(padded * inside, sh);
      if (want_scale)
        grad_scale = (padded * ((g.code - zero.unsqueeze(-1)) - g.u * inside)).sum(-1);
    }
    return {grad_w, grad_scale, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor fake_quantize_ste(const torch::Tensor& w, const torch::Tensor& scale, const torch::Tensor& zero,
                                int64_t group, int64_t qmax) {
  QS_ASSERT(w.dim() == 2 && group > 0, "fake_quantize_ste: w must be [out, in] with a positive group");
  const int64_t groups = (w.size(1) + group - 1) / group;
  QS_ASSERT(scale.sizes() == torch::IntArrayRef({w.size(0), groups}) && zero.sizes() == scale.sizes(),
            "fake_quantize_ste: scale and zero must be [out, groups]");
  const auto dtype = w.scalar_type();
  return FakeQuantSte::apply(w.contiguous(), scale.to(dtype).contiguous(), zero.to(dtype).detach().contiguous(),
                             group, qmax);
}

}  // namespace qs::quant

#include <QTest>
#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/methods/affine_fold.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/quant/input_transform.h"
#include "tests/methods/method_runs.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
using model::LinearRole;

namespace {

// A random strictly diagonally dominant matrix (or stack of them).
torch::Tensor dominant(std::vector<int64_t> shape, double off = 0.02) {
  const int64_t n = shape.back();
  auto a = torch::randn(shape) * off;
  return a + torch::diag_embed(torch::rand(std::vector<int64_t>(shape.begin(), shape.end() - 1)) + 1.0) -
         torch::diag_embed(a.diagonal(0, -2, -1));
  (void)n;
}

// Block 0 of `d` on x with every linear replaced by the dense weight and
// bias it computes under the transforms and shifts: W'·T·(x − δ) + b' as
// W'·T·x + (b' − W'·T·δ), the way AffineQuant commits them.
torch::Tensor block_under(model::Decoder& d, const methods::BlockAffine& affine, const torch::Tensor& x) {
  const auto saved = d.block_state(0);
  for (auto r : model::kLinearRoles) {
    const auto w = d.linear(0, r)->dense_weight();
    auto t = methods::transformed_weight(r, w, affine, d.config());
    if (const auto& a = methods::input_affine(r, affine); a.defined())
      t = quant::fold_input_transform(t, methods::input_transform(a));
    auto b = methods::shifted_bias(r, w, d.linear(0, r)->bias(), affine, d.config());
    if (const auto& shift = methods::input_shift(r, affine); shift.defined()) b = b - torch::mv(t, shift);
    d.set_linear(0, r, std::make_shared<model::DenseLinear>(t, b));
  }
  auto out = d.run_block(0, x);
  d.restore_block_state(0, saved);
  return out;
}

}  // namespace

class TestAffineQuant : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // Before quantization the transforms change nothing: dense matrices after
  // both norms and per-KV-head matrices between v and o (GQA: 4 query heads
  // on 2 KV heads), with channel shifts at all three, leave the block's
  // output as it was, to 1e-5 in fp32 relative to its largest entry
  // (W·Aᵀ·A⁻ᵀ rounds at every product; the plain folds hold to 1e-5 absolute).
  void foldingPreservesTheFpFunction() {
    torch::manual_seed(31);
    const auto weights = test::make_tiny_llama(test::tiny_config(), 31);
    model::Decoder d(weights, torch::kCPU, torch::kFloat32);
    torch::NoGradGuard g;
    const auto& c = d.config();
    QVERIFY(c.num_kv_heads < c.num_heads);
    methods::BlockAffine affine;
    affine.input_norm = dominant({c.hidden_size, c.hidden_size});
    affine.post_attention = dominant({c.hidden_size, c.hidden_size});
    affine.values = dominant({c.num_kv_heads, c.head_dim, c.head_dim}, 0.05);
    affine.input_shift = torch::randn({c.hidden_size}) * 0.3;
    affine.post_shift = torch::randn({c.hidden_size}) * 0.3;
    affine.value_shift = torch::randn({c.num_kv_heads * c.head_dim}) * 0.3;
    const auto x = torch::randn({2, 12, c.hidden_size});
    const auto expected = d.run_block(0, x);
    const double diff = (block_under(d, affine, x) - expected).abs().max().item<double>();
    const double scale = expected.abs().max().item<double>();
    QVERIFY2(diff < 1e-5 * scale, qPrintable(QString("%1 of %2").arg(diff).arg(scale)));
    // Every linear but down_proj carries a shift's bias; o_proj and down_proj
    // see no input shift.
    for (auto r : model::kLinearRoles) {
      const bool shifted_input = r != LinearRole::O && r != LinearRole::Down;
      QCOMPARE(methods::input_shift(r, affine).defined(), shifted_input);
      QCOMPARE(methods::shifted_bias(r, d.linear(0, r)->dense_weight(), {}, affine, c).defined(),
               r != LinearRole::Down);
    }
    // The value transform alone folds into v_proj and o_proj as plain weights.
    methods::BlockAffine values_only;
    values_only.values = affine.values;
    QVERIFY(!methods::input_affine(LinearRole::V, values_only).defined());
    QVERIFY((block_under(d, values_only, x) - expected).abs().max().item<double>() < 1e-5);
  }

  // Diagonal transforms fold into the norms: norm / a and W·diag(a).
  void diagonalScalesFoldIntoTheNorms() {
    torch::manual_seed(32);
    const auto weights = test::make_tiny_llama(test::tiny_config(), 32);
    model::Decoder d(weights, torch::kCPU, torch::kFloat32);
    torch::NoGradGuard g;
    const auto& c = d.config();
    const auto a1 = torch::rand({c.hidden_size}) * 4 + 0.25, a2 = torch::rand({c.hidden_size}) * 4 + 0.25;
    methods::BlockAffine affine;
    affine.input_norm = a1;
    affine.post_attention = a2;
    const auto x = torch::randn({2, 12, c.hidden_size});
    const auto expected = d.run_block(0, x);
    std::map<LinearRole, torch::Tensor> w;
    for (auto r : model::kLinearRoles) w[r] = d.linear(0, r)->dense_weight();
    for (const auto& [r, t] : methods::transformed_weights(w, affine, c))
      d.set_linear(0, r, std::make_shared<model::DenseLinear>(t, torch::Tensor()));
    d.set_norm_weight(0, model::NormRole::Input, d.norm_weight(0, model::NormRole::Input) / a1);
    d.set_norm_weight(0, model::NormRole::PostAttention, d.norm_weight(0, model::NormRole::PostAttention) / a2);
    QVERIFY((d.run_block(0, x) - expected).abs().max().item<double>() < 1e-5);
  }

  // The transformed weights are differentiable in every entry the mask frees.
  void gradientsReachEveryTransform() {
    torch::manual_seed(33);
    const auto c = test::tiny_config();
    const auto weights = test::make_tiny_llama(c, 33);
    model::Decoder d(weights, torch::kCPU, torch::kFloat32);
    methods::BlockAffine affine;
    auto a1 = dominant({c.hidden_size, c.hidden_size}).requires_grad_(true);
    auto a2 = dominant({c.hidden_size, c.hidden_size}).requires_grad_(true);
    auto a3 = dominant({c.num_kv_heads, c.head_dim, c.head_dim}).requires_grad_(true);
    const auto m = methods::gradual_mask(c.hidden_size, 1, 3, 1e-2, torch::kCPU);
    affine.input_norm = a1 * m;
    affine.post_attention = a2 * m;
    affine.values = a3 * methods::gradual_mask(c.head_dim, 1, 3, 1e-2, torch::kCPU);
    auto d1 = torch::zeros({c.hidden_size}, torch::requires_grad());
    auto d2 = torch::zeros({c.hidden_size}, torch::requires_grad());
    auto d3 = torch::zeros({c.num_kv_heads * c.head_dim}, torch::requires_grad());
    affine.input_shift = d1;
    affine.post_shift = d2;
    affine.value_shift = d3;
    torch::Tensor loss = torch::zeros({});
    for (auto r : model::kLinearRoles) {
      const auto w = d.linear(0, r)->dense_weight();
      auto t = methods::transformed_weight(r, w, affine, c);
      if (const auto& a = methods::input_affine(r, affine); a.defined())
        t = quant::fold_input_transform(t.round(), methods::input_transform(a));
      loss = loss + t.pow(2).sum();
      // What the shift leaves behind once the weight is rounded.
      if (auto b = methods::shifted_bias(r, w, {}, affine, c); b.defined()) {
        if (const auto& s = methods::input_shift(r, affine); s.defined()) b = b - torch::mv(t, s);
        loss = loss + (b + 1.0).pow(2).sum();
      }
    }
    loss.backward();
    for (const auto& p : {d1, d2, d3}) QVERIFY(p.grad().defined() && p.grad().abs().gt(0).any().item<bool>());
    for (const auto& p : {a1, a2, a3}) {
      QVERIFY(p.grad().defined());
      // Zero outside the band the mask has freed, non-zero on it.
      const auto band = (p.dim() == 2 ? m : methods::gradual_mask(c.head_dim, 1, 3, 1e-2, torch::kCPU)) > 0;
      QVERIFY((p.grad().abs() > 0).logical_and(band.logical_not()).sum().item<int64_t>() == 0);
      QVERIFY(p.grad().abs().masked_select(band.expand_as(p)).gt(0).all().item<bool>());
    }
  }

  // The mask grows from the diagonal at the first epoch to the full matrix
  // at the last, off-diagonals weighted by the stability factor.
  void theMaskGrowsBandByBand() {
    const auto first = methods::gradual_mask(5, 0, 3, 0.01, torch::kCPU);
    QVERIFY(torch::equal(first, torch::eye(5)));
    const auto middle = methods::gradual_mask(5, 1, 3, 0.01, torch::kCPU);
    QCOMPARE(middle[0][2].item<float>(), 0.01f);  // band: |i - j| < 3
    QCOMPARE(middle[0][3].item<float>(), 0.0f);
    QCOMPARE(middle[2][2].item<float>(), 1.0f);
    const auto last = methods::gradual_mask(5, 2, 3, 0.01, torch::kCPU);
    QCOMPARE(last[0][4].item<float>(), 0.01f);
    QVERIFY(torch::equal(methods::gradual_mask(4, 0, 1, 0.5, torch::kCPU).gt(0), torch::ones({4, 4}).gt(0)));
  }

  // Entries nearer zero than the least go out to it with their sign; zeros
  // and larger entries stay.
  void truncationKeepsEntriesAwayFromZero() {
    auto p = torch::tensor({-0.5, -0.004, 0.0, 0.003, 0.01, 2.0}).requires_grad_(true);
    methods::keep_away_from_zero(p, 1e-2);
    QVERIFY(torch::equal(p.detach(), torch::tensor({-0.5, -0.01, 0.0, 0.01, 0.01, 2.0})));
  }

  void dominanceNamesTheRowsThatFail() {
    auto a = torch::eye(4) * 2;
    QCOMPARE(methods::non_dominant_rows(a).numel(), int64_t{0});
    a[2][0] = 1.5;
    a[2][3] = 0.5;  // |a_22| = 2 = 1.5 + 0.5
    a[3][1] = -2.5;
    QVERIFY(torch::equal(methods::non_dominant_rows(a), torch::tensor({2, 3}, torch::kLong)));
    auto stack = torch::stack({torch::eye(3), torch::eye(3)});
    stack[1][1][0] = 1.0;
    QVERIFY(torch::equal(methods::non_dominant_rows(stack), torch::tensor({4}, torch::kLong)));
  }

  // In the pipeline AffineQuant beats RTN on every block's output; with the
  // dense norm matrices its q/k/v/gate/up records keep the input transform,
  // o_proj and down_proj hold plain weights, and the norms are untouched.
  void beatsRoundToNearestAndKeepsTheNormMatrices() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 34);
    model::Decoder rtn(weights, torch::kCPU, torch::kFloat32), aq(weights, torch::kCPU, torch::kFloat32);
    const auto norm = aq.norm_weight(0, model::NormRole::Input).clone();
    const auto r0 = test::run_method(rtn, "rtn");
    const auto r1 = test::run_method(aq, "affinequant", {{"epochs", int64_t{6}}});
    for (size_t b = 0; b < r0.blocks.size(); ++b)
      QVERIFY2(r1.blocks[b].output_rel_mse < r0.blocks[b].output_rel_mse,
               qPrintable(QString("block %1: affinequant %2, rtn %3")
                              .arg(b)
                              .arg(r1.blocks[b].output_rel_mse)
                              .arg(r0.blocks[b].output_rel_mse)));
    for (const auto& l : r1.layers) {
      const bool transformed = l.role != LinearRole::O && l.role != LinearRole::Down;
      QCOMPARE(l.record->transform.defined(), transformed);
      if (transformed)
        QCOMPARE(l.record->transform.sizes(), (torch::IntArrayRef{l.record->in_features, l.record->in_features}));
      QCOMPARE(l.record->bias.defined(), l.role != LinearRole::Down);  // the shifts' biases
    }
    QVERIFY(torch::equal(aq.norm_weight(0, model::NormRole::Input), norm));
  }

  // The learned shifts, committed as biases, bring the model's last hidden
  // state closer to the FP model's than the same run without them (both
  // start from zero shifts; the training follows the FP trajectory, which
  // the biases can pull back to).
  void shiftsBringTheOutputCloserToFp() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 36);
    model::Decoder fp(weights, torch::kCPU, torch::kFloat32), plain(weights, torch::kCPU, torch::kFloat32),
        shifted(weights, torch::kCPU, torch::kFloat32);
    const auto r0 = test::run_method(plain, "affinequant", {{"epochs", int64_t{6}}, {"shifts", false}});
    test::run_method(shifted, "affinequant", {{"epochs", int64_t{6}}});
    for (const auto& l : r0.layers) QVERIFY(!l.record->bias.defined());
    torch::NoGradGuard g;
    const auto ids = test::method_calibration(fp.config().vocab_size).ids;
    const auto target = fp.last_hidden(ids);
    const double without = torch::mse_loss(plain.last_hidden(ids), target).item<double>();
    const double with = torch::mse_loss(shifted.last_hidden(ids), target).item<double>();
    QVERIFY2(with < without, qPrintable(QString("with shifts %1, without %2").arg(with).arg(without)));
  }

  // The transforms start at SmoothQuant's diagonal, max|x|^½ / w^½ per
  // input channel of the norm's output. With init "official" w is q_proj's
  // signed column max, as the official code takes it; with "abs" the largest
  // |W| over q, k and v. Both checked against the norm's output computed
  // here, with a learning rate of zero so the committed transform (A⁻ᵀ,
  // diagonal) is the initialisation itself.
  void initialisationFollowsTheChosenWeightMaxima() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 38);
    model::Decoder fp(weights, torch::kCPU, torch::kFloat32);
    torch::NoGradGuard g;
    const auto x =
        fp.apply_norm(0, model::NormRole::Input, fp.embed(test::method_calibration(fp.config().vocab_size).ids));
    const auto act = x.abs().flatten(0, 1).amax(0).clamp_min(1e-5).sqrt();
    const auto wq = fp.linear(0, LinearRole::Q)->dense_weight();
    const auto wk = fp.linear(0, LinearRole::K)->dense_weight(), wv = fp.linear(0, LinearRole::V)->dense_weight();
    const std::map<std::string, torch::Tensor> wmax = {
        {"official", wq.amax(0)},
        {"abs", torch::maximum(torch::maximum(wq.abs().amax(0), wk.abs().amax(0)), wv.abs().amax(0))}};
    QVERIFY((wmax.at("official") < wmax.at("abs")).any().item<bool>());  // the two differ on this model
    for (const auto& [init, w] : wmax) {
      model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
      const auto r = test::run_method(dec, "affinequant",
                                      {{"epochs", int64_t{1}},
                                       {"let_lr", 0.0},
                                       {"shifts", false},
                                       {"least_entry", 0.0},
                                       {"init", std::string(init)}});
      const auto expected = (act / w.clamp_min(1e-5).sqrt()).clamp_min(1e-5);
      const auto it = std::find_if(r.layers.begin(), r.layers.end(),
                                   [](const auto& l) { return l.layer == 0 && l.role == LinearRole::Q; });
      const auto& t = it->record->transform;
      QVERIFY2(torch::allclose(t.diagonal().reciprocal(), expected, 1e-5, 1e-6), init.c_str());
      QCOMPARE((t - torch::diag(t.diagonal())).abs().max().item<double>(), 0.0);
    }
  }

  // With diagonal scales nothing but plain weights remains: the scales live
  // in the norms, and the block still beats RTN.
  void diagonalModeLeavesPlainWeights() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 35);
    model::Decoder rtn(weights, torch::kCPU, torch::kFloat32), aq(weights, torch::kCPU, torch::kFloat32);
    const auto norm = aq.norm_weight(0, model::NormRole::Input).clone();
    const auto r0 = test::run_method(rtn, "rtn");
    const auto r1 = test::run_method(aq, "affinequant", {{"epochs", int64_t{6}}, {"ln_matrix", false}});
    for (const auto& l : r1.layers) QVERIFY(!l.record->transform.defined());
    QVERIFY(!torch::equal(aq.norm_weight(0, model::NormRole::Input), norm));
    for (size_t b = 0; b < r0.blocks.size(); ++b) QVERIFY(r1.blocks[b].output_rel_mse < r0.blocks[b].output_rel_mse);
  }

  // Off-diagonals at full weight and a large step size break dominance; the
  // log says which layer and transform, and how many rows.
  void reportsATransformThatLostDominance() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 37);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    test::run_method(dec, "affinequant", fb, {{"epochs", int64_t{3}}, {"stability", 1.0}, {"let_lr", 0.2}});
    const auto it = std::find_if(fb.lines.begin(), fb.lines.end(), [](const std::string& l) {
      return l.find("not strictly diagonally dominant") != std::string::npos;
    });
    QVERIFY(it != fb.lines.end());
    QVERIFY2(
        it->find("layer 0's input-norm transform") != std::string::npos && it->find(" of 64 rows") != std::string::npos,
        it->c_str());
  }

  // Cancelling mid-training leaves every weight and norm as it was.
  void cancelDuringTrainingRestoresTheModel() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 36);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
    const auto before = test::block_tensors(dec);
    test::RecordingFeedback fb;
    int points = 0;
    fb.on_point = [&](const std::string&) {
      if (++points == 11) fb.cancel();
    };
    QVERIFY_THROWS_EXCEPTION(Cancelled, test::run_method(dec, "affinequant", fb, {{"epochs", int64_t{3}}}));
    const auto after = test::block_tensors(dec);
    for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
  }
};

QS_REGISTER_TEST(TestAffineQuant);
#include "test_affinequant.moc"

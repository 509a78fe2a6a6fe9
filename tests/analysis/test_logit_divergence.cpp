#include <QTest>

#include <algorithm>
#include <cmath>

#include "core/analysis/logit_divergence.h"
#include "core/analysis/perplexity.h"
#include "core/error.h"
#include "tests/model/reference_llama.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

torch::Tensor reference_logp(const model::ModelWeights& w, const std::vector<int64_t>& window) {
  auto ids = torch::tensor(window, torch::kLong);
  auto logits = test::reference_llama_forward(w, ids, test::reference_inv_freq(w.config)).to(torch::kFloat64);
  return torch::log_softmax(logits, 1).narrow(0, 0, static_cast<int64_t>(window.size()) - 1);
}

}  // namespace

class TestLogitDivergence : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    fp_ = test::make_tiny_llama(test::tiny_config(), 21);
    // The "quantized" model: every linear weight nudged, as quantization would.
    q_ = fp_;
    torch::manual_seed(7);
    for (auto& [name, t] : q_.tensors)
      if (name.find("_proj.weight") != std::string::npos) t = t + 0.02 * torch::randn_like(t);
    torch::manual_seed(4);
    auto t = torch::randint(3, 101, {100}, torch::kInt32);
    tokens_.assign(t.data_ptr<int32_t>(), t.data_ptr<int32_t>() + 100);
  }

  void theModelAgainstItselfHasNoDivergenceAndItsOwnPerplexity() {
    model::Decoder dec(fp_, torch::kCPU, torch::kFloat32);
    const auto ref = analysis::DivergenceReference::capture(dec, tokens_, 32, 2);
    const auto r = ref.measure(dec);
    QCOMPARE(r.per_token_kl.size(), size_t{2 * 31});
    QVERIFY(r.mean_kl < 1e-7);
    analysis::PerplexityOptions o;
    o.protocol = analysis::PplProtocol::Hf;
    o.ctx = 32;
    o.limit_chunks = 2;
    const double ppl = analysis::perplexity(dec, tokens_, o).ppl;
    QVERIFY(std::abs(r.ppl - ppl) < 1e-9 * ppl);
    QVERIFY(std::abs(ref.fp_ppl() - ppl) < 1e-9 * ppl);
  }

  // KL(P_fp ‖ P_q) per token against an independent float64 forward of both models.
  void perTokenKlMatchesAnIndependentComputation() {
    model::Decoder fp(fp_, torch::kCPU, torch::kFloat32);
    model::Decoder q(q_, torch::kCPU, torch::kFloat32);
    const auto r = analysis::DivergenceReference::capture(fp, tokens_, 16, 3).measure(q);
    std::vector<double> expected;
    for (int64_t c = 0; c < 3; ++c) {
      const std::vector<int64_t> win(tokens_.begin() + c * 16, tokens_.begin() + (c + 1) * 16);
      const auto lp = reference_logp(fp_, win);
      const auto lq = reference_logp(q_, win);
      const auto kl = (lp.exp() * (lp - lq)).sum(1);
      for (int64_t j = 0; j < kl.size(0); ++j) expected.push_back(kl[j].item<double>());
    }
    QCOMPARE(r.per_token_kl.size(), expected.size());
    double mean = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      QVERIFY2(std::abs(r.per_token_kl[i] - expected[i]) < 1e-4 * expected[i] + 1e-7,
               qPrintable(QString("token %1: %2 vs %3").arg(i).arg(r.per_token_kl[i]).arg(expected[i])));
      mean += expected[i];
    }
    mean /= static_cast<double>(expected.size());
    QVERIFY(mean > 1e-4);  // the nudge is visible
    QVERIFY(std::abs(r.mean_kl - mean) < 1e-4 * mean);
    auto sorted = expected;
    std::sort(sorted.begin(), sorted.end());
    const double p99 = sorted[static_cast<size_t>(std::ceil(0.99 * sorted.size())) - 1];
    QVERIFY(std::abs(r.p99_kl - p99) < 1e-4 * p99);
  }

  void tooShortTextIsRefused() {
    model::Decoder dec(fp_, torch::kCPU, torch::kFloat32);
    QVERIFY_THROWS_EXCEPTION(ArgumentError, analysis::DivergenceReference::capture(dec, tokens_, 128, 2));
  }

 private:
  model::ModelWeights fp_;
  model::ModelWeights q_;
  std::vector<int32_t> tokens_;
};

QS_REGISTER_TEST(TestLogitDivergence);
#include "test_logit_divergence.moc"

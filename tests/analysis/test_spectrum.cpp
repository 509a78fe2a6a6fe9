#include <QTest>

#include "core/analysis/layer_analysis.h"
#include "core/analysis/spectrum.h"
#include "tests/support/test_registry.h"

using namespace qs;

namespace {

// U diag(s) Vᵀ in float64 with orthonormal U, V: singular values known exactly.
torch::Tensor with_spectrum(int64_t m, int64_t n, const torch::Tensor& s, uint64_t seed) {
  torch::manual_seed(seed);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const int64_t r = s.size(0);
  const auto u = std::get<0>(torch::linalg_qr(torch::randn({m, r}, opts)));
  const auto v = std::get<0>(torch::linalg_qr(torch::randn({n, r}, opts)));
  return torch::matmul(u * s.unsqueeze(0), v.t()).to(torch::kFloat32);
}

analysis::SpectrumOptions truncated_at(int64_t k) {
  analysis::SpectrumOptions o;
  o.exact_work = 32 * 32 * 32;
  o.top_k = k;
  return o;
}

}  // namespace

class TestSpectrum : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void smallMatricesGetEveryValueFromLapack() {
    torch::manual_seed(1);
    const auto a = torch::randn({40, 24});
    QVERIFY(torch::equal(analysis::singular_values(a), torch::linalg_svdvals(a)));
    QVERIFY(!analysis::spectrum_is_truncated(40, 24));
    QVERIFY(analysis::spectrum_is_truncated(4096, 14336));
    // A 1B model's down_proj is too costly in full; every matrix of a
    // 135M-class model (576 wide, 1536 MLP) is not.
    QVERIFY(analysis::spectrum_is_truncated(2048, 8192));
    QVERIFY(!analysis::spectrum_is_truncated(576, 1536));
    QVERIFY(!analysis::spectrum_is_truncated(1536, 576));
  }

  // A trained weight's spectrum decays: the top values are found to float
  // precision, in either orientation.
  void decayingSpectrumIsFoundAccurately() {
    const auto s = 3.0 * torch::pow(0.93, torch::arange(120, torch::kFloat64));
    for (const auto& [m, n] : {std::pair<int64_t, int64_t>{150, 400}, {400, 150}}) {
      const auto a = with_spectrum(m, n, s, 2);
      const auto top = analysis::singular_values(a, truncated_at(24));
      QCOMPARE(top.size(0), int64_t{24});
      const auto rel = ((top.to(torch::kFloat64) - s.narrow(0, 0, 24)).abs() / s.narrow(0, 0, 24)).max().item<double>();
      QVERIFY2(rel < 1e-4, std::to_string(rel).c_str());
    }
  }

  // On a flat spectrum the estimates are Ritz values: never above the truth,
  // the largest within a few percent, and the same on every call.
  void flatSpectrumIsBoundedFromBelow() {
    torch::manual_seed(3);
    const auto a = torch::randn({200, 600});
    const auto exact = torch::linalg_svdvals(a);
    const auto top = analysis::singular_values(a, truncated_at(32));
    QVERIFY((top <= exact.narrow(0, 0, 32) * (1 + 1e-5)).all().item<bool>());
    QVERIFY(top[0].item<double>() > 0.95 * exact[0].item<double>());
    QVERIFY(top[31].item<double>() > 0.8 * exact[31].item<double>());
    QVERIFY(torch::equal(top, analysis::singular_values(a, truncated_at(32))));
  }

  void layerAnalysisSaysWhenItsSpectraAreTruncated() {
    torch::manual_seed(4);
    const auto w = torch::randn({64, 96});
    const auto q = quant::QuantizedLinear::round_to_nearest(w, {4, 32, false, 1.0});
    analysis::LayerAnalysisOptions o;
    QVERIFY(analysis::analyze_layer(w, q, {}, o).count("sv_rank") == 0);
    o.spectrum = truncated_at(16);
    const auto a = analysis::analyze_layer(w, q, {}, o);
    QCOMPARE(a.at("sv_rank").item<float>(), 64.0f);
    QCOMPARE(a.at("sv_weight").size(0), int64_t{16});
    QCOMPARE(a.at("sv_error").size(0), int64_t{16});
    // The whole spectrum's energy is the squared Frobenius norm.
    const auto e = w - q.dequantized_weight();
    QVERIFY(std::abs(a.at("sv_weight_energy").item<double>() / w.square().sum().item<double>() - 1) < 1e-5);
    QVERIFY(std::abs(a.at("sv_error_energy").item<double>() / e.square().sum().item<double>() - 1) < 1e-5);
    QVERIFY(a.count("sv_scaled_error_energy") == 0);
  }
};

QS_REGISTER_TEST(TestSpectrum);
#include "test_spectrum.moc"

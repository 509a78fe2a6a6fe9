#include <QTest>
#include <cstdlib>

#include "core/checkpoint/model_loader.h"
#include "core/io/safetensors.h"
#include "core/model/decoder.h"
#include "tests/support/paths.h"
#include "tests/support/test_registry.h"

using namespace qs;

namespace {

// Written by packaging/make-hf-reference.sh with tests/reference/hf_logits.py.
std::filesystem::path hf_reference() {
  if (const char* env = std::getenv("QS_HF_LOGITS"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return home ? std::filesystem::path(home) / ".cache/quantscope/reference/hf_logits_128.safetensors"
              : std::filesystem::path();
}

}  // namespace

class TestDemoModel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void logitsMatchHfTransformers() {
    const auto model_path = test::demo_model();
    if (model_path.empty()) QS_SKIP_UNLESS_REQUIRED("demo model absent: run packaging/fetch-demo-model.sh");
    const auto ref_path = hf_reference();
    if (!std::filesystem::exists(ref_path)) QS_SKIP_UNLESS_REQUIRED("HF reference logits absent: run packaging/make-hf-reference.sh");
    io::SafetensorsFile ref(ref_path);
    const auto ids = ref.load("input_ids");
    const auto hf = ref.load("logits").to(torch::kFloat64);
    QCOMPARE(ids.size(1), int64_t(128));

    const auto w = checkpoint::load_model(model_path);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    const auto ours = dec.forward(ids).to(torch::kFloat64);
    QCOMPARE(ours.sizes(), hf.sizes());
    const double rel = ((ours - hf).norm() / hf.norm()).item<double>();
    const double worst_row = ((ours - hf).norm(2, -1) / hf.norm(2, -1)).max().item<double>();
    qInfo("relative error of logits vs HF transformers: %.3g (worst position %.3g)", rel, worst_row);
    QVERIFY2(rel < 1e-4, qPrintable(QString("relative error %1").arg(rel)));
    QVERIFY2(worst_row < 1e-4, qPrintable(QString("worst position relative error %1").arg(worst_row)));
    QVERIFY(torch::equal(ours.argmax(-1), hf.argmax(-1)));
  }
};

QS_REGISTER_TEST(TestDemoModel);
#include "test_demo_model.moc"

#include <QTemporaryDir>
#include <QTest>

#include "core/analysis/stored_linear.h"
#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/packed_export.h"
#include "core/checkpoint/provenance.h"
#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/quant/quantized_linear.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

double mse(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).square().mean().item<double>(); }

struct Run {
  model::ModelWeights fp;
  std::unique_ptr<model::Decoder> dec;
  pipeline::PipelineResult result;
};

Run quantize(const std::string& method) {
  Run r;
  r.fp = test::make_tiny_llama(test::tiny_config(), 7);
  r.dec = std::make_unique<model::Decoder>(r.fp, torch::kCPU, torch::kFloat32);
  test::RecordingFeedback fb;
  r.result = pipeline::run_pipeline(
      *r.dec, test::random_calibration(101, 4, 16, 7),
      pipeline::QuantPlan(pipeline::QuantPlan::make_choice(method, {4, 32, false, 1.0}, "test")), {}, fb);
  return r;
}

// The run's model as a QuantScope checkpoint holds it, read back from disk.
model::ModelWeights saved_and_read(const Run& run) {
  QTemporaryDir tmp;
  const fs::path dir = fs::path(tmp.path().toStdString()) / "ckpt";
  checkpoint::save_quantscope_checkpoint(*run.dec, {}, dir);
  return checkpoint::load_quantscope_checkpoint(dir);
}

// The run's model exported as a packed AWQ checkpoint, read back from disk.
model::ModelWeights exported_awq(const Run& run, const fs::path& dir) {
  checkpoint::ExportOptions o;
  o.format = checkpoint::Format::Awq;
  o.dtype = torch::kFloat32;
  checkpoint::export_checkpoint(*run.dec, o, dir);
  return checkpoint::load_model(dir);
}

// Empty when the stored weight's MSE against `frame` is the one the run
// measured for `l` (to `rel`), else what differs.
std::string differs_from_run(const pipeline::LayerResult& l, const torch::Tensor& frame,
                             const quant::QuantizedLinear& stored, double rel) {
  const double measured = mse(frame, stored.effective_weight());
  if (std::abs(measured - l.weight_mse) <= rel * l.weight_mse) return {};
  return l.name + ": " + std::to_string(measured) + " against the run's " + std::to_string(l.weight_mse);
}

}  // namespace

// A stored linear is compared with the weight its method quantized, which the
// run measured its weight MSE against: for AWQ, the FP weight under the scales
// folded into the norms and into v's and up's rows.
class TestStoredLinear : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void withoutSmoothingTheFrameIsTheFpWeight() {
    const auto run = quantize("rtn");
    const auto ckpt = saved_and_read(run);
    for (const auto& l : run.result.layers) {
      const auto frame = analysis::fp_weight_in_stored_frame(ckpt, run.fp, l.name);
      QVERIFY2(frame.why_not.empty(), frame.why_not.c_str());
      QVERIFY(torch::equal(frame.fp_weight, run.fp.at(l.name + ".weight").to(torch::kFloat32)));
    }
  }

  // A QuantScope checkpoint records every scale: each linear's frame gives
  // back the weight MSE the run measured.
  void awqCheckpointsRecordEveryScale() {
    const auto run = quantize("awq");
    const auto ckpt = saved_and_read(run);
    int scaled = 0;
    for (const auto& l : run.result.layers) {
      const auto frame = analysis::fp_weight_in_stored_frame(ckpt, run.fp, l.name);
      QVERIFY2(frame.why_not.empty(), frame.why_not.c_str());
      const auto differs = differs_from_run(l, frame.fp_weight, *ckpt.quantized.at(l.name), 1e-4);
      QVERIFY2(differs.empty(), differs.c_str());
      const auto plain = run.fp.at(l.name + ".weight").to(torch::kFloat32);
      if (!torch::allclose(frame.fp_weight, plain)) ++scaled;
    }
    QVERIFY(scaled >= 10);  // q, k, v, gate, up, down of both blocks at least
  }

  // A packed AWQ export's tensors hold the scaled norms but not the scales;
  // its provenance records them, and every linear compares as in the run.
  void packedExportsRecordTheirScales() {
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "awq-packed";
    const auto run = quantize("awq");
    const auto packed = exported_awq(run, dir);
    const auto recorded = checkpoint::read_provenance(dir).input_scales;
    QVERIFY(recorded.size() >= 10);
    for (const auto& l : run.result.layers) {
      const auto frame = analysis::fp_weight_in_stored_frame(packed, run.fp, l.name, recorded);
      QVERIFY2(frame.why_not.empty(), frame.why_not.c_str());
      const auto differs = differs_from_run(l, frame.fp_weight, *packed.quantized.at(l.name), 1e-3);
      QVERIFY2(differs.empty(), differs.c_str());
    }
  }

  // Without the recorded scales (an export by an older QuantScope): the
  // norm-fed linears recover theirs from the norms; v, o, up and down cannot.
  void packedExportsRecoverWhatTheNormsHold() {
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "awq-packed";
    const auto run = quantize("awq");
    const auto packed = exported_awq(run, dir);
    for (const auto& l : run.result.layers) {
      const auto frame = analysis::fp_weight_in_stored_frame(packed, run.fp, l.name);
      const bool recoverable =
          l.role == model::LinearRole::Q || l.role == model::LinearRole::K || l.role == model::LinearRole::Gate;
      if (!recoverable) {
        QVERIFY2(!frame.fp_weight.defined() && frame.why_not.find("does not record") != std::string::npos,
                 l.name.c_str());
        continue;
      }
      QVERIFY2(frame.why_not.empty(), frame.why_not.c_str());
      const auto differs = differs_from_run(l, frame.fp_weight, *packed.quantized.at(l.name), 1e-3);
      QVERIFY2(differs.empty(), differs.c_str());
    }
  }

  void anotherShapeIsNotCompared() {
    const auto run = quantize("rtn");
    const auto ckpt = saved_and_read(run);
    auto other = run.fp;
    const std::string name = "model.layers.0.mlp.up_proj";
    other.tensors[name + ".weight"] = other.at(name + ".weight").narrow(0, 0, 8).contiguous();
    const auto frame = analysis::fp_weight_in_stored_frame(ckpt, other, name);
    QVERIFY(!frame.fp_weight.defined());
    QVERIFY2(frame.why_not.find("another shape") != std::string::npos, frame.why_not.c_str());
  }
};

QS_REGISTER_TEST(TestStoredLinear);
#include "test_stored_linear.moc"

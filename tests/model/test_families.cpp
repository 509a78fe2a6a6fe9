#include <QTest>
#include <map>

#include "core/checkpoint/model_loader.h"
#include "core/io/safetensors.h"
#include "core/model/config_description.h"
#include "core/model/decoder.h"
#include "tests/support/paths.h"
#include "tests/support/test_registry.h"

using namespace qs;

namespace {

// Written by packaging/make-family-references.sh with tests/reference/hf_families.py:
// a tiny random model of the family saved by transformers, and its logits.
std::filesystem::path family_dir(const QString& family) { return test::reference("families/" + family.toStdString()); }

struct Reference {
  torch::Tensor ids, logits;
  torch::Tensor short_ids, short_logits;  // within Phi-3's original context
};

Reference read_reference(const std::filesystem::path& dir) {
  io::SafetensorsFile ref(std::filesystem::path(dir.string() + ".reference.safetensors"));
  return {ref.load("input_ids"), ref.load("logits").to(torch::kFloat64), ref.load("short_input_ids"),
          ref.load("short_logits").to(torch::kFloat64)};
}

// Largest error over the largest logit: the tolerance does not depend on
// where the logits happen to be small.
double relative_error(const torch::Tensor& ours, const torch::Tensor& ref) {
  return ((ours - ref).abs().max() / ref.abs().max()).item<double>();
}

}  // namespace

class TestFamilies : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void logitsMatchTransformers_data() {
    QTest::addColumn<QString>("family");
    for (const char* f : {"llama", "qwen2", "qwen3", "mistral", "phi3", "gemma2", "gemma3_text", "mixtral",
                          "qwen3_moe", "qwen2_moe", "gemma3"})
      QTest::newRow(f) << f;
  }
  void logitsMatchTransformers() {
    QFETCH(QString, family);
    const auto dir = family_dir(family);
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto ref = read_reference(dir);
    const auto w = checkpoint::load_model(dir);
    // A multimodal model (gemma3) opens as its language model.
    QCOMPARE(QString::fromStdString(w.config.multimodal_wrapper.empty() ? w.config.architecture
                                                                        : w.config.multimodal_wrapper),
             family);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    const auto ours = dec.forward(ref.ids).to(torch::kFloat64);
    QCOMPARE(ours.sizes(), ref.logits.sizes());
    const double rel = relative_error(ours, ref.logits);
    qInfo("%s: largest logit error / largest logit vs transformers %.3g", qPrintable(family), rel);
    QVERIFY2(rel < 1e-4, qPrintable(QString("relative error %1").arg(rel)));
    QVERIFY(torch::equal(ours.argmax(-1), ref.logits.argmax(-1)));
    const auto short_ours = dec.forward(ref.short_ids).to(torch::kFloat64);
    const double short_rel = relative_error(short_ours, ref.short_logits);
    QVERIFY2(short_rel < 1e-4, qPrintable(QString("relative error %1 at 16 tokens").arg(short_rel)));
    QVERIFY(torch::equal(short_ours.argmax(-1), ref.short_logits.argmax(-1)));
  }

  // norm_weight is the factor the norm multiplies by (Gemma's 1 + w, not the
  // stored w): dividing it by s while the linears it feeds take s leaves the
  // block's function unchanged, which is how AWQ and AffineQuant fold scales.
  void foldingScalesIntoNormsKeepsTheFunction_data() { logitsMatchTransformers_data(); }
  void foldingScalesIntoNormsKeepsTheFunction() {
    QFETCH(QString, family);
    const auto dir = family_dir(family);
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto ref = read_reference(dir);
    const auto w = checkpoint::load_model(dir);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    const auto before = dec.forward(ref.ids).to(torch::kFloat64);
    const int64_t H = w.config.hidden_size;
    const auto s = torch::linspace(0.5, 2.0, H, torch::kFloat32);
    const std::pair<model::NormRole, std::vector<model::LinearRole>> fed[] = {
        {model::NormRole::Input, {model::LinearRole::Q, model::LinearRole::K, model::LinearRole::V}},
        {model::NormRole::PostAttention, {model::LinearRole::Gate, model::LinearRole::Up}}};
    for (int64_t l = 0; l < dec.num_layers(); ++l)
      for (const auto& [norm, roles] : fed) {
        if (norm == model::NormRole::PostAttention && w.config.moe(l)) continue;  // the router reads it too
        dec.set_norm_weight(l, norm, dec.norm_weight(l, norm).to(torch::kFloat32) / s);
        for (auto r : roles) {
          const auto op = dec.linear(l, r);
          dec.set_linear(l, r, std::make_shared<model::DenseLinear>(op->dense_weight() * s, op->bias()));
        }
      }
    const double rel = relative_error(dec.forward(ref.ids).to(torch::kFloat64), before);
    QVERIFY2(rel < 1e-5, qPrintable(QString("relative change %1").arg(rel)));
  }

  // What the summary and `info` say of each family: only what differs from Llama.
  void familyOptionsAreDescribed() {
    const auto describe = [](const char* family) {
      const auto dir = family_dir(family);
      std::map<std::string, std::string> out;
      if (dir.empty()) return out;
      for (const auto& [k, v] : model::describe_family_options(checkpoint::load_model(dir).config)) out[k] = v;
      return out;
    };
    if (family_dir("llama").empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    QVERIFY(describe("llama").empty());
    const auto g2 = describe("gemma2");
    QCOMPARE(g2.at("Soft-capping"), std::string("scores 3, logits 6"));
    QCOMPARE(g2.at("Attention window"), std::string("12 tokens, layers 0, 2 (2 of 4)"));
    QCOMPARE(g2.at("Query scale"), std::string("1/sqrt(20)"));
    QVERIFY(g2.at("Norms").find("1 + w") != std::string::npos && !g2.count("Stored fused"));
    const auto phi3 = describe("phi3");
    QCOMPARE(phi3.at("Rotary channels"), std::string("12 of 16 per head"));
    QVERIFY(phi3.at("Stored fused").find("self_attn.qkv_proj") != std::string::npos);
    QVERIFY(describe("qwen3").at("Norms").find("per-head on q and k") != std::string::npos);
    QCOMPARE(describe("qwen3_moe").at("Mixture of Experts"),
             std::string("6 experts of width 48, top 2 (weights rescaled to sum 1); layers 0, 1, 3 (3 of 4)"));
    QCOMPARE(describe("qwen2_moe").at("Mixture of Experts"),
             std::string("6 experts of width 48, top 2, a shared expert of width 80; layers 1, 3 (2 of 4)"));
  }

  // Gemma 3's multimodal checkpoint opens as its language model, and says
  // what it leaves alone; a multimodal model around an unsupported language
  // model names both.
  void multimodalCheckpointOpensItsLanguageModel() {
    const auto dir = family_dir("gemma3");
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto w = checkpoint::load_model(dir);
    QCOMPARE(w.config.architecture, std::string("gemma3_text"));
    QCOMPARE(w.config.multimodal_wrapper, std::string("gemma3"));
    QVERIFY(w.left_alone.at("vision_tower") > 0 && w.left_alone.at("multi_modal_projector") > 0);
    const auto summary = checkpoint::left_alone_summary(w);
    QVERIFY2(summary.rfind("the language model of gemma3; left alone: multi_modal_projector (", 0) == 0, summary.c_str());
    for (const auto& [name, t] : w.tensors) QVERIFY2(name.find("vision") == std::string::npos, name.c_str());
    QVERIFY(checkpoint::left_alone_summary(checkpoint::load_model(family_dir("gemma3_text"))).empty());
  }

  // The fixtures are longer than their windows, so a decoder that ignored
  // them would miss the references by far more than the tolerance.
  void slidingWindowsShapeTheReferences_data() {
    QTest::addColumn<QString>("family");
    for (const char* f : {"mistral", "phi3", "gemma2", "gemma3_text", "mixtral"}) QTest::newRow(f) << f;
  }
  void slidingWindowsShapeTheReferences() {
    QFETCH(QString, family);
    const auto dir = family_dir(family);
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto ref = read_reference(dir);
    auto w = checkpoint::load_model(dir);
    QVERIFY(w.config.sliding_window > 0 && w.config.sliding_window < ref.ids.size(1));
    w.config.sliding_window = 0;
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    QVERIFY(relative_error(dec.forward(ref.ids).to(torch::kFloat64), ref.logits) > 1e-2);
  }
};

QS_REGISTER_TEST(TestFamilies);
#include "test_families.moc"

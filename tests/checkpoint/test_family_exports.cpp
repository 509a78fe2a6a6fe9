#include <QTemporaryDir>
#include <QTest>
#include <algorithm>

#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/packed_export.h"
#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "tests/checkpoint/export_fixtures.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/paths.h"
#include "tests/support/test_registry.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

}  // namespace

// Each family's tiny transformers model (packaging/make-family-references.sh),
// quantized, written and read back: the norms a family adds and the options its
// config carries travel through QuantScope checkpoints and packed exports.
class TestFamilyExports : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void quantizedFamiliesRoundTrip_data() {
    QTest::addColumn<QString>("family");
    QTest::addColumn<QString>("method");
    for (const char* f : {"llama", "qwen2", "qwen3", "mistral", "phi3", "gemma2", "gemma3_text"})
      for (const char* m : {"gptq", "awq"}) QTest::newRow((std::string(f) + " " + m).c_str()) << f << m;
    // AWQ scales the router with the experts (awqScalesAnMoeRouterWithItsExperts).
    for (const char* f : {"mixtral", "qwen3_moe", "qwen2_moe"})
      for (const char* m : {"gptq", "rtn", "awq"}) QTest::newRow((std::string(f) + " " + m).c_str()) << f << m;
    QTest::newRow("mixtral lwc") << "mixtral"
                                 << "lwc";  // training through the routed experts
    // A multimodal checkpoint: its language model quantized and written alone.
    QTest::newRow("gemma3 gptq") << "gemma3"
                                 << "gptq";
  }
  void quantizedFamiliesRoundTrip() {
    QFETCH(QString, family);
    QFETCH(QString, method);
    const auto src = test::reference("families/" + family.toStdString());
    if (src.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto fp = checkpoint::load_model(src);
    model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    // Groups of 16 divide the experts' widths (48, and 80 for Qwen2-MoE's shared one).
    const int64_t group = fp.config.num_experts > 0 ? 16 : 32;
    const pipeline::QuantPlan plan(
        pipeline::QuantPlan::make_choice(method.toStdString(), {4, group, false, 1.0}, "test"));
    pipeline::run_pipeline(dec, test::random_calibration(fp.config.vocab_size, 4, 24, 3), plan, {}, fb);
    const auto ids = test::random_calibration(fp.config.vocab_size, 1, 30, 9).ids;
    const auto ours = dec.forward(ids);
    QVERIFY(relative_error(ours, model::Decoder(fp, torch::kCPU, torch::kFloat32).forward(ids)) > 1e-4);

    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    checkpoint::save_quantscope_checkpoint(dec, {}, root / "qs");
    const auto qs_back = checkpoint::load_model(root / "qs");
    QCOMPARE(qs_back.config.architecture, fp.config.architecture);
    QVERIFY(torch::equal(model::Decoder(qs_back, torch::kCPU, torch::kFloat32).forward(ids), ours));

    for (const char* format : {"compressed-tensors", "gptq", "awq"}) {
      checkpoint::ExportOptions o;
      o.format = checkpoint::parse_format(format);
      // An fp16 router flips near-tied top-k choices, and a token routed
      // elsewhere moves its logits by far more than fp16 does anywhere else.
      if (fp.config.num_experts > 0) o.dtype = torch::kFloat32;
      checkpoint::export_checkpoint(dec, o, root / format);
      if (family == "phi3") {  // stored fused, as the checkpoint had them
        const io::SafetensorsFile st(root / format / "model.safetensors");
        QVERIFY(!st.find("model.layers.0.self_attn.q_proj.scales") &&
                !st.find("model.layers.0.self_attn.q_proj.weight_scale"));
        QVERIFY(st.find("model.layers.0.self_attn.qkv_proj.scales") ||
                st.find("model.layers.0.self_attn.qkv_proj.weight_scale"));
        QVERIFY(st.find("model.layers.0.mlp.gate_up_proj.scales") ||
                st.find("model.layers.0.mlp.gate_up_proj.weight_scale"));
      }
      if (family == "mixtral") {  // under the names Mixtral checkpoints give experts
        const io::SafetensorsFile st(root / format / "model.safetensors");
        QVERIFY(st.find("model.layers.0.block_sparse_moe.gate.weight"));
        QVERIFY(st.find("model.layers.0.block_sparse_moe.experts.5.w2.scales") ||
                st.find("model.layers.0.block_sparse_moe.experts.5.w2.weight_scale"));
        QVERIFY(!st.find("model.layers.0.mlp.gate.weight"));
      }
      const auto back = checkpoint::load_model(root / format);
      size_t linears = 0;
      for (int64_t l = 0; l < fp.config.num_layers; ++l)
        linears += static_cast<size_t>(model::block_linear_count(fp.config, l));
      QCOMPARE(back.quantized.size(), linears);
      // fp16 scales and FP tensors are all that separate the two.
      const double rel = relative_error(model::Decoder(back, torch::kCPU, torch::kFloat32).forward(ids), ours);
      QVERIFY2(rel < 5e-3, qPrintable(QString("%1: %2").arg(format).arg(rel)));
    }
  }

  // AWQ's scale in front of an MoE block's experts divides the norm they
  // read, which the router (and Qwen2-MoE's shared-expert gate) reads too: the
  // router takes the scale, so every column of router · norm is what it was
  // and the tokens go to the same experts.
  void awqScalesAnMoeRouterWithItsExperts_data() {
    QTest::addColumn<QString>("family");
    QTest::newRow("mixtral") << "mixtral";
    QTest::newRow("qwen2_moe") << "qwen2_moe";
  }
  void awqScalesAnMoeRouterWithItsExperts() {
    QFETCH(QString, family);
    const auto src = test::reference("families/" + family.toStdString());
    if (src.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto fp_weights = checkpoint::load_model(src);
    const auto& c = fp_weights.config;
    model::Decoder fp(fp_weights, torch::kCPU, torch::kFloat32);
    model::Decoder dec(fp_weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    // Attention kept in FP: every block's MLP then reads the same hidden state in both models.
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("awq", {4, 16, false, 1.0}, "test"));
    plan.add_rule({"*.self_attn.*", std::string(pipeline::kKeepFp), {}, {}, {}, {}, {}, {}, {}});
    pipeline::run_pipeline(dec, test::random_calibration(c.vocab_size, 4, 24, 3), plan, {}, fb);

    const auto hidden = fp.embed(test::random_calibration(c.vocab_size, 1, 20, 4).ids);
    int64_t routed_blocks = 0, scaled_norms = 0;
    for (int64_t l = 0; l < c.num_layers; ++l) {
      if (!c.moe(l)) continue;
      ++routed_blocks;
      const auto norm_fp = fp.norm_weight(l, model::NormRole::PostAttention);
      const auto norm_q = dec.norm_weight(l, model::NormRole::PostAttention);
      scaled_norms += torch::allclose(norm_q, norm_fp) ? 0 : 1;  // a scale of ones is a valid search result
      QVERIFY(torch::allclose(dec.router_weight(l) * norm_q, fp.router_weight(l) * norm_fp, 1e-5, 1e-6));
      if (c.shared_expert_intermediate_size > 0)
        QVERIFY(torch::allclose(dec.shared_expert_gate(l) * norm_q, fp.shared_expert_gate(l) * norm_fp, 1e-5, 1e-6));
      QVERIFY(torch::equal(dec.expert_choices(l, hidden), fp.expert_choices(l, hidden)));
    }
    QVERIFY(routed_blocks > 0 && scaled_norms > 0);
    QVERIFY(std::any_of(fb.lines.begin(), fb.lines.end(), [](const std::string& line) {
      return line.find("experts' gate,up and the router") != std::string::npos;
    }));
  }
};

QS_REGISTER_TEST(TestFamilyExports);
#include "test_family_exports.moc"

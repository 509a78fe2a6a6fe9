#include <QTemporaryDir>
#include <QTest>
#include <cmath>

#include "core/checkpoint/gguf_export.h"
#include "core/checkpoint/gguf_model.h"
#include "core/checkpoint/model_loader.h"
#include "core/io/gguf_writer.h"
#include "core/io/safetensors.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/text/tokenizer.h"
#include "tests/checkpoint/tokenizer_gguf.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/paths.h"
#include "tests/support/test_registry.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> f32_bytes(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat32).contiguous();
  const auto* p = reinterpret_cast<const uint8_t*>(c.data_ptr<float>());
  return {p, p + c.numel() * 4};
}

std::vector<int64_t> ggml_ne(const torch::Tensor& t) {
  auto s = t.sizes().vec();
  return {s.rbegin(), s.rend()};
}

// The GGUF name convert_hf_to_gguf gives an HF tensor of these families
// (gguf-py's tensor tables), written out here rather than taken from the
// reader's own map, so the test checks the reader against llama.cpp's layout.
std::string gguf_name(const std::string& hf, bool gemma) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const auto dot = hf.find('.', 13);  // after "model.layers."
  const std::string blk = "blk." + hf.substr(13, dot - 13) + ".";
  const std::string rest = hf.substr(dot + 1);
  static const std::map<std::string, std::string> common = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
      {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"}};
  if (rest == "post_attention_layernorm.weight")
    return blk + (gemma ? "post_attention_norm.weight" : "ffn_norm.weight");
  return blk + common.at(rest);
}

// The family's tiny transformers model as llama.cpp's converter would write
// it (float32): Gemma's norms with 1 added, no Q/K permutation for these
// families, and the metadata llama.cpp reads.
void write_gguf(const model::ModelWeights& hf, const std::string& arch, const fs::path& path) {
  const auto& c = hf.config;
  const bool gemma = arch.rfind("gemma", 0) == 0;
  io::GgufWriter w;
  const std::string p = arch + ".";
  w.add_string("general.architecture", arch);
  w.add_uint32(p + "block_count", static_cast<uint32_t>(c.num_layers));
  w.add_uint32(p + "context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.add_uint32(p + "embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.add_uint32(p + "feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.add_uint32(p + "attention.head_count", static_cast<uint32_t>(c.num_heads));
  w.add_uint32(p + "attention.head_count_kv", static_cast<uint32_t>(c.num_kv_heads));
  w.add_uint32(p + "attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.add_uint32(p + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.add_float32(p + "attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.add_float32(p + "rope.freq_base", static_cast<float>(c.rope_theta));
  w.add_uint32(p + "vocab_size", static_cast<uint32_t>(c.vocab_size));
  if (gemma) {
    w.add_uint32(p + "attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
    // The fixtures scale queries by 1/sqrt(20), not llama.cpp's default 1/sqrt(head_dim).
    w.add_float32(p + "attention.scale", static_cast<float>(1.0 / std::sqrt(c.query_pre_attn_scalar)));
  }
  if (c.attn_logit_softcapping > 0)
    w.add_float32(p + "attn_logit_softcapping", static_cast<float>(c.attn_logit_softcapping));
  if (c.final_logit_softcapping > 0)
    w.add_float32(p + "final_logit_softcapping", static_cast<float>(c.final_logit_softcapping));
  if (arch == "gemma3") {
    w.add_uint32(p + "attention.sliding_window_pattern", 2);  // the fixture alternates
    w.add_float32(p + "rope.freq_base_swa", static_cast<float>(c.sliding_rope_theta));
    w.add_string(p + "rope.scaling.type", c.rope_scaling.type);
    w.add_float32(p + "rope.scaling.factor", static_cast<float>(c.rope_scaling.factor));
  }
  for (const auto& [name, t] : hf.tensors) {
    const bool norm = name.find("norm.weight") != std::string::npos;
    const auto v = gemma && norm ? t.to(torch::kFloat32) + 1.0 : t;
    w.add_tensor(gguf_name(name, gemma), io::GgmlType::F32, ggml_ne(v), f32_bytes(v));
  }
  w.write(path);
}

}  // namespace

// Qwen3 and Gemma 2/3 GGUFs laid out as llama.cpp writes them, read back: the
// decoder's logits equal transformers' on the family's tiny model. And our
// export of each family reads back as the model it was written from.
class TestGgufFamilies : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void llamaCppLayoutsReadAsTheirFamilies_data() {
    QTest::addColumn<QString>("family");
    QTest::addColumn<QString>("arch");
    QTest::newRow("qwen3") << "qwen3"
                           << "qwen3";
    QTest::newRow("gemma2") << "gemma2"
                            << "gemma2";
    QTest::newRow("gemma3") << "gemma3_text"
                            << "gemma3";
  }
  void llamaCppLayoutsReadAsTheirFamilies() {
    QFETCH(QString, family);
    QFETCH(QString, arch);
    const auto dir = test::reference("families/" + family.toStdString());
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto hf = checkpoint::load_model(dir);
    QTemporaryDir tmp;
    const fs::path path = fs::path(tmp.path().toStdString()) / "model.gguf";
    write_gguf(hf, arch.toStdString(), path);

    const auto g = checkpoint::load_gguf_model(path);
    QCOMPARE(QString::fromStdString(g.config.architecture), family);
    for (int64_t l = 0; l < hf.config.num_layers; ++l) QCOMPARE(g.config.sliding(l), hf.config.sliding(l));
    io::SafetensorsFile ref(fs::path(dir.string() + ".reference.safetensors"));
    const auto ids = ref.load("input_ids");
    const auto expected = ref.load("logits").to(torch::kFloat64);
    const auto ours = model::Decoder(g, torch::kCPU, torch::kFloat32).forward(ids).to(torch::kFloat64);
    const double rel = ((ours - expected).abs().max() / expected.abs().max()).item<double>();
    qInfo("%s GGUF: largest logit error / largest logit vs transformers %.3g", qPrintable(family), rel);
    QVERIFY2(rel < 1e-4, qPrintable(QString::number(rel)));
  }

  // Our own export of each family, quantized W4 g32 and read back by our
  // GGUF reader: the same configuration, the same tokens as the family's
  // tokenizer.json, and the logits of the quantized model up to the f16
  // rounding of ggml's block scales and dense tensors.
  void exportsReadBackAsTheQuantizedModel_data() {
    QTest::addColumn<QString>("family");
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("notes");
    QTest::newRow("llama") << "llama"
                           << "llama" << 0;
    QTest::newRow("qwen2") << "qwen2"
                           << "qwen2" << 0;
    QTest::newRow("qwen3") << "qwen3"
                           << "qwen3" << 0;
    // The fixtures' query_pre_attn_scalar is 20, not llama.cpp's head_dim;
    // Gemma 3's alternates layers (llama.cpp: five sliding to one global).
    QTest::newRow("gemma2") << "gemma2"
                            << "gemma2" << 1;
    QTest::newRow("gemma3") << "gemma3_text"
                            << "gemma3" << 2;
  }
  void exportsReadBackAsTheQuantizedModel() {
    QFETCH(QString, family);
    QFETCH(QString, arch);
    QFETCH(int, notes);
    const auto dir = test::reference("families/" + family.toStdString());
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto hf = checkpoint::load_model(dir);
    model::Decoder dec(hf, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {4, 32, false, 1.0}, "test"));
    pipeline::run_pipeline(dec, test::random_calibration(hf.config.vocab_size, 2, 16, 3), plan, {}, fb);

    QTemporaryDir tmp;
    const fs::path out(tmp.path().toStdString());
    // The tokenizer comes from the family's tokenizer.json.
    const auto report = checkpoint::export_gguf(dec, dir, "tiny", out / "model.gguf");
    QCOMPARE(report.tensor_types.at("Q4_1"), static_cast<int>(7 * hf.config.num_layers));
    QCOMPARE(static_cast<int>(report.notes.size()), notes);
    QCOMPARE(io::GgufFile(out / "model.gguf").get_string("general.architecture"), arch.toStdString());

    const auto back = checkpoint::load_gguf_model(out / "model.gguf");
    const auto& c = back.config;
    const auto& want = hf.config;
    QCOMPARE(QString::fromStdString(c.architecture), family);
    QCOMPARE(c.qk_norm, want.qk_norm);
    QCOMPARE(c.norm_plus_one, want.norm_plus_one);
    QCOMPARE(c.sliding_window, want.sliding_window);
    for (int64_t l = 0; l < want.num_layers; ++l) QCOMPARE(c.sliding(l), want.sliding(l));
    QCOMPARE(static_cast<float>(c.attn_logit_softcapping), static_cast<float>(want.attn_logit_softcapping));
    QCOMPARE(static_cast<float>(c.final_logit_softcapping), static_cast<float>(want.final_logit_softcapping));
    if (want.query_pre_attn_scalar > 0)
      QVERIFY(std::abs(c.query_pre_attn_scalar - want.query_pre_attn_scalar) < 1e-4 * want.query_pre_attn_scalar);
    QCOMPARE(static_cast<float>(c.sliding_rope_theta), static_cast<float>(want.sliding_rope_theta));
    QCOMPARE(c.rope_scaling.type, want.rope_scaling.type);

    const std::string sample = "the quick brown fox, 12 times\n";
    QCOMPARE(text::load_gguf_tokenizer(io::GgufFile(out / "model.gguf"))->encode(sample),
             text::load_tokenizer_json(dir / "tokenizer.json")->encode(sample));
    const auto ids = test::random_calibration(hf.config.vocab_size, 1, 24, 11).ids;
    const auto expected = dec.forward(ids).to(torch::kFloat64);
    const auto ours = model::Decoder(back, torch::kCPU, torch::kFloat32).forward(ids).to(torch::kFloat64);
    const double rel = ((ours - expected).abs().max() / expected.abs().max()).item<double>();
    qInfo("%s: exported GGUF logits vs the quantized model, largest error / largest logit %.3g", qPrintable(family),
          rel);
    QVERIFY2(rel < 5e-3, qPrintable(QString::number(rel)));
  }

  // What llama.cpp cannot hold is refused before anything is written, naming it.
  void exportRefusesWhatLlamaCppCannotHold_data() {
    QTest::addColumn<QString>("family");
    QTest::addColumn<QString>("why");
    QTest::newRow("mistral's window") << "mistral"
                                      << "sliding attention window";
    QTest::newRow("phi3") << "phi3"
                          << "phi3 models are not written yet";
    QTest::newRow("mixtral") << "mixtral"
                             << "Mixture-of-Experts";
  }
  void exportRefusesWhatLlamaCppCannotHold() {
    QFETCH(QString, family);
    QFETCH(QString, why);
    const auto dir = test::reference("families/" + family.toStdString());
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const model::Decoder dec(checkpoint::load_model(dir), torch::kCPU, torch::kFloat32);
    QTemporaryDir tmp;
    const fs::path out(tmp.path().toStdString());
    const auto tok = test::write_tokenizer_gguf(out, 512);
    try {
      checkpoint::export_gguf(dec, tok, "tiny", out / "model.gguf");
      QFAIL("exported");
    } catch (const ArgumentError& e) {
      QVERIFY2(QString(e.what()).contains(why), e.what());
    }
    QVERIFY(!fs::exists(out / "model.gguf"));
  }
};

QS_REGISTER_TEST(TestGgufFamilies);
#include "test_gguf_families.moc"

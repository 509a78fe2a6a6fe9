#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <set>

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
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"mlp.gate.weight", "ffn_gate_inp.weight"},
      {"mlp.shared_expert_gate.weight", "ffn_gate_inp_shexp.weight"},
      {"mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight"},
      {"mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight"},
      {"mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight"},
      {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
      {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"}};
  if (rest == "post_attention_layernorm.weight")
    return blk + (gemma ? "post_attention_norm.weight" : "ffn_norm.weight");
  return blk + common.at(rest);
}

std::string layer_tensor(int64_t l, const std::string& rest) {
  return "model.layers." + std::to_string(l) + "." + rest;
}

// convert_hf_to_gguf's permute() for its llama arch: each head's rotary halves interleaved.
torch::Tensor llama_permute(const torch::Tensor& w, int64_t heads) {
  return w.reshape({heads, 2, w.size(0) / heads / 2, w.size(1)}).transpose(1, 2).reshape(w.sizes()).contiguous();
}

// The tensors as llama.cpp's converter lays them out: Phi-3's q, k, v and
// gate, up joined by rows, an MoE's experts stacked per projection, the
// shared-expert gate a vector, Llama-arch (Mixtral) q and k rows permuted.
std::map<std::string, torch::Tensor> llama_cpp_tensors(const model::ModelWeights& hf, const std::string& arch) {
  const auto& c = hf.config;
  const bool gemma = arch.rfind("gemma", 0) == 0;
  std::map<std::string, torch::Tensor> out;
  std::set<std::string> joined;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    auto take = [&](const std::string& rest) {
      joined.insert(layer_tensor(l, rest));
      return hf.tensors.at(layer_tensor(l, rest)).to(torch::kFloat32);
    };
    if (arch == "phi3") {
      out[blk + "attn_qkv.weight"] = torch::cat(
          {take("self_attn.q_proj.weight"), take("self_attn.k_proj.weight"), take("self_attn.v_proj.weight")});
      out[blk + "ffn_up.weight"] = torch::cat({take("mlp.gate_proj.weight"), take("mlp.up_proj.weight")});
    }
    if (c.num_experts > 0) {
      for (const auto& [proj, name] : {std::pair{"gate_proj", "ffn_gate_exps"}, std::pair{"up_proj", "ffn_up_exps"},
                                       std::pair{"down_proj", "ffn_down_exps"}}) {
        std::vector<torch::Tensor> experts;
        for (int64_t x = 0; x < c.num_experts; ++x)
          experts.push_back(take("mlp.experts." + std::to_string(x) + "." + proj + ".weight"));
        out[blk + name + ".weight"] = torch::stack(experts);
      }
    }
    if (arch == "llama") {
      out[blk + "attn_q.weight"] = llama_permute(take("self_attn.q_proj.weight"), c.num_heads);
      out[blk + "attn_k.weight"] = llama_permute(take("self_attn.k_proj.weight"), c.num_kv_heads);
    }
  }
  for (const auto& [name, t] : hf.tensors) {
    if (joined.count(name)) continue;
    const bool norm = name.find("norm.weight") != std::string::npos;
    auto v = gemma && norm ? t.to(torch::kFloat32) + 1.0 : t.to(torch::kFloat32);
    if (name.find("shared_expert_gate") != std::string::npos) v = v.reshape({-1});
    out[gguf_name(name, gemma)] = v;
  }
  return out;
}

// The family's tiny model as llama.cpp's converter would write it (float32)
// with the metadata llama.cpp reads.
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
  if (arch == "phi3") {
    // Phi3MiniModel.set_gguf_parameters and its rope factor tensors.
    const auto& rs = c.rope_scaling;
    w.add_uint32(p + "rope.dimension_count", static_cast<uint32_t>(c.rotary_dim()));
    w.add_uint32(p + "attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
    w.add_uint32(p + "rope.scaling.original_context_length",
                 static_cast<uint32_t>(rs.original_max_position_embeddings));
    const double scale = static_cast<double>(c.max_position_embeddings) / rs.original_max_position_embeddings;
    w.add_float32(p + "rope.scaling.attn_factor",
                  static_cast<float>(std::sqrt(1 + std::log(scale) / std::log(rs.original_max_position_embeddings))));
    for (const auto& [name, f] : {std::pair{"rope_factors_long.weight", &rs.long_factor},
                                  std::pair{"rope_factors_short.weight", &rs.short_factor}}) {
      const auto v = torch::tensor(*f, torch::kFloat64).to(torch::kFloat32);
      w.add_tensor(name, io::GgmlType::F32, ggml_ne(v), f32_bytes(v));
    }
  }
  if (c.num_experts > 0) {
    w.add_uint32(p + "expert_count", static_cast<uint32_t>(c.num_experts));
    w.add_uint32(p + "expert_used_count", static_cast<uint32_t>(c.experts_per_token));
    if (arch != "llama")
      w.add_uint32(p + "expert_feed_forward_length", static_cast<uint32_t>(c.expert_intermediate_size));
    if (c.shared_expert_intermediate_size > 0)
      w.add_uint32(p + "expert_shared_feed_forward_length", static_cast<uint32_t>(c.shared_expert_intermediate_size));
  }
  for (const auto& [name, v] : llama_cpp_tensors(hf, arch))
    w.add_tensor(name, io::GgmlType::F32, ggml_ne(v), f32_bytes(v));
  w.write(path);
}

// A family's tiny MoE model made one llama.cpp's MoE architectures can hold:
// no window, and every block routed (a dense block takes the experts of the
// nearest routed one). The decoder on these weights is the oracle.
model::ModelWeights every_block_routed(model::ModelWeights w) {
  auto& c = w.config;
  c.sliding_window = 0;
  c.layer_types.clear();
  std::vector<int64_t> dense;
  for (int64_t l = 0; l < c.num_layers; ++l)
    if (!c.moe(l)) dense.push_back(l);
  int64_t routed = 0;
  while (!c.moe(routed)) ++routed;
  for (int64_t l : dense) {
    for (const char* proj : {"gate_proj", "up_proj", "down_proj"})
      w.erase(layer_tensor(l, "mlp." + std::string(proj) + ".weight"));
    const std::string from = "model.layers." + std::to_string(routed) + ".mlp.";
    std::map<std::string, torch::Tensor> copies;
    for (const auto& [name, t] : w.tensors)
      if (name.rfind(from, 0) == 0) copies[layer_tensor(l, "mlp." + name.substr(from.size()))] = t;
    w.tensors.insert(copies.begin(), copies.end());
  }
  c.moe_layer_step = 1;
  c.dense_mlp_layers.clear();
  return w;
}

double logit_error(const torch::Tensor& ours, const torch::Tensor& expected) {
  return ((ours.to(torch::kFloat64) - expected.to(torch::kFloat64)).abs().max() /
          expected.to(torch::kFloat64).abs().max())
      .item<double>();
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
    // Fused q/k/v and gate/up, RoPE over 3/4 of each head, LongRoPE (the
    // reference's 40 tokens use the long factors), a window of 24.
    QTest::newRow("phi3") << "phi3"
                          << "phi3";
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

  // Mixtral (llama.cpp's llama arch with experts), Qwen2-MoE (a shared expert)
  // and Qwen3-MoE laid out as llama.cpp writes them, experts stacked: read
  // back, the decoder gives the logits it gives on the safetensors weights
  // (which TestFamilies holds to transformers').
  void llamaCppMoeLayoutsReadAsTheSafetensorsModel_data() {
    QTest::addColumn<QString>("family");
    QTest::addColumn<QString>("arch");
    QTest::newRow("mixtral") << "mixtral"
                             << "llama";
    QTest::newRow("qwen2_moe") << "qwen2_moe"
                               << "qwen2moe";
    QTest::newRow("qwen3_moe") << "qwen3_moe"
                               << "qwen3moe";
  }
  void llamaCppMoeLayoutsReadAsTheSafetensorsModel() {
    QFETCH(QString, family);
    QFETCH(QString, arch);
    const auto dir = test::reference("families/" + family.toStdString());
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto hf = every_block_routed(checkpoint::load_model(dir));
    QTemporaryDir tmp;
    const fs::path path = fs::path(tmp.path().toStdString()) / "model.gguf";
    write_gguf(hf, arch.toStdString(), path);

    const auto g = checkpoint::load_gguf_model(path);
    QCOMPARE(QString::fromStdString(g.config.architecture), family);
    QCOMPARE(g.config.num_experts, hf.config.num_experts);
    QCOMPARE(g.config.experts_per_token, hf.config.experts_per_token);
    QCOMPARE(g.config.expert_intermediate_size, hf.config.expert_intermediate_size);
    QCOMPARE(g.config.shared_expert_intermediate_size, hf.config.shared_expert_intermediate_size);
    QCOMPARE(g.config.normalize_expert_weights, hf.config.normalize_expert_weights);
    const auto ids = test::random_calibration(hf.config.vocab_size, 1, 24, 5).ids;
    const auto expected = model::Decoder(hf, torch::kCPU, torch::kFloat32).forward(ids);
    const auto ours = model::Decoder(g, torch::kCPU, torch::kFloat32).forward(ids);
    const double rel = logit_error(ours, expected);
    qInfo("%s GGUF: largest logit error / largest logit vs its safetensors %.3g", qPrintable(family), rel);
    QVERIFY2(rel < 1e-6, qPrintable(QString::number(rel)));
  }

  // Our own export of each family, quantized W4 g32 and read back by our
  // GGUF reader: the same configuration, the same tokens as the family's
  // tokenizer.json, and the logits of the quantized model up to the f16
  // rounding of ggml's block scales and dense tensors.
  void exportsReadBackAsTheQuantizedModel_data() {
    QTest::addColumn<QString>("family");
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("notes");
    QTest::addColumn<int>("q4_1_per_layer");  // quantized tensors a block holds in the file
    // The Qwen MoE fixtures' experts are 48 wide (the shared one 80), not a
    // whole number of ggml blocks: their down projections stay in FP.
    QTest::addColumn<bool>("fp_down");
    QTest::newRow("llama") << "llama"
                           << "llama" << 0 << 7 << false;
    QTest::newRow("qwen2") << "qwen2"
                           << "qwen2" << 0 << 7 << false;
    QTest::newRow("qwen3") << "qwen3"
                           << "qwen3" << 0 << 7 << false;
    // The fixtures' query_pre_attn_scalar is 20, not llama.cpp's head_dim;
    // Gemma 3's alternates layers (llama.cpp: five sliding to one global).
    QTest::newRow("gemma2") << "gemma2"
                            << "gemma2" << 1 << 7 << false;
    QTest::newRow("gemma3") << "gemma3_text"
                            << "gemma3" << 2 << 7 << false;
    // attn_qkv, attn_output, ffn_up (gate and up), ffn_down; the window is a note.
    QTest::newRow("phi3") << "phi3"
                          << "phi3" << 1 << 4 << false;
    // q, k, v, o and the three stacked expert tensors (and the shared expert's
    // three), less the down projections kept in FP.
    QTest::newRow("mixtral") << "mixtral"
                             << "llama" << 0 << 7 << false;
    QTest::newRow("qwen2_moe") << "qwen2_moe"
                               << "qwen2moe" << 0 << 8 << true;
    QTest::newRow("qwen3_moe") << "qwen3_moe"
                               << "qwen3moe" << 0 << 6 << true;
  }
  void exportsReadBackAsTheQuantizedModel() {
    QFETCH(QString, family);
    QFETCH(QString, arch);
    QFETCH(int, notes);
    QFETCH(int, q4_1_per_layer);
    QFETCH(bool, fp_down);
    const auto dir = test::reference("families/" + family.toStdString());
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    auto hf = checkpoint::load_model(dir);
    if (hf.config.num_experts > 0) hf = every_block_routed(std::move(hf));
    model::Decoder dec(hf, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {4, 32, false, 1.0}, "test"));
    if (fp_down) plan.add_rule({"*.down_proj", std::string(pipeline::kKeepFp), {}, {}, {}, {}, {}, {}, {}});
    pipeline::run_pipeline(dec, test::random_calibration(hf.config.vocab_size, 2, 16, 3), plan, {}, fb);

    QTemporaryDir tmp;
    const fs::path out(tmp.path().toStdString());
    // The tokenizer comes from the family's tokenizer.json.
    const auto report = checkpoint::export_gguf(dec, dir, "tiny", out / "model.gguf");
    QCOMPARE(report.tensor_types.at("Q4_1"), static_cast<int>(q4_1_per_layer * hf.config.num_layers));
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
    QCOMPARE(c.rotary_dim(), want.rotary_dim());
    QCOMPARE(c.num_experts, want.num_experts);
    QCOMPARE(c.pad_token_id, want.pad_token_id);
    QCOMPARE(c.shared_expert_intermediate_size, want.shared_expert_intermediate_size);

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

  // Linears llama.cpp keeps in one tensor must be stored alike: Phi-3's k
  // kept in FP beside a 4-bit q and v is refused naming both, nothing written.
  void exportRefusesJoinedLinearsStoredApart() {
    const auto dir = test::reference("families/phi3");
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const auto hf = checkpoint::load_model(dir);
    model::Decoder dec(hf, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {4, 32, false, 1.0}, "test"));
    plan.add_rule({"model.layers.1.self_attn.k_proj", std::string(pipeline::kKeepFp), {}, {}, {}, {}, {}, {}, {}});
    pipeline::run_pipeline(dec, test::random_calibration(hf.config.vocab_size, 2, 16, 3), plan, {}, fb);
    QTemporaryDir tmp;
    const fs::path out = fs::path(tmp.path().toStdString()) / "model.gguf";
    try {
      checkpoint::export_gguf(dec, dir, "tiny", out);
      QFAIL("exported");
    } catch (const ArgumentError& e) {
      const QString what = e.what();
      QVERIFY2(what.contains("blk.1.attn_qkv.weight") && what.contains("model.layers.1.self_attn.k_proj") &&
                   what.contains("quantize them alike"),
               e.what());
    }
    QVERIFY(!fs::exists(out));
  }

  // What llama.cpp cannot hold is refused before anything is written, naming it.
  void exportRefusesWhatLlamaCppCannotHold_data() {
    QTest::addColumn<QString>("family");
    QTest::addColumn<QString>("why");
    QTest::newRow("mistral's window") << "mistral"
                                      << "sliding attention window";
    QTest::newRow("mixtral's window") << "mixtral"
                                      << "sliding attention window";
    QTest::newRow("qwen3_moe's dense block") << "qwen3_moe"
                                             << "dense MLP blocks between its MoE ones";
    QTest::newRow("qwen2_moe's dense blocks") << "qwen2_moe"
                                              << "dense MLP blocks between its MoE ones";
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

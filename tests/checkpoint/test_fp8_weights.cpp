#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/model/decoder.h"
#include "tests/support/error_of.h"
#include "tests/support/paths.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kBlock = 32;

// DeepSeek-V3's FP8 recipe, block by block: scale = amax / 448, codes = w / scale
// in float8; what the checkpoint stores is the codes and the scale
// ("weight_scale_inv": the factor that dequantizes).
std::pair<torch::Tensor, torch::Tensor> block_fp8(const torch::Tensor& w, torch::ScalarType fp8) {
  const int64_t out = w.size(0), in = w.size(1);
  const int64_t bo = (out + kBlock - 1) / kBlock, bi = (in + kBlock - 1) / kBlock;
  auto scale = torch::empty({bo, bi});
  auto codes = torch::empty({out, in}, torch::TensorOptions().dtype(fp8));
  const double max_code = fp8 == torch::kFloat8_e4m3fn ? 448.0 : 57344.0;
  for (int64_t i = 0; i < bo; ++i)
    for (int64_t j = 0; j < bi; ++j) {
      const auto blk = w.narrow(0, i * kBlock, std::min(kBlock, out - i * kBlock))
                           .narrow(1, j * kBlock, std::min(kBlock, in - j * kBlock));
      const float s = static_cast<float>(blk.abs().max().item<double>() / max_code);
      scale[i][j] = s;
      codes.narrow(0, i * kBlock, blk.size(0)).narrow(1, j * kBlock, blk.size(1)).copy_((blk / s).to(fp8));
    }
  return {codes, scale};
}

// float8 · scale computed in float64 and rounded once: the product of two
// floats is exact in float64, so this is the correctly rounded float32
// product transformers' dequantization (weight.float() * scale) gives.
torch::Tensor reference(const torch::Tensor& codes, const torch::Tensor& scale_per_element) {
  return (codes.to(torch::kFloat64) * scale_per_element.to(torch::kFloat64)).to(torch::kFloat32);
}

torch::Tensor spread(const torch::Tensor& scale, int64_t out, int64_t in) {
  return scale.repeat_interleave(kBlock, 0).repeat_interleave(kBlock, 1).narrow(0, 0, out).narrow(1, 0, in);
}

struct Fp8Model {
  fs::path dir;
  std::map<std::string, torch::Tensor> expected;  // dequantized weights
};

// A tiny Llama whose linears are float8: block scales everywhere, E5M2 for
// one, a per-channel "weight_scale" for another, as FP8 releases mix them.
Fp8Model write_fp8_model(const fs::path& dir) {
  auto c = test::tiny_config();
  const auto w = test::make_tiny_llama(c, 4);
  test::write_hf_checkpoint(w, dir);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  Fp8Model m{dir, {}};
  for (const auto& [name, t] : w.tensors) {
    const bool linear = t.dim() == 2 && name.find("layers.") != std::string::npos;
    if (!linear) {
      tensors.emplace_back(name, t.contiguous());
      continue;
    }
    const std::string base = name.substr(0, name.size() - 7);
    if (name.find("layers.1.mlp.down_proj") != std::string::npos) {
      auto scale = (t.abs().amax(1, true) / 448.0).to(torch::kFloat32);
      auto codes = (t / scale).to(torch::kFloat8_e4m3fn);
      tensors.emplace_back(name, codes);
      tensors.emplace_back(base + ".weight_scale", scale.contiguous());
      m.expected[name] = reference(codes, scale.expand_as(t));
      continue;
    }
    const auto fp8 =
        name.find("layers.0.self_attn.v_proj") != std::string::npos ? torch::kFloat8_e5m2 : torch::kFloat8_e4m3fn;
    auto [codes, scale] = block_fp8(t, fp8);
    tensors.emplace_back(name, codes);
    tensors.emplace_back(base + ".weight_scale_inv", scale);
    m.expected[name] = reference(codes, spread(scale, t.size(0), t.size(1)));
  }
  io::write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  nlohmann::json config;
  std::ifstream(dir / "config.json") >> config;
  config["quantization_config"] = {{"quant_method", "fp8"},
                                   {"activation_scheme", "dynamic"},
                                   {"fmt", "e4m3"},
                                   {"weight_block_size", {kBlock, kBlock}}};
  std::ofstream(dir / "config.json", std::ios::trunc) << config.dump(2);
  return m;
}

}  // namespace

class TestFp8Weights : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void blockAndChannelScalesDequantizeBitForBit() {
    QTemporaryDir tmp;
    const auto m = write_fp8_model(fs::path(tmp.path().toStdString()) / "fp8");
    const auto w = checkpoint::load_model(m.dir);
    QCOMPARE(m.expected.size(), size_t(14));
    for (const auto& [name, expected] : m.expected) {
      QVERIFY2(w.deferred.count(name) && !w.tensors.count(name), name.c_str());
      QVERIFY2(torch::equal(w.at(name), expected), name.c_str());
      QVERIFY2(w.source_dtypes.at(name).rfind("F8_", 0) == 0, name.c_str());
    }
    QVERIFY(!w.has("model.layers.0.self_attn.q_proj.weight_scale_inv"));
    // The model runs on the dequantized weights.
    auto plain = w;
    for (const auto& [name, expected] : m.expected) plain.set(name, expected);
    const auto ids = torch::randint(0, 101, {1, 12}, torch::kLong);
    QVERIFY(torch::equal(model::Decoder(w, torch::kCPU, torch::kFloat32).forward(ids),
                         model::Decoder(plain, torch::kCPU, torch::kFloat32).forward(ids)));
  }

  // Phi-3 stores q/k/v and gate/up fused; in an FP8 release the fused matrix
  // is the float8 one, and its parts are rows of its dequantization.
  void fusedFp8LinearsSplitIntoTheirParts() {
    const auto src = test::reference("families/phi3");
    if (src.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "phi3-fp8";
    fs::create_directories(dir);
    io::SafetensorsFile st(src / "model.safetensors");
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    std::map<std::string, torch::Tensor> dequantized;
    for (const auto& e : st.entries()) {
      const auto t = st.load(e.name);
      if (t.dim() != 2 || e.name.find("layers.") == std::string::npos) {
        tensors.emplace_back(e.name, t);
        continue;
      }
      auto [codes, scale] = block_fp8(t, torch::kFloat8_e4m3fn);
      tensors.emplace_back(e.name, codes);
      tensors.emplace_back(e.name.substr(0, e.name.size() - 7) + ".weight_scale_inv", scale);
      dequantized[e.name] = reference(codes, spread(scale, t.size(0), t.size(1)));
    }
    io::write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
    nlohmann::json config;
    std::ifstream(src / "config.json") >> config;
    config["quantization_config"] = {{"quant_method", "fp8"}, {"weight_block_size", {kBlock, kBlock}}};
    std::ofstream(dir / "config.json") << config.dump(2);

    const auto w = checkpoint::load_model(dir);
    const auto& c = w.config;
    const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
    const auto qkv = dequantized.at("model.layers.1.self_attn.qkv_proj.weight");
    QVERIFY(torch::equal(w.at("model.layers.1.self_attn.q_proj.weight"), qkv.narrow(0, 0, q)));
    QVERIFY(torch::equal(w.at("model.layers.1.self_attn.k_proj.weight"), qkv.narrow(0, q, kv)));
    QVERIFY(torch::equal(w.at("model.layers.1.self_attn.v_proj.weight"), qkv.narrow(0, q + kv, kv)));
    const auto gate_up = dequantized.at("model.layers.1.mlp.gate_up_proj.weight");
    QVERIFY(torch::equal(w.at("model.layers.1.mlp.up_proj.weight"),
                         gate_up.narrow(0, c.intermediate_size, c.intermediate_size)));
    QVERIFY(!w.has("model.layers.1.self_attn.qkv_proj.weight"));
    QCOMPARE(w.source_dtypes.at("model.layers.1.self_attn.k_proj.weight"), std::string("F8_E4M3"));
  }

  void badScalesNameTheTensorOrField() {
    QTemporaryDir tmp;
    const auto m = write_fp8_model(fs::path(tmp.path().toStdString()) / "fp8");
    io::SafetensorsFile st(m.dir / "model.safetensors");
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& e : st.entries())
      if (e.name != "model.layers.0.mlp.up_proj.weight_scale_inv") tensors.emplace_back(e.name, st.load(e.name));
    io::write_safetensors(m.dir / "bad.safetensors", tensors, {});
    fs::rename(m.dir / "bad.safetensors", m.dir / "model.safetensors");
    auto e = test::error_of<FormatError>([&] { checkpoint::load_model(m.dir); });
    QVERIFY2(e.contains("model.layers.0.mlp.up_proj.weight") && e.contains("without a weight_scale"), qPrintable(e));

    tensors.emplace_back("model.layers.0.mlp.up_proj.weight_scale_inv", torch::ones({1, 1}));
    io::write_safetensors(m.dir / "bad.safetensors", tensors, {});
    fs::rename(m.dir / "bad.safetensors", m.dir / "model.safetensors");
    e = test::error_of<FormatError>([&] { checkpoint::load_model(m.dir); });
    QVERIFY2(e.contains("up_proj.weight_scale_inv") && e.contains("[3, 2]"), qPrintable(e));

    nlohmann::json config;
    std::ifstream(m.dir / "config.json") >> config;
    config["quantization_config"]["weight_block_size"] = "128";
    std::ofstream(m.dir / "config.json", std::ios::trunc) << config.dump(2);
    e = test::error_of<FormatError>([&] { checkpoint::load_model(m.dir); });
    QVERIFY2(e.contains("config.json") && e.contains("quantization_config.weight_block_size"), qPrintable(e));
  }

  // compressed-tensors' float-quantized format as llm-compressor writes FP8:
  // the scale is always "weight_scale", its shape says the strategy (tensor
  // [1], channel [out, 1], block [ceil(out/32), ceil(in/32)]); static
  // activation scales and zero zero-points beside it are dropped.
  void compressedTensorsFloatQuantizedReadsEachStrategy() {
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "ct-fp8";
    const auto w0 = test::make_tiny_llama(test::tiny_config(), 6);
    test::write_hf_checkpoint(w0, dir);
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    std::map<std::string, torch::Tensor> expected;
    for (const auto& [name, t] : w0.tensors) {
      if (t.dim() != 2 || name.find("layers.") == std::string::npos) {
        tensors.emplace_back(name, t.contiguous());
        continue;
      }
      const std::string base = name.substr(0, name.size() - 7);
      torch::Tensor codes, scale, spread_scale;
      if (name.find("layers.1.") != std::string::npos) {
        std::tie(codes, scale) = block_fp8(t, torch::kFloat8_e4m3fn);
        spread_scale = spread(scale, t.size(0), t.size(1));
      } else if (name.find("self_attn") != std::string::npos) {
        scale = (t.abs().max() / 448.0).to(torch::kFloat32).reshape({1});
        codes = (t / scale).to(torch::kFloat8_e4m3fn);
        spread_scale = scale.expand_as(t);
      } else {
        scale = (t.abs().amax(1, true) / 448.0).to(torch::kFloat32);
        codes = (t / scale).to(torch::kFloat8_e4m3fn);
        spread_scale = scale.expand_as(t);
      }
      tensors.emplace_back(name, codes);
      tensors.emplace_back(base + ".weight_scale", scale.contiguous());
      tensors.emplace_back(base + ".weight_zero_point", torch::zeros_like(scale));
      tensors.emplace_back(base + ".input_scale", torch::full({1}, 0.05f));
      expected[name] = reference(codes, spread_scale);
    }
    io::write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
    const auto group = [](const char* target, const char* strategy, bool block) {
      nlohmann::json weights = {{"num_bits", 8}, {"type", "float"}, {"symmetric", true}, {"strategy", strategy}};
      if (block) weights["block_structure"] = {kBlock, kBlock};
      return nlohmann::json{{"targets", {target}},
                            {"weights", weights},
                            {"input_activations", {{"num_bits", 8}, {"type", "float"}, {"strategy", "tensor"}}},
                            {"format", "float-quantized"}};
    };
    nlohmann::json config;
    std::ifstream(dir / "config.json") >> config;
    config["quantization_config"] = {
        {"quant_method", "compressed-tensors"},
        {"format", "float-quantized"},
        {"quantization_status", "compressed"},
        {"config_groups",
         {{"group_0", group("re:.*layers[.]0[.]self_attn.*", "tensor", false)},
          {"group_1", group("re:.*layers[.]0[.]mlp.*", "channel", false)},
          {"group_2", group("re:.*layers[.]1[.].*", "block", true)}}},
        {"ignore", {"lm_head"}}};
    std::ofstream(dir / "config.json", std::ios::trunc) << config.dump(2);

    const auto w = checkpoint::load_model(dir);
    QCOMPARE(expected.size(), size_t(14));
    for (const auto& [name, want] : expected) {
      QVERIFY2(w.deferred.count(name), name.c_str());
      QVERIFY2(torch::equal(w.at(name), want), name.c_str());
    }
    for (const char* part : {".weight_scale", ".weight_zero_point", ".input_scale"})
      QVERIFY(!w.has(std::string("model.layers.1.mlp.up_proj") + part));

    // Float groups beside integer ones are not one FP8 release.
    config["quantization_config"]["config_groups"]["group_3"] = {
        {"targets", {"Linear"}}, {"weights", {{"num_bits", 4}, {"type", "int"}}}, {"format", "pack-quantized"}};
    std::ofstream(dir / "config.json", std::ios::trunc) << config.dump(2);
    auto e = test::error_of<FormatError>([&] { checkpoint::load_model(dir); });
    QVERIFY2(e.contains("config.json") && e.contains("quantization_config.config_groups") && e.contains("mixes"),
             qPrintable(e));
    config["quantization_config"]["config_groups"].erase("group_3");
    config["quantization_config"]["config_groups"]["group_2"]["weights"]["block_structure"] = {kBlock};
    std::ofstream(dir / "config.json", std::ios::trunc) << config.dump(2);
    e = test::error_of<FormatError>([&] { checkpoint::load_model(dir); });
    QVERIFY2(e.contains("group_2.weights.block_structure"), qPrintable(e));
  }
};

QS_REGISTER_TEST(TestFp8Weights);
#include "test_fp8_weights.moc"

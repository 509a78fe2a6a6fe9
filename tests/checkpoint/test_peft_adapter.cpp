#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/packed_export.h"
#include "core/checkpoint/peft_adapter.h"
#include "core/checkpoint/peft_adapter_reader.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "tests/checkpoint/export_fixtures.h"
#include "tests/checkpoint/tokenizer_gguf.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<model::Decoder> quantize(const model::ModelWeights& w, const std::string& method) {
  auto dec = std::make_unique<model::Decoder>(w, torch::kCPU, torch::kFloat32);
  auto choice = pipeline::QuantPlan::make_choice(method, {4, 32, false, 1.0}, "test");
  if (method == "lqer") choice.params.set("rank", int64_t{4}, "test");
  test::RecordingFeedback fb;
  pipeline::run_pipeline(*dec, test::random_calibration(101, 4, 16, 3), pipeline::QuantPlan(choice), {}, fb);
  return dec;
}

void write_json(const fs::path& p, const nlohmann::json& j) { std::ofstream(p) << j.dump(); }

// A model with one quantized linear, for the reader's error paths.
model::ModelWeights one_linear(int64_t out, int64_t in) {
  model::ModelWeights w;
  w.source = "base";
  auto q = quant::QuantizedLinear::round_to_nearest(torch::randn({out, in}), {4, 16, false, 1.0});
  w.quantized["model.layers.0.mlp.up_proj"] = std::make_shared<const quant::QuantizedLinear>(q);
  return w;
}

void write_adapter(const fs::path& dir, const nlohmann::json& config,
                   const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  fs::create_directories(dir);
  write_json(dir / "adapter_config.json", config);
  io::write_safetensors(dir / "adapter_model.safetensors", tensors);
}

}  // namespace

class TestPeftAdapter : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // LQER branches leave as a PEFT adapter beside the packed base, in every
  // format, and come back bit for bit when the export is opened.
  void sideBranchesRoundTripThroughTheAdapter() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 11);
    const auto dec = quantize(w, "lqer");
    for (const char* format : {"compressed-tensors", "gptq", "gguf"}) {
      QTemporaryDir tmp;
      const fs::path dir = fs::path(tmp.path().toStdString()) / "export";
      checkpoint::ExportOptions o;
      o.format = checkpoint::parse_format(format);
      if (o.format == checkpoint::Format::Gguf)
        o.tokenizer_source = test::write_tokenizer_gguf(tmp.path().toStdString(), 101);
      const auto report = checkpoint::export_checkpoint(*dec, o, dir);
      QCOMPARE(report.adapters, int64_t{14});
      const auto config = test::read_json(dir / "adapter" / "adapter_config.json");
      QCOMPARE(config["peft_type"].get<std::string>(), std::string("LORA"));
      QCOMPARE(config["r"].get<int>(), 4);
      QCOMPARE(config["lora_alpha"].get<int>(), 4);
      QCOMPARE(config["target_modules"].size(), size_t{14});
      const io::SafetensorsFile st(dir / "adapter" / "adapter_model.safetensors");
      QVERIFY(st.find("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight") != nullptr);

      const bool gguf = std::string(format) == "gguf";
      const auto back = checkpoint::load_model(gguf ? dir / "model.gguf" : dir);
      for (int64_t l = 0; l < 2; ++l)
        for (auto r : model::kLinearRoles) {
          const auto name = model::linear_name(l, r);
          const auto ours = test::record(*dec, l, r);
          if (gguf) {  // read back dense (ggml blocks dequantized), the branch merged in
            QVERIFY2(torch::allclose(back.at(name + ".weight"), ours->effective_weight(), 1e-3, 1e-3), name.c_str());
            continue;
          }
          const auto& got = back.quantized.at(name);
          QVERIFY2(torch::equal(got->lora_a, ours->lora_a) && torch::equal(got->lora_b, ours->lora_b),
                   qPrintable(QString("%1 %2").arg(format).arg(name.c_str())));
        }
    }
  }

  // A model without branches exported over an earlier export leaves no stale adapter.
  void exportWithoutBranchesRemovesAnOldAdapter() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 12);
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "export";
    checkpoint::ExportOptions o;
    checkpoint::export_checkpoint(*quantize(w, "lqer"), o, dir);
    QVERIFY(fs::exists(dir / "adapter" / "adapter_config.json"));
    const auto report = checkpoint::export_checkpoint(*quantize(w, "rtn"), o, dir);
    QCOMPARE(report.adapters, int64_t{0});
    QVERIFY(!fs::exists(dir / "adapter"));
    QVERIFY(!checkpoint::load_model(dir).quantized.begin()->second->lora_a.defined());
  }

  // Ranks that differ go to rank_pattern/alpha_pattern and read back as written;
  // a third-party alpha ≠ r is folded into lora_b as PEFT scales it.
  void mixedRanksAndScaling() {
    torch::manual_seed(13);
    checkpoint::QuantizedMap m;
    for (int i = 0; i < 3; ++i) {
      auto q = quant::QuantizedLinear::round_to_nearest(torch::randn({8, 16}), {4, 16, false, 1.0});
      const int64_t r = i == 2 ? 2 : 3;
      q.lora_a = torch::randn({r, 16});
      q.lora_b = torch::randn({8, r});
      m["model.layers." + std::to_string(i) + ".mlp.up_proj"] = std::make_shared<const quant::QuantizedLinear>(q);
    }
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    QCOMPARE(checkpoint::write_peft_adapter(m, "base", dir), int64_t{3});
    auto config = test::read_json(dir / "adapter_config.json");
    QCOMPARE(config["r"].get<int>(), 3);
    QCOMPARE(config["rank_pattern"]["model.layers.2.mlp.up_proj"].get<int>(), 2);
    model::ModelWeights w;
    for (const auto& [name, q] : m) {
      auto base = *q;
      base.lora_a = torch::Tensor();
      base.lora_b = torch::Tensor();
      w.quantized[name] = std::make_shared<const quant::QuantizedLinear>(base);
    }
    checkpoint::read_peft_adapter(dir, w);
    for (const auto& [name, q] : m) QVERIFY(torch::equal(w.quantized.at(name)->lora_b, q->lora_b));

    config["lora_alpha"] = 6;  // scaling 2 for the rank-3 modules; the pattern keeps 1 for layer 2
    write_json(dir / "adapter_config.json", config);
    checkpoint::read_peft_adapter(dir, w);
    QVERIFY(torch::allclose(w.quantized.at("model.layers.0.mlp.up_proj")->lora_b,
                            m.at("model.layers.0.mlp.up_proj")->lora_b * 2.0));
    QVERIFY(
        torch::equal(w.quantized.at("model.layers.2.mlp.up_proj")->lora_b, m.at("model.layers.2.mlp.up_proj")->lora_b));
  }

  // Adapters that cannot be a side branch of this model are refused with the
  // file and the field or tensor named.
  void hostileAdaptersNameTheFileAndField() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const nlohmann::json lora = {{"peft_type", "LORA"}, {"r", 2}, {"lora_alpha", 2}};
    const std::string key = "base_model.model.model.layers.0.mlp.up_proj";
    auto w = one_linear(8, 32);

    write_adapter(dir, {{"peft_type", "IA3"}}, {{key + ".lora_A.weight", torch::zeros({2, 32})}});
    auto msg = test::error_of<FormatError>([&] { checkpoint::read_peft_adapter(dir, w); });
    QVERIFY2(msg.contains("adapter_config.json") && msg.contains("peft_type"), qPrintable(msg));

    write_adapter(dir, lora,
                  {{key + ".lora_A.weight", torch::zeros({2, 31})}, {key + ".lora_B.weight", torch::zeros({8, 2})}});
    msg = test::error_of<FormatError>([&] { checkpoint::read_peft_adapter(dir, w); });
    QVERIFY2(msg.contains("adapter_model.safetensors") && msg.contains("up_proj.lora_A") && msg.contains("8x32"),
             qPrintable(msg));

    const std::string other = "base_model.model.model.layers.0.mlp.gate_proj";
    write_adapter(
        dir, lora,
        {{other + ".lora_A.weight", torch::zeros({2, 32})}, {other + ".lora_B.weight", torch::zeros({8, 2})}});
    msg = test::error_of<FormatError>([&] { checkpoint::read_peft_adapter(dir, w); });
    QVERIFY2(msg.contains("gate_proj") && msg.contains("not a linear"), qPrintable(msg));

    write_adapter(dir, lora, {{key + ".lora_A.weight", torch::zeros({2, 32})}});
    msg = test::error_of<FormatError>([&] { checkpoint::read_peft_adapter(dir, w); });
    QVERIFY2(msg.contains("lora_B") && msg.contains("missing"), qPrintable(msg));

    write_adapter(dir, lora,
                  {{key + ".lora_A.weight", torch::zeros({2, 32})}, {key + ".lora_B.weight", torch::zeros({8, 2})}});
    std::ofstream(dir / "adapter_config.json") << "{\"peft_type\": \"LORA\", \"r\": ";
    msg = test::error_of<FormatError>([&] { checkpoint::read_peft_adapter(dir, w); });
    QVERIFY2(msg.contains("adapter_config.json") && msg.contains("not JSON"), qPrintable(msg));

    // Fields of the wrong type are named, not nlohmann's type_error.
    for (const auto& [field, value] : {std::pair{"use_dora", nlohmann::json("yes")},
                                       std::pair{"peft_type", nlohmann::json(1)},
                                       std::pair{"use_rslora", nlohmann::json::array()}}) {
      auto config = lora;
      config[field] = value;
      write_adapter(dir, config,
                    {{key + ".lora_A.weight", torch::zeros({2, 32})}, {key + ".lora_B.weight", torch::zeros({8, 2})}});
      msg = test::error_of<FormatError>([&] { checkpoint::read_peft_adapter(dir, w); });
      QVERIFY2(msg.contains("adapter_config.json") && msg.contains(field), qPrintable(msg));
    }
  }
};

QS_REGISTER_TEST(TestPeftAdapter);
#include "test_peft_adapter.moc"

#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/packed_export.h"
#include "core/checkpoint/provenance.h"
#include "core/error.h"
#include "core/io/file_fingerprint.h"
#include "core/io/mapped_tensor.h"
#include "core/io/safetensors.h"
#include "core/model/decoder.h"
#include "core/model/quantized_linear_op.h"
#include "core/pipeline/pipeline.h"
#include "core/quant/quantized_linear.h"
#include "tests/checkpoint/export_fixtures.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;
using checkpoint::Format;

namespace {

struct Quantized {
  model::ModelWeights fp;
  std::unique_ptr<model::Decoder> dec;
};

Quantized quantize(pipeline::QuantPlan plan, uint64_t seed = 5) {
  Quantized q;
  q.fp = test::make_tiny_llama(test::tiny_config(), seed);
  q.dec = std::make_unique<model::Decoder>(q.fp, torch::kCPU, torch::kFloat32);
  test::RecordingFeedback fb;
  pipeline::run_pipeline(*q.dec, test::random_calibration(101, 4, 16, seed), plan, {}, fb);
  return q;
}

pipeline::QuantPlan uniform(const std::string& method, int bits, bool sym = false) {
  return pipeline::QuantPlan(pipeline::QuantPlan::make_choice(method, {bits, 32, sym, 1.0}, "test"));
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

class TestExport : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void roundTripIsBitExact_data() {
    QTest::addColumn<QString>("format");
    QTest::addColumn<QString>("method");
    QTest::addColumn<int>("bits");
    QTest::addColumn<bool>("sym");
    QTest::newRow("ct w4 gptq") << "compressed-tensors"
                                << "gptq" << 4 << false;
    QTest::newRow("ct w8 rtn sym") << "compressed-tensors"
                                   << "rtn" << 8 << true;
    QTest::newRow("ct w2 rtn") << "compressed-tensors"
                               << "rtn" << 2 << false;
    QTest::newRow("gptq w3") << "gptq"
                             << "gptq" << 3 << false;
    QTest::newRow("gptq w2") << "gptq"
                             << "rtn" << 2 << false;
    QTest::newRow("gptq w4 sym") << "gptq"
                                 << "gptq" << 4 << true;
    QTest::newRow("gptq w8") << "gptq"
                             << "rtn" << 8 << false;
    QTest::newRow("gptq-v2 w4") << "gptq-v2"
                                << "gptq" << 4 << false;
    QTest::newRow("gptq-v2 w3") << "gptq-v2"
                                << "rtn" << 3 << false;
    QTest::newRow("awq w4") << "awq"
                            << "awq" << 4 << false;
  }
  void roundTripIsBitExact() {
    QFETCH(QString, format);
    QFETCH(QString, method);
    QFETCH(int, bits);
    QFETCH(bool, sym);
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "export";
    auto q = quantize(uniform(method.toStdString(), bits, sym));
    checkpoint::ExportOptions o;
    o.format = checkpoint::parse_format(format.toStdString());
    const auto report = checkpoint::export_checkpoint(*q.dec, o, dir);
    QCOMPARE(report.quantized_linears, int64_t(14));

    const auto back = checkpoint::load_model(dir);
    QCOMPARE(back.quantized.size(), size_t(14));
    for (int64_t l = 0; l < 2; ++l)
      for (auto r : model::kLinearRoles) {
        const auto name = model::linear_name(l, r);
        const auto ours = test::record(*q.dec, l, r);
        const auto& got = back.quantized.at(name);
        QVERIFY2(!got->codes.defined() && got->packed_codes.defined(), name.c_str());  // read into QuantScope's packing
        // GPTQ and compressed-tensors words are that packing: kept mapped, not copied.
        QVERIFY2(io::is_mapped(got->packed_codes) == (format != "awq"), name.c_str());
        QVERIFY2(torch::equal(got->unpacked_codes(), ours->unpacked_codes()), name.c_str());
        QVERIFY2(torch::equal(got->zeros, ours->zeros), name.c_str());
        QVERIFY2(torch::equal(got->scales, ours->scales.to(torch::kFloat16).to(torch::kFloat32)), name.c_str());
        QCOMPARE(got->spec.bits, bits);
        QCOMPARE(got->spec.group_size, ours->spec.group_size);
        QCOMPARE(got->spec.symmetric, sym);
      }
    // What was read writes the same file again, byte for byte.
    model::Decoder reloaded(back, torch::kCPU, torch::kFloat32);
    checkpoint::export_checkpoint(reloaded, o, dir / "again");
    QVERIFY(read_bytes(dir / "model.safetensors") == read_bytes(dir / "again" / "model.safetensors"));
    QVERIFY(test::read_json(dir / "config.json") == test::read_json(dir / "again" / "config.json"));

    // Only fp16 rounding of scales and FP tensors separates the two models.
    auto ids = test::random_calibration(101, 1, 12, 9).ids;
    auto a = q.dec->forward(ids), b = reloaded.forward(ids);
    QVERIFY2(((a - b).abs().max() / a.abs().max()).item<double>() < 5e-3,
             std::to_string(((a - b).abs().max() / a.abs().max()).item<double>()).c_str());
  }

  // Past the shard size the tensors go to numbered shards with an index, as
  // transformers writes them: the same tensors, read back the same; a later
  // export into the directory in the other layout leaves nothing of this one.
  void largeExportsAreSharded() {
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "export";
    auto q = quantize(uniform("gptq", 4));
    checkpoint::ExportOptions o;
    o.format = Format::Gptq;
    checkpoint::export_checkpoint(*q.dec, o, dir / "single");
    o.max_shard_bytes = 16384;
    const auto report = checkpoint::export_checkpoint(*q.dec, o, dir / "sharded");
    QVERIFY(!fs::exists(dir / "sharded" / "model.safetensors"));
    const auto index = test::read_json(dir / "sharded" / "model.safetensors.index.json");
    std::set<std::string> shards;
    for (const auto& [tensor, file] : index["weight_map"].items()) shards.insert(file.get<std::string>());
    QVERIFY2(shards.size() > 2, std::to_string(shards.size()).c_str());
    const auto n = std::to_string(shards.size());
    uint64_t bytes = 0, data = 0;
    for (const auto& s : shards) {
      QVERIFY2(s.size() == 32 && s.find("-of-0000" + n) != std::string::npos, s.c_str());
      bytes += fs::file_size(dir / "sharded" / s);
      const io::SafetensorsFile st(dir / "sharded" / s);
      for (const auto& e : st.entries()) {
        QCOMPARE(index["weight_map"][e.name].get<std::string>(), s);
        data += e.nbytes;
      }
      // Each shard holds at most the limit, or one tensor larger than it.
      QVERIFY(st.entries().size() == 1 || fs::file_size(dir / "sharded" / s) < 16384 + 8192);
    }
    QCOMPARE(report.bytes, bytes);
    QCOMPARE(index["metadata"]["total_size"].get<uint64_t>(), data);
    const io::SafetensorsFile single(dir / "single" / "model.safetensors");
    QCOMPARE(index["weight_map"].size(), single.entries().size());
    for (const auto& e : single.entries()) {
      const io::SafetensorsFile st(dir / "sharded" / index["weight_map"][e.name].get<std::string>());
      QVERIFY2(torch::equal(st.load(e.name), single.load(e.name)), e.name.c_str());
    }
    const auto a = checkpoint::load_model(dir / "single"), b = checkpoint::load_model(dir / "sharded");
    for (const auto& [name, r] : a.quantized) {
      QVERIFY2(torch::equal(b.quantized.at(name)->unpacked_codes(), r->unpacked_codes()), name.c_str());
      QVERIFY2(torch::equal(b.quantized.at(name)->scales, r->scales), name.c_str());
    }
    // Exported again unsharded: the shards and the index go.
    o.max_shard_bytes = io::kDefaultShardBytes;
    checkpoint::export_checkpoint(*q.dec, o, dir / "sharded");
    QVERIFY(!fs::exists(dir / "sharded" / "model.safetensors.index.json"));
    for (const auto& s : shards) QVERIFY2(!fs::exists(dir / "sharded" / s), s.c_str());
    QVERIFY(read_bytes(dir / "single" / "model.safetensors") == read_bytes(dir / "sharded" / "model.safetensors"));
  }

  // AffineQuant's shifts leave biases on q/k/v/o/gate/up of a Llama: the
  // export switches on attention_bias and mlp_bias, as HF and vLLM read them,
  // writes down_proj's as zeros, and reads back to the same model.
  void shiftBiasesTravelWithTheirGroups() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    auto choice = pipeline::QuantPlan::make_choice("affinequant", {4, 32, false, 1.0}, "test");
    choice.params.set("epochs", int64_t{2}, "test");
    choice.params.set("ln_matrix", false, "test");
    auto q = quantize(pipeline::QuantPlan(choice));
    QVERIFY(test::record(*q.dec, 0, model::LinearRole::O)->bias.defined());
    QVERIFY(!test::record(*q.dec, 0, model::LinearRole::Down)->bias.defined());
    const auto ids = test::random_calibration(101, 1, 12, 9).ids;
    const auto expected = q.dec->forward(ids);
    for (auto f : {Format::CompressedTensors, Format::Awq}) {
      checkpoint::ExportOptions o;
      o.format = f;
      const auto dir = root / checkpoint::format_name(f);
      checkpoint::export_checkpoint(*q.dec, o, dir);
      const auto config = test::read_json(dir / "config.json");
      QVERIFY(config["attention_bias"].get<bool>());
      QVERIFY(config["mlp_bias"].get<bool>());
      const io::SafetensorsFile st(dir / "model.safetensors");
      QVERIFY(st.load("model.layers.1.mlp.down_proj.bias").abs().max().item<double>() == 0.0);
      QVERIFY(st.load("model.layers.1.self_attn.o_proj.bias").abs().max().item<double>() > 0.0);
      model::Decoder back(checkpoint::load_model(dir), torch::kCPU, torch::kFloat32);
      const double diff = ((back.forward(ids) - expected).abs().max() / expected.abs().max()).item<double>();
      QVERIFY2(diff < 5e-3, std::to_string(diff).c_str());
    }
  }

  // Fake-quant holds what no packed format can: AffineQuant's norm matrices
  // with its shifts' biases, and LQER's side branches. Read back as an FP
  // model it computes what the quantized model does (fp32, so only the
  // order of operations differs); its q_proj is the dequantized codes times
  // the transform, rebuilt here from the record's own tensors. Written over
  // a packed export, it leaves none of that export's adapter or provenance.
  void fakeQuantHoldsEveryMethodAsPlainWeights() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    auto affine = pipeline::QuantPlan::make_choice("affinequant", {3, 32, false, 1.0}, "test");
    affine.params.set("epochs", int64_t{2}, "test");
    auto lqer = pipeline::QuantPlan::make_choice("lqer", {4, 32, false, 1.0}, "test");
    lqer.params.set("rank", int64_t{4}, "test");
    const auto ids = test::random_calibration(101, 1, 12, 9).ids;
    checkpoint::ExportOptions o;
    o.dtype = torch::kFloat32;
    o.provenance.run_json = R"({"method":"lqer"})";
    for (const auto& choice : {affine, lqer}) {
      auto q = quantize(pipeline::QuantPlan(choice));
      const auto dir = root / choice.method;
      if (choice.method == "lqer") {  // an earlier packed export in the same directory
        o.format = Format::CompressedTensors;
        QVERIFY(checkpoint::export_checkpoint(*q.dec, o, dir).adapters > 0);
        QVERIFY(fs::exists(dir / checkpoint::kProvenanceFile) && fs::exists(dir / "adapter"));
      }
      o.format = checkpoint::parse_format("fake-quant");
      const auto report = checkpoint::export_checkpoint(*q.dec, o, dir);
      QCOMPARE(report.quantized_linears, int64_t(14));
      QCOMPARE(report.adapters, int64_t(0));
      QCOMPARE(report.quantization_config, std::string("null"));
      QVERIFY(!test::read_json(dir / "config.json").contains("quantization_config"));
      QVERIFY(!fs::exists(dir / checkpoint::kProvenanceFile) && !fs::exists(dir / checkpoint::kProvenanceTensorsFile));
      QVERIFY(!fs::exists(dir / "adapter"));
      QVERIFY(read_bytes(dir / "README.md").find("**fake-quant**") != std::string::npos);

      const auto back = checkpoint::load_model(dir);
      QVERIFY(back.quantized.empty());
      model::Decoder reloaded(back, torch::kCPU, torch::kFloat32);
      const auto expected = q.dec->forward(ids);
      const double diff = ((reloaded.forward(ids) - expected).abs().max() / expected.abs().max()).item<double>();
      QVERIFY2(diff < 1e-5, (choice.method + ": " + std::to_string(diff)).c_str());

      const auto r = test::record(*q.dec, 0, model::LinearRole::Q);
      auto w = (r->unpacked_codes().to(torch::kFloat32) - r->zeros.to(torch::kFloat32).repeat_interleave(32, 1)) *
               r->scales.repeat_interleave(32, 1);
      if (choice.method == "affinequant") {
        QVERIFY(r->transform.defined() && r->transform.dim() == 2 && r->bias.defined());
        w = torch::matmul(w, r->transform);
      } else {
        QVERIFY(r->lora_a.defined());
        w = w + torch::matmul(r->lora_b, r->lora_a);
      }
      const io::SafetensorsFile st(dir / "model.safetensors");
      const auto stored = st.load("model.layers.0.self_attn.q_proj.weight");
      QVERIFY2(torch::allclose(stored, w, 1e-5, 1e-6), std::to_string((stored - w).abs().max().item<double>()).c_str());
    }
  }

  // Qwen2's config has q/k/v biases and no others: shifts' biases on gate/up
  // are refused by name before anything is written.
  void qwen2RefusesBiasesItHasNoPlaceFor() {
    QTemporaryDir tmp;
    auto c = test::tiny_config();
    c.architecture = "qwen2";
    c.attention_bias = true;
    const auto fp = test::make_tiny_llama(c, 5);
    model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
    auto choice = pipeline::QuantPlan::make_choice("affinequant", {4, 32, false, 1.0}, "test");
    choice.params.set("epochs", int64_t{1}, "test");
    choice.params.set("ln_matrix", false, "test");
    test::RecordingFeedback fb;
    pipeline::run_pipeline(dec, test::random_calibration(101, 4, 16, 5), pipeline::QuantPlan(choice), {}, fb);
    const fs::path dir = fs::path(tmp.path().toStdString()) / "qwen";
    const auto e = test::error_of<ArgumentError>([&] { checkpoint::export_checkpoint(dec, {}, dir); });
    QVERIFY2(e.contains("model.layers.0.mlp.gate_proj") && e.contains("qwen2"), qPrintable(e));
    QVERIFY(!fs::exists(dir));
  }

  // A zero point of 0 (a group of one sign on an asymmetric grid): GPTQ v1
  // refuses it by layer and before writing anything, v2 holds it bit for bit.
  void gptqV2HoldsAZeroPointOfZero() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    auto q = quantize(uniform("rtn", 4));
    auto edited = std::make_shared<quant::QuantizedLinear>(*test::record(*q.dec, 1, model::LinearRole::Down));
    edited->zeros = edited->zeros.clone();
    edited->zeros[3][0] = 0;
    q.dec->set_linear(1, model::LinearRole::Down,
                      std::make_shared<model::QuantizedLinearOp>(edited, torch::kCPU, torch::kFloat32));
    checkpoint::ExportOptions o;
    o.format = Format::Gptq;
    const auto e = test::error_of<ArgumentError>([&] { checkpoint::export_checkpoint(*q.dec, o, root / "v1"); });
    QVERIFY2(e.contains("model.layers.1.mlp.down_proj") && e.contains("gptq-v2"), qPrintable(e));
    QVERIFY(!fs::exists(root / "v1"));

    o.format = Format::GptqV2;
    checkpoint::export_checkpoint(*q.dec, o, root / "v2");
    const auto qc = test::read_json(root / "v2" / "config.json")["quantization_config"];
    QCOMPARE(qc["checkpoint_format"].get<std::string>(), std::string("gptq_v2"));
    QCOMPARE(test::read_json(root / "v2" / "quantize_config.json")["checkpoint_format"].get<std::string>(),
             std::string("gptq_v2"));
    const auto back = checkpoint::load_model(root / "v2");
    const auto& got = back.quantized.at("model.layers.1.mlp.down_proj");
    QCOMPARE(got->zeros[3][0].item<int>(), 0);
    QVERIFY(torch::equal(got->zeros, edited->zeros));
    QVERIFY(torch::equal(got->unpacked_codes(), edited->unpacked_codes()));
  }

  void configsSayWhatLoadersExpect() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    auto q = quantize(uniform("rtn", 4));
    checkpoint::ExportOptions o;
    for (auto f : {Format::CompressedTensors, Format::Gptq, Format::Awq}) {
      o.format = f;
      checkpoint::export_checkpoint(*q.dec, o, root / checkpoint::format_name(f));
    }
    const auto ct = test::read_json(root / "compressed-tensors" / "config.json")["quantization_config"];
    QCOMPARE(ct["quant_method"].get<std::string>(), std::string("compressed-tensors"));
    QCOMPARE(ct["format"].get<std::string>(), std::string("pack-quantized"));
    QCOMPARE(ct["config_groups"]["group_0"]["targets"][0].get<std::string>(), std::string("Linear"));
    QCOMPARE(ct["config_groups"]["group_0"]["weights"]["group_size"].get<int>(), 32);
    QCOMPARE(ct["ignore"][0].get<std::string>(), std::string("lm_head"));
    io::SafetensorsFile st(root / "compressed-tensors" / "model.safetensors");
    const auto* wp = st.find("model.layers.0.mlp.down_proj.weight_packed");
    QVERIFY(wp);
    QCOMPARE(wp->shape, (std::vector<int64_t>{64, 96 * 4 / 32}));
    QVERIFY(st.find("model.layers.0.mlp.down_proj.weight_zero_point"));
    QCOMPARE(st.find("model.layers.0.mlp.down_proj.weight_scale")->dtype, std::string("F16"));

    const auto gq = test::read_json(root / "gptq" / "config.json")["quantization_config"];
    QCOMPARE(gq["quant_method"].get<std::string>(), std::string("gptq"));
    QCOMPARE(gq["checkpoint_format"].get<std::string>(), std::string("gptq"));
    QVERIFY(!gq["desc_act"].get<bool>());
    QVERIFY(fs::exists(root / "gptq" / "quantize_config.json"));
    io::SafetensorsFile gst(root / "gptq" / "model.safetensors");
    QCOMPARE(gst.find("model.layers.0.mlp.down_proj.qweight")->shape, (std::vector<int64_t>{96 * 4 / 32, 64}));
    QCOMPARE(gst.find("model.layers.0.mlp.down_proj.qzeros")->shape, (std::vector<int64_t>{3, 64 * 4 / 32}));
    QCOMPARE(gst.find("model.layers.0.mlp.down_proj.g_idx")->shape, (std::vector<int64_t>{96}));

    const auto aq = test::read_json(root / "awq" / "config.json")["quantization_config"];
    QCOMPARE(aq["quant_method"].get<std::string>(), std::string("awq"));
    QCOMPARE(aq["version"].get<std::string>(), std::string("gemm"));
    io::SafetensorsFile ast(root / "awq" / "model.safetensors");
    QCOMPARE(ast.find("model.layers.0.mlp.down_proj.qweight")->shape, (std::vector<int64_t>{96, 64 / 8}));
    QVERIFY(fs::exists(root / "awq" / "README.md"));
  }

  void mixedPlansFitOnlyWhereTheFormatHoldsThem() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    auto plan = uniform("rtn", 4);
    plan.add_rule({"model.layers.1.*", std::string("gptq"), 8, {}, {}, {}, {}, {}, {}});
    plan.add_rule({"model.layers.1.mlp.up_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
    auto q = quantize(plan);
    checkpoint::ExportOptions o;
    const auto report = checkpoint::export_checkpoint(*q.dec, o, root / "ct");
    QCOMPARE(report.kept_fp, (std::vector<std::string>{"model.layers.1.mlp.up_proj"}));
    const auto ct = test::read_json(root / "ct" / "config.json")["quantization_config"];
    QCOMPARE(ct["config_groups"].size(), size_t(2));
    QCOMPARE(ct["ignore"][1].get<std::string>(), std::string("model.layers.1.mlp.up_proj"));
    const auto back = checkpoint::load_model(root / "ct");
    QCOMPARE(back.quantized.size(), size_t(13));
    QCOMPARE(back.quantized.at("model.layers.1.self_attn.o_proj")->spec.bits, 8);
    QVERIFY(back.has("model.layers.1.mlp.up_proj.weight"));

    o.format = Format::Gptq;
    QVERIFY(test::error_of<Error>([&] {
              checkpoint::export_checkpoint(*q.dec, o, root / "gptq");
            }).contains("one bits/group"));
    QVERIFY2(!fs::exists(root / "gptq"), "a refused export writes nothing");
    o.format = Format::Awq;
    QVERIFY(test::error_of<Error>([&] { checkpoint::export_checkpoint(*q.dec, o, root / "awq"); }).contains("AWQ"));
  }

  void shortLastGroupOnlyInGptq() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    auto q = quantize(pipeline::QuantPlan(pipeline::QuantPlan::make_choice("rtn", {4, 64, false, 1.0}, "test")));
    checkpoint::ExportOptions o;
    o.format = Format::Gptq;
    checkpoint::export_checkpoint(*q.dec, o, root / "gptq");  // 96-wide down_proj: groups of 64 and 32
    const auto back = checkpoint::load_model(root / "gptq");
    QVERIFY(torch::equal(back.quantized.at("model.layers.0.mlp.down_proj")->unpacked_codes(),
                         test::record(*q.dec, 0, model::LinearRole::Down)->unpacked_codes()));
    for (auto f : {Format::CompressedTensors, Format::Awq}) {
      o.format = f;
      const auto e = test::error_of<Error>([&] { checkpoint::export_checkpoint(*q.dec, o, root / "x"); });
      QVERIFY2(e.contains("down_proj") && e.contains("divide"), qPrintable(e));
    }
  }

  void actOrderTravelsAsGIdx() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    auto plan = uniform("gptq", 4);
    plan.add_rule({"model.*", {}, {}, {}, {}, {}, {{"act_order", true}}, {}, {}});
    auto q = quantize(plan);
    for (auto f : {Format::Gptq, Format::CompressedTensors}) {
      checkpoint::ExportOptions o;
      o.format = f;
      const auto dir = root / checkpoint::format_name(f);
      checkpoint::export_checkpoint(*q.dec, o, dir);
      const auto back = checkpoint::load_model(dir);
      const auto& got = back.quantized.at("model.layers.0.mlp.down_proj");
      const auto ours = test::record(*q.dec, 0, model::LinearRole::Down);
      QVERIFY(ours->g_idx.defined());
      QVERIFY(torch::equal(got->g_idx, ours->g_idx));
      QVERIFY(torch::equal(got->unpacked_codes(), ours->unpacked_codes()));
    }
    QVERIFY(test::read_json(root / "gptq" / "config.json")["quantization_config"]["desc_act"].get<bool>());
    checkpoint::ExportOptions o;
    o.format = Format::Awq;
    QVERIFY(
        test::error_of<Error>([&] { checkpoint::export_checkpoint(*q.dec, o, root / "awq"); }).contains("act-order"));
  }

  // Every format records how the model was made beside the files other
  // loaders read (GGUF: test_gguf_export); QuantScope reads it back, and a
  // damaged record names its file and field.
  void exportsRecordTheirProvenance() {
    QTemporaryDir tmp;
    const fs::path root = tmp.path().toStdString();
    auto q = quantize(uniform("rtn", 4));
    checkpoint::ExportOptions o;
    o.provenance.source_model = root / "fp-model";
    o.provenance.linears["model.layers.0.mlp.up_proj"] = {
        "gptq", {{"act_order", true}, {"damp_percent", 0.01}}, 1.5e-4, 2.5e-3, 0.75};
    o.provenance.run_json = R"({"method":"gptq","calibration":{"nsamples":4}})";
    for (const auto format : {Format::Gptq, Format::Awq, Format::CompressedTensors}) {
      o.format = format;
      const fs::path dir = root / checkpoint::format_name(format);
      checkpoint::export_checkpoint(*q.dec, o, dir);
      const auto back = checkpoint::read_provenance(dir);
      QCOMPARE(back.source_model, root / "fp-model");
      QCOMPARE(back.linears.size(), size_t{1});
      const auto& l = back.linears.at("model.layers.0.mlp.up_proj");
      QCOMPARE(l.method, std::string("gptq"));
      QCOMPARE(std::get<bool>(l.params.at("act_order")), true);
      QCOMPARE(std::get<double>(l.params.at("damp_percent")), 0.01);
      QCOMPARE(l.weight_mse, 1.5e-4);
      QCOMPARE(l.output_rel_mse, 2.5e-3);
      QCOMPARE(l.seconds, 0.75);
      QCOMPARE(nlohmann::json::parse(back.run_json)["calibration"]["nsamples"].get<int>(), 4);
    }
    QVERIFY(checkpoint::read_provenance(root / "nowhere").source_model.empty());

    const fs::path file = root / "gptq" / checkpoint::kProvenanceFile;
    auto doc = test::read_json(file);
    doc["linears"]["model.layers.0.mlp.up_proj"]["params"]["act_order"] = {true};
    std::ofstream(file, std::ios::trunc) << doc.dump();
    auto e = test::error_of<Error>([&] { checkpoint::read_provenance(root / "gptq"); });
    QVERIFY2(
        e.contains(checkpoint::kProvenanceFile) && e.contains("linears.model.layers.0.mlp.up_proj.params.act_order"),
        qPrintable(e));
    doc["format_version"] = checkpoint::kProvenanceFormatVersion + 1;
    std::ofstream(file, std::ios::trunc) << doc.dump();
    e = test::error_of<Error>([&] { checkpoint::read_provenance(root / "gptq"); });
    QVERIFY2(e.contains("format_version") && e.contains("newer"), qPrintable(e));
    std::ofstream(file, std::ios::trunc) << doc.dump().substr(0, 40);  // cut short
    e = test::error_of<Error>([&] { checkpoint::read_provenance(root / "gptq"); });
    QVERIFY2(e.contains(checkpoint::kProvenanceFile) && e.contains("invalid JSON"), qPrintable(e));

    // A relative path is recorded as seen from here, so it holds from anywhere.
    checkpoint::Provenance relative;
    relative.source_model = "models/../models/fp.gguf";
    checkpoint::write_provenance(relative, root / "gptq");
    QCOMPARE(checkpoint::read_provenance(root / "gptq").source_model, fs::current_path() / "models" / "fp.gguf");
  }

  // Smoothing scales a packed export folds away are kept beside its
  // provenance; a record pointing elsewhere, a missing file or a bad scale is
  // refused naming the file and tensor.
  void provenanceKeepsFoldedScales() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const std::string name = "model.layers.1.self_attn.o_proj";
    checkpoint::Provenance p;
    p.input_scales[name] = torch::rand({8}) + 0.5;
    checkpoint::write_provenance(p, dir);
    const auto back = checkpoint::read_provenance(dir);
    QCOMPARE(back.input_scales.size(), size_t{1});
    QVERIFY(torch::equal(back.input_scales.at(name), p.input_scales.at(name)));

    const fs::path file = dir / checkpoint::kProvenanceFile, tensors = dir / checkpoint::kProvenanceTensorsFile;
    auto doc = test::read_json(file);
    auto refused = [&](const std::string& key, const torch::Tensor& scale) {
      io::write_safetensors(tensors, {{key, scale}});
      return test::error_of<Error>([&] { checkpoint::read_provenance(dir); });
    };
    auto e = refused(name + ".input_scale", torch::tensor({1.0f, -1.0f}));
    QVERIFY2(e.contains(checkpoint::kProvenanceTensorsFile) && e.contains(QString::fromStdString(name)) &&
                 e.contains("positive"),
             qPrintable(e));
    e = refused(name + ".input_scale", torch::ones({2, 2}));
    QVERIFY2(e.contains(QString::fromStdString(name)) && e.contains("vector"), qPrintable(e));
    e = refused(name, torch::ones({2}));
    QVERIFY2(e.contains(checkpoint::kProvenanceTensorsFile) && e.contains("input_scale"), qPrintable(e));
    fs::remove(tensors);
    e = test::error_of<IoError>([&] { checkpoint::read_provenance(dir); });
    QVERIFY2(e.contains(checkpoint::kProvenanceTensorsFile) && e.contains("not there"), qPrintable(e));
    for (const char* hostile : {"../elsewhere.safetensors", "/etc/passwd", ".."}) {
      doc["input_scales"] = hostile;
      std::ofstream(file, std::ios::trunc) << doc.dump();
      e = test::error_of<FormatError>([&] { checkpoint::read_provenance(dir); });
      QVERIFY2(e.contains(checkpoint::kProvenanceFile) && e.contains("input_scales"), qPrintable(e));
    }
    // Written again without scales, the old scales file goes.
    io::write_safetensors(tensors, {{name + ".input_scale", torch::ones({8})}});
    checkpoint::write_provenance({}, dir);
    QVERIFY(!fs::exists(tensors));
    QVERIFY(checkpoint::read_provenance(dir).input_scales.empty());
  }

  // The FP model of a checkpoint: the one named, else the recorded one; what
  // is missing is named, with how to name another.
  void fpModelOfNamesWhatIsMissing() {
    QTemporaryDir tmp;
    const fs::path here = tmp.path().toStdString();
    const fs::path gone = here / "gone.gguf";
    checkpoint::Provenance recorded;
    QCOMPARE(checkpoint::fp_model_of("ckpt", recorded, here, "hint"), here);
    auto e = test::error_of<IoError>([&] { checkpoint::fp_model_of("ckpt", recorded, {}, "name it with --fp MODEL"); });
    QVERIFY2(e.contains("ckpt") && e.contains("does not record") && e.contains("--fp MODEL"), qPrintable(e));
    recorded.source_model = gone;
    e = test::error_of<IoError>([&] { checkpoint::fp_model_of("ckpt", recorded, {}, "name it with --fp MODEL"); });
    QVERIFY2(e.contains(QString::fromStdString(gone.string())) && e.contains("not there"), qPrintable(e));
    QCOMPARE(checkpoint::fp_model_of("ckpt", recorded, here, "hint"), here);
    e = test::error_of<IoError>([&] { checkpoint::fp_model_of("ckpt", {}, gone, "hint"); });
    QVERIFY2(e.contains(QString::fromStdString(gone.string())) && e.contains("not there"), qPrintable(e));

    // The recorded model was replaced after quantizing: its fingerprint says so.
    const fs::path model = here / "fp.safetensors";
    std::ofstream(model, std::ios::binary) << "the weights quantized from";
    recorded.source_model = model;
    checkpoint::write_provenance(recorded, here);
    recorded = checkpoint::read_provenance(here);
    QCOMPARE(recorded.source_fingerprint, io::file_fingerprint(model));
    QCOMPARE(checkpoint::fp_model_of("ckpt", recorded, {}, "hint"), model);
    QVERIFY(checkpoint::recorded_fp_model_problem("ckpt", recorded).empty());
    std::ofstream(model, std::ios::binary | std::ios::trunc) << "other weights since";
    e = test::error_of<IoError>([&] { checkpoint::fp_model_of("ckpt", recorded, {}, "name it with --fp MODEL"); });
    QVERIFY2(e.contains("changed since") && e.contains(QString::fromStdString(recorded.source_fingerprint)) &&
                 e.contains("--fp MODEL"),
             qPrintable(e));
    QCOMPARE(checkpoint::fp_model_of("ckpt", recorded, model, "hint"), model);  // named, it is the user's call
    // Written again (an export of the checkpoint), the fingerprint of the model quantized from stays.
    checkpoint::write_provenance(recorded, here);
    QCOMPARE(checkpoint::read_provenance(here).source_fingerprint, recorded.source_fingerprint);
  }

  // A quantization_config field of the wrong type is a FormatError naming it,
  // in every packed format's reader (it was nlohmann's type_error, uncaught).
  void wrongTypedFieldsNameTheField_data() {
    QTest::addColumn<QString>("format");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("value");
    QTest::newRow("gptq sym") << "gptq" << "sym" << R"("yes")";
    QTest::newRow("gptq checkpoint_format") << "gptq" << "checkpoint_format" << "5";
    QTest::newRow("awq version") << "awq" << "version" << "3";
    QTest::newRow("awq bits") << "awq" << "bits" << R"("4")";
    QTest::newRow("ct format") << "compressed-tensors" << "format" << "7";
    QTest::newRow("ct weights strategy") << "compressed-tensors" << "config_groups.group_0.weights.strategy" << "[1]";
    QTest::newRow("ct weights symmetric") << "compressed-tensors" << "config_groups.group_0.weights.symmetric" << "0";
  }
  void wrongTypedFieldsNameTheField() {
    QFETCH(QString, format);
    QFETCH(QString, key);
    QFETCH(QString, value);
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "x";
    auto q = quantize(uniform(format == "awq" ? "awq" : "rtn", 4));
    checkpoint::ExportOptions o;
    o.format = checkpoint::parse_format(format.toStdString());
    checkpoint::export_checkpoint(*q.dec, o, dir);
    auto cfg = test::read_json(dir / "config.json");
    auto* node = &cfg["quantization_config"];
    const auto parts = key.split('.');
    for (int i = 0; i + 1 < parts.size(); ++i) {
      QVERIFY2(node->contains(parts[i].toStdString()), qPrintable(parts[i]));
      node = &(*node)[parts[i].toStdString()];
    }
    (*node)[parts.last().toStdString()] = nlohmann::json::parse(value.toStdString());
    std::ofstream(dir / "config.json", std::ios::trunc) << cfg.dump();
    const auto e = test::error_of<Error>([&] { checkpoint::load_model(dir); });
    QVERIFY2(e.contains(dir.string().c_str()) && e.contains(("quantization_config." + key).toStdString().c_str()),
             qPrintable(e));
  }

  void badCheckpointsNameTheFileAndField() {
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "x";
    auto q = quantize(uniform("rtn", 4));
    checkpoint::ExportOptions o;
    o.format = Format::Gptq;
    checkpoint::export_checkpoint(*q.dec, o, dir);

    auto cfg = test::read_json(dir / "config.json");
    cfg["quantization_config"]["quant_method"] = "bitsandbytes";
    std::ofstream(dir / "config.json", std::ios::trunc) << cfg.dump();
    auto e = test::error_of<Error>([&] { checkpoint::load_model(dir); });
    QVERIFY2(e.contains("config.json") && e.contains("quant_method") && e.contains("bitsandbytes"), qPrintable(e));

    cfg["quantization_config"]["quant_method"] = "gptq";
    cfg["quantization_config"]["bits"] = 5;
    std::ofstream(dir / "config.json", std::ios::trunc) << cfg.dump();
    e = test::error_of<Error>([&] { checkpoint::load_model(dir); });
    QVERIFY2(e.contains("quantization_config.bits"), qPrintable(e));

    // A qweight whose shape disagrees with its scales.
    cfg["quantization_config"]["bits"] = 4;
    std::ofstream(dir / "config.json", std::ios::trunc) << cfg.dump();
    io::SafetensorsFile st(dir / "model.safetensors");
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& entry : st.entries()) {
      auto t = st.load(entry.name);
      if (entry.name == "model.layers.0.self_attn.q_proj.qweight") t = t.narrow(0, 0, 4).contiguous();
      tensors.emplace_back(entry.name, t);
    }
    io::write_safetensors(dir / "bad.safetensors", tensors, {});
    fs::rename(dir / "bad.safetensors", dir / "model.safetensors");
    e = test::error_of<Error>([&] { checkpoint::load_model(dir); });
    QVERIFY2(e.contains("q_proj"), qPrintable(e));
  }
};

QS_REGISTER_TEST(TestExport);
#include "test_export.moc"

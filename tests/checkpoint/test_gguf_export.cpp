#include <QTemporaryDir>
#include <QTest>

#include "core/checkpoint/gguf_export.h"
#include "core/checkpoint/gguf_model.h"
#include "core/checkpoint/packed_export.h"
#include "core/checkpoint/provenance.h"
#include "core/checkpoint/tokenizer_files.h"
#include "core/error.h"
#include "core/io/gguf_file.h"
#include "core/io/gguf_writer.h"
#include "core/io/small_files.h"
#include "core/io/small_files.h"
#include "core/model/decoder.h"
#include "core/model/quantized_linear_op.h"
#include "core/pipeline/pipeline.h"
#include "core/quant/quantized_linear.h"
#include "core/text/tokenizer.h"
#include "tests/checkpoint/export_fixtures.h"
#include "tests/checkpoint/tokenizer_gguf.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<model::Decoder> quantized(const model::ModelWeights& fp, pipeline::QuantPlan plan) {
  auto dec = std::make_unique<model::Decoder>(fp, torch::kCPU, torch::kFloat32);
  test::RecordingFeedback fb;
  pipeline::run_pipeline(*dec, test::random_calibration(101, 4, 16, 2), plan, {}, fb);
  return dec;
}

pipeline::QuantPlan plan_of(int bits, bool sym, int64_t group = 32) {
  return pipeline::QuantPlan(pipeline::QuantPlan::make_choice("rtn", {bits, group, sym, 1.0}, "test"));
}

// What ggml computes from the blocks: the record's formula with its block
// parameters rounded to f16, computed here from the record alone.
torch::Tensor expected_weight(const quant::QuantizedLinear& q, const std::string& type) {
  auto half = [](const torch::Tensor& t) { return t.to(torch::kFloat16).to(torch::kFloat32); };
  auto s = q.scales.repeat_interleave(q.spec.group_size, 1).narrow(1, 0, q.in_features);
  auto z = q.zeros.to(torch::kFloat32).repeat_interleave(q.spec.group_size, 1).narrow(1, 0, q.in_features);
  const auto c = q.codes.to(torch::kFloat32);
  if (type == "Q4_1") return c * half(s) + half(-s * z);
  return (c - z) * half(s);
}

}  // namespace

class TestGgufExport : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void blocksReadBackAsTheRecordsCompute_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<bool>("sym");
    QTest::addColumn<QString>("type");
    QTest::newRow("W4 sym g32 -> Q4_0") << 4 << true << "Q4_0";
    QTest::newRow("W4 asym g32 -> Q4_1") << 4 << false << "Q4_1";
    QTest::newRow("W8 sym g32 -> Q8_0") << 8 << true << "Q8_0";
  }
  void blocksReadBackAsTheRecordsCompute() {
    QFETCH(int, bits);
    QFETCH(bool, sym);
    QFETCH(QString, type);
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 3);
    auto dec = quantized(fp, plan_of(bits, sym));
    const auto report = checkpoint::export_gguf(*dec, test::write_tokenizer_gguf(dir, 101), "tiny", dir / "tiny.gguf");
    QCOMPARE(report.quantized_linears, int64_t(14));
    QCOMPARE(report.tensor_types.at(type.toStdString()), 14);

    io::GgufFile f(dir / "tiny.gguf");
    QCOMPARE(io::ggml_type_name(f.find_tensor("blk.1.attn_q.weight")->type), type.toStdString());
    QCOMPARE(f.get_string("tokenizer.ggml.model"), std::string("gpt2"));
    const auto back = checkpoint::load_gguf_model(dir / "tiny.gguf");
    QCOMPARE(back.config.hidden_size, fp.config.hidden_size);
    QCOMPARE(back.config.num_kv_heads, fp.config.num_kv_heads);
    QCOMPARE(back.config.rope_theta, fp.config.rope_theta);
    for (int64_t l = 0; l < 2; ++l)
      for (auto r : model::kLinearRoles) {
        const auto name = model::linear_name(l, r);
        const auto* op = dynamic_cast<const model::QuantizedLinearOp*>(dec->linear(l, r).get());
        const auto want = expected_weight(*op->record(), type.toStdString());
        const auto got = back.at(name + ".weight");
        QVERIFY2(torch::allclose(got, want, 1e-6, 1e-7), name.c_str());
      }
    QVERIFY(
        torch::equal(back.at("model.layers.0.input_layernorm.weight"), dec->norm_weight(0, model::NormRole::Input)));
  }

  // AffineQuant's shifts leave biases on q/k/v/o/gate/up; llama.cpp takes
  // each as an optional tensor, and the GGUF reads back as the same model
  // (down_proj's written as zeros, so the groups read back whole).
  void shiftBiasesTravelAsF32() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 3);
    auto choice = pipeline::QuantPlan::make_choice("affinequant", {4, 32, false, 1.0}, "test");
    choice.params.set("epochs", int64_t{2}, "test");
    choice.params.set("ln_matrix", false, "test");
    auto dec = quantized(fp, pipeline::QuantPlan(choice));
    checkpoint::export_gguf(*dec, test::write_tokenizer_gguf(dir, 101), "tiny", dir / "tiny.gguf");
    io::GgufFile f(dir / "tiny.gguf");
    for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
      QCOMPARE(io::ggml_type_name(f.find_tensor("blk.1." + std::string(t) + ".bias")->type), std::string("F32"));
    model::Decoder back(checkpoint::load_gguf_model(dir / "tiny.gguf"), torch::kCPU, torch::kFloat32);
    QVERIFY(back.config().attention_bias && back.config().output_bias && back.config().mlp_bias);
    const auto ids = test::random_calibration(101, 1, 12, 9).ids;
    const auto expected = dec->forward(ids);
    const double diff = ((back.forward(ids) - expected).abs().max() / expected.abs().max()).item<double>();
    QVERIFY2(diff < 5e-3, std::to_string(diff).c_str());
  }

  void layersKeptInFpTravelAsF16() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 4);
    auto plan = plan_of(4, false);
    plan.add_rule({"model.layers.1.mlp.*", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
    auto dec = quantized(fp, plan);
    const auto report = checkpoint::export_gguf(*dec, test::write_tokenizer_gguf(dir, 101), "tiny", dir / "tiny.gguf");
    QCOMPARE(report.kept_fp.size(), size_t(3));
    const auto back = checkpoint::load_gguf_model(dir / "tiny.gguf");
    const auto want = dec->linear(1, model::LinearRole::Down)->dense_weight().to(torch::kFloat16).to(torch::kFloat32);
    QVERIFY(torch::equal(back.at("model.layers.1.mlp.down_proj.weight"), want));
  }

  void refusesWhatGgmlBlocksCannotHold() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto tok = test::write_tokenizer_gguf(dir, 101);
    const auto fp = test::make_tiny_llama(test::tiny_config(), 5);
    auto w3 = quantized(fp, plan_of(3, false));
    try {
      checkpoint::export_gguf(*w3, tok, "tiny", dir / "w3.gguf");
      QFAIL("a 3-bit model was exported to GGUF");
    } catch (const ArgumentError& e) {
      QVERIFY2(std::string(e.what()).find("model.layers.0.self_attn.q_proj") != std::string::npos, e.what());
    }
    QVERIFY2(!fs::exists(dir / "w3.gguf"), "a refused export writes nothing");
    auto g48 = quantized(fp, plan_of(4, true, 48));
    QVERIFY_THROWS_EXCEPTION(ArgumentError, checkpoint::export_gguf(*g48, tok, "tiny", dir / "g48.gguf"));
    // Without a GGUF tokenizer there is nothing for llama.cpp to tokenize with.
    auto w4 = quantized(fp, plan_of(4, true));
    fs::create_directories(dir / "hf");
    QVERIFY_THROWS_EXCEPTION(IoError, checkpoint::export_gguf(*w4, dir / "hf", "tiny", dir / "x.gguf"));
  }

  // The tokenizer an export of a GGUF model carries is a GGUF other readers
  // open: transformers (gguf_file=) and gguf-py read general.architecture first.
  void tokenizerCopiedFromAModelGgufNamesTheArchitecture() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    auto dec = quantized(test::make_tiny_llama(test::tiny_config(), 5), plan_of(4, true));
    checkpoint::export_gguf(*dec, test::write_tokenizer_gguf(dir, 101), "tiny", dir / "tiny.gguf");
    fs::create_directories(dir / "copy");
    checkpoint::copy_tokenizer_files(dir / "tiny.gguf", dir / "copy");
    io::GgufFile copy(dir / "copy" / "tokenizer.gguf");
    QCOMPARE(copy.get_string("general.architecture"), std::string("llama"));
    QCOMPARE(copy.get_string_array("tokenizer.ggml.tokens").size(), size_t(101));
    QCOMPARE(copy.tensors().size(), size_t(0));
    for (const auto& k : copy.keys()) QVERIFY2(k == "general.architecture" || k.rfind("tokenizer.", 0) == 0, k.c_str());
    // and the same vocabulary as tokenizer.json, which transformers and vLLM read.
    QVERIFY(fs::exists(dir / "copy" / "tokenizer_config.json"));
    const auto tok = text::load_tokenizer_json(dir / "copy" / "tokenizer.json");
    QCOMPARE(tok->vocab_size(), int64_t{101});
    QCOMPARE(tok->bos_id(), 1);
  }

  // A model directory whose tokenizer is a whole model's GGUF (the synthetic
  // scale checkpoints take the demo model's, 98 MB) passes on its tokenizer
  // metadata, not the file's bytes, which are past the small-file limit.
  void largeTokenizerGgufInADirectoryIsCopiedAsTokenizerOnly() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    io::GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b", "ab"});
    w.add_string_array("tokenizer.ggml.merges", {"a b"});
    w.add_tensor("token_embd.weight", io::GgmlType::F32, {4096, 4352}, std::vector<uint8_t>(4096 * 4352 * 4));
    fs::create_directories(dir / "model");
    w.write(dir / "model" / "tokenizer.gguf");
    QVERIFY(fs::file_size(dir / "model" / "tokenizer.gguf") > io::kSmallFileLimit);
    fs::create_directories(dir / "copy");
    checkpoint::copy_tokenizer_files(dir / "model", dir / "copy");
    io::GgufFile copy(dir / "copy" / "tokenizer.gguf");
    QCOMPARE(copy.tensors().size(), size_t(0));
    QCOMPARE(copy.get_string_array("tokenizer.ggml.tokens").size(), size_t(3));
  }

  // A vocabulary QuantScope cannot tokenize with still travels as tokenizer.gguf.
  void unsupportedGgufTokenizerIsCopiedWithoutTokenizerJson() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    io::GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "chameleon");
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b", "ab"});
    w.add_string_array("tokenizer.ggml.merges", {"a b"});
    w.write(dir / "odd.gguf");
    fs::create_directories(dir / "copy");
    checkpoint::copy_tokenizer_files(dir / "odd.gguf", dir / "copy");
    QVERIFY(fs::exists(dir / "copy" / "tokenizer.gguf"));
    QVERIFY(!fs::exists(dir / "copy" / "tokenizer.json"));
  }

  // And the provenance beside it, which QuantScope reads through model.gguf.
  void exportCommandWritesModelGgufAndCard() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 6);
    auto dec = quantized(fp, plan_of(4, true));
    checkpoint::ExportOptions o;
    o.format = checkpoint::parse_format("gguf");
    o.tokenizer_source = test::write_tokenizer_gguf(dir, 101);
    o.provenance.source_model = dir / "fp.gguf";
    o.provenance.linears["model.layers.1.self_attn.o_proj"] = {"awq", {}, 0.0, 1e-3, 2.0};
    const auto report = checkpoint::export_checkpoint(*dec, o, dir / "out");
    QVERIFY(fs::exists(dir / "out" / "model.gguf"));
    QVERIFY(fs::exists(dir / "out" / "README.md"));
    QCOMPARE(report.bytes, static_cast<uint64_t>(fs::file_size(dir / "out" / "model.gguf")));
    const auto provenance = checkpoint::read_provenance(dir / "out" / "model.gguf");
    QCOMPARE(provenance.source_model, dir / "fp.gguf");
    QCOMPARE(provenance.linears.at("model.layers.1.self_attn.o_proj").method, std::string("awq"));
    // It describes model.gguf as exported: not another GGUF put beside it, nor model.gguf replaced.
    fs::copy_file(o.tokenizer_source, dir / "out" / "other.gguf");
    QVERIFY(checkpoint::read_provenance(dir / "out" / "other.gguf").source_model.empty());
    fs::copy_file(o.tokenizer_source, dir / "out" / "model.gguf", fs::copy_options::overwrite_existing);
    QVERIFY(checkpoint::read_provenance(dir / "out" / "model.gguf").source_model.empty());
    QCOMPARE(checkpoint::read_provenance(dir / "out").source_model, dir / "fp.gguf");  // the directory's record stays
    const fs::path file = dir / "out" / checkpoint::kProvenanceFile;
    auto doc = test::read_json(file);
    doc["checkpoint"] = 3;
    std::ofstream(file, std::ios::trunc) << doc.dump();
    const auto e = test::error_of<FormatError>([&] { checkpoint::read_provenance(dir / "out"); });
    QVERIFY2(e.contains(checkpoint::kProvenanceFile) && e.contains("checkpoint"), qPrintable(e));
  }
};

QS_REGISTER_TEST(TestGgufExport);
#include "test_gguf_export.moc"

#include <QTemporaryDir>
#include <QTest>
#include <fstream>

#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/error.h"
#include "core/io/mapped_tensor.h"
#include "core/io/safetensors.h"
#include "core/model/decoder.h"
#include "core/model/quantized_linear_op.h"
#include "core/pipeline/pipeline.h"
#include "core/quant/quantized_linear.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

// A tiny model quantized with every optional record field in play: GPTQ
// act-order (g_idx), AWQ (input scales, changed norms), one FP linear, and
// q/k/v biases (Qwen2 layout).
std::unique_ptr<model::Decoder> make_checkpoint(const fs::path& dir, model::ModelWeights& fp) {
  auto c = test::tiny_config();
  c.architecture = "qwen2";
  c.attention_bias = true;
  fp = test::make_tiny_llama(c, 17);
  auto dec = std::make_unique<model::Decoder>(fp, torch::kCPU, torch::kFloat32);
  pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("awq", {4, 32, false, 1.0}, "test"));
  plan.add_rule({"model.layers.1.*", std::string("gptq"), 3, {}, {}, {}, {{"act_order", true}}, {}, {}});
  plan.add_rule({"model.layers.1.mlp.up_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
  test::RecordingFeedback fb;
  const auto r = pipeline::run_pipeline(*dec, test::random_calibration(101, 4, 16, 3), plan, {}, fb);
  checkpoint::Provenance info;
  for (const auto& l : r.layers)
    if (l.record)
      info.linears[l.name] = {l.choice.method, l.choice.params.values(), l.weight_mse, l.output_rel_mse, l.seconds};
  info.run_json = R"({"note": "test"})";
  checkpoint::save_quantscope_checkpoint(*dec, info, dir);
  return dec;
}

// Gives block 0's q/k/v one input transform (one tensor) and gate/up another
// (equal copies, as records read back from a file hold), and block 1's q_proj
// a transform of its own, then saves the decoder to `dir`.
void save_with_transforms(model::Decoder& dec, const fs::path& dir) {
  using model::LinearRole;
  torch::manual_seed(4);
  const int64_t h = dec.config().hidden_size;
  const auto attn = torch::eye(h) + 0.05 * torch::randn({h, h});
  const auto mlp = torch::eye(h) + 0.05 * torch::randn({h, h});
  auto set = [&](int64_t layer, LinearRole role, const torch::Tensor& t) {
    const auto* op = dynamic_cast<const model::QuantizedLinearOp*>(dec.linear(layer, role).get());
    QVERIFY(op);
    auto q = *op->record();
    q.transform = t;
    dec.set_linear(layer, role,
                   std::make_shared<model::QuantizedLinearOp>(std::make_shared<const quant::QuantizedLinear>(q),
                                                              torch::kCPU, torch::kFloat32));
  };
  for (auto role : {LinearRole::Q, LinearRole::K, LinearRole::V}) set(0, role, attn);
  set(0, LinearRole::Gate, mlp);
  set(0, LinearRole::Up, mlp.clone());
  set(1, LinearRole::Q, torch::eye(h) + 0.05 * torch::randn({h, h}));
  checkpoint::save_quantscope_checkpoint(dec, {}, dir);
}

// make_checkpoint's model with save_with_transforms' transforms, saved.
struct TransformCheckpoint {
  QTemporaryDir tmp;
  model::ModelWeights fp;
  fs::path dir = fs::path(tmp.path().toStdString()) / "q";
  std::unique_ptr<model::Decoder> dec = make_checkpoint(dir, fp);
  TransformCheckpoint() { save_with_transforms(*dec, dir); }
};

void rewrite(const fs::path& p, const std::string& from, const std::string& to) {
  std::ifstream in(p);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = s.find(from);
  QVERIFY2(at != std::string::npos, from.c_str());
  s.replace(at, from.size(), to);
  std::ofstream(p, std::ios::trunc) << s;
}

}  // namespace

class TestQuantscopeCheckpoint : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void reloadReproducesLogitsExactly() {
    QTemporaryDir tmp;
    model::ModelWeights fp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "q";
    const auto dec = make_checkpoint(dir, fp);
    const auto loaded = checkpoint::load_model(dir);
    QCOMPARE(loaded.source_format, std::string("quantscope"));
    QCOMPARE(loaded.quantized.size(), size_t{13});
    QVERIFY(loaded.has("model.layers.1.mlp.up_proj.weight"));
    QCOMPARE(checkpoint::parameter_count(loaded), checkpoint::parameter_count(fp));
    QVERIFY(loaded.quantized.at("model.layers.1.self_attn.q_proj")->g_idx.defined());
    QVERIFY(loaded.quantized.at("model.layers.0.self_attn.q_proj")->input_scale.defined());
    QVERIFY(loaded.quantized.at("model.layers.0.self_attn.k_proj")->bias.defined());
    // Opening converts nothing: codes stay packed bytes of the file, FP tensors
    // views of it in their stored dtype.
    for (const auto& [name, q] : loaded.quantized)
      QVERIFY2(!q->codes.defined() && io::is_mapped(q->packed_codes), name.c_str());
    QVERIFY(io::is_mapped(loaded.at("model.embed_tokens.weight")));
    model::Decoder again(loaded, torch::kCPU, torch::kFloat32);
    auto ids = torch::randint(0, 101, {2, 10}, torch::kLong);
    QVERIFY(torch::equal(again.forward(ids), dec->forward(ids)));
  }

  // Past the shard size the checkpoint is numbered shards with an index, as
  // transformers writes them, and opens to the same logits as one file; a
  // later save in one file removes the shards and the index.
  void largeCheckpointsAreSharded() {
    QTemporaryDir tmp;
    model::ModelWeights fp;
    const fs::path single = fs::path(tmp.path().toStdString()) / "q", sharded = single.parent_path() / "s";
    const auto dec = make_checkpoint(single, fp);
    checkpoint::save_quantscope_checkpoint(*dec, {}, sharded, 16'000);
    QVERIFY(!fs::exists(sharded / "model.safetensors"));
    QVERIFY(fs::exists(sharded / "model.safetensors.index.json"));
    int shards = 0;
    for (const auto& e : fs::directory_iterator(sharded))
      if (e.path().extension() == ".safetensors") {
        ++shards;
        QVERIFY2(e.path().filename().string().rfind("model-", 0) == 0, e.path().c_str());
      }
    QVERIFY2(shards > 2, std::to_string(shards).c_str());
    const auto loaded = checkpoint::load_model(sharded);
    QCOMPARE(loaded.source_format, std::string("quantscope"));
    QCOMPARE(loaded.quantized.size(), size_t{13});
    for (const auto& [name, q] : loaded.quantized)
      QVERIFY2(!q->codes.defined() && io::is_mapped(q->packed_codes), name.c_str());
    model::Decoder again(loaded, torch::kCPU, torch::kFloat32);
    auto ids = torch::randint(0, 101, {2, 10}, torch::kLong);
    QVERIFY(torch::equal(again.forward(ids), dec->forward(ids)));

    checkpoint::save_quantscope_checkpoint(*dec, {}, sharded);
    QVERIFY(fs::exists(sharded / "model.safetensors"));
    QVERIFY(!fs::exists(sharded / "model.safetensors.index.json"));
    for (const auto& e : fs::directory_iterator(sharded))
      QVERIFY2(e.path().filename().string().rfind("model-", 0) != 0, e.path().c_str());
  }

  // What quantscope.json records beside the tensors reads back as it was
  // saved: each linear's method, parameters and metrics, and the run.
  void infoReadsBackWhatWasSaved() {
    QTemporaryDir tmp;
    model::ModelWeights fp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "q";
    make_checkpoint(dir, fp);
    const auto info = checkpoint::read_quantscope_provenance(dir);
    QCOMPARE(info.linears.size(), size_t{13});
    QVERIFY(!info.linears.count("model.layers.1.mlp.up_proj"));
    const auto& awq = info.linears.at("model.layers.0.mlp.down_proj");
    QCOMPARE(QString::fromStdString(awq.method), QString("awq"));
    QCOMPARE(std::get<int64_t>(awq.params.at("n_grid")), int64_t{20});
    QVERIFY(awq.weight_mse > 0 && awq.output_rel_mse > 0);
    const auto& gptq = info.linears.at("model.layers.1.self_attn.q_proj");
    QCOMPARE(QString::fromStdString(gptq.method), QString("gptq"));
    QCOMPARE(std::get<bool>(gptq.params.at("act_order")), true);
    QCOMPARE(std::get<double>(gptq.params.at("damp_percent")), 0.01);
    QCOMPARE(QString::fromStdString(info.run_json), QString(R"({"note":"test"})"));
    QVERIFY(info.source_model.empty());
    rewrite(dir / "quantscope.json", "\"n_grid\": 20", "\"n_grid\": [20]");
    try {
      checkpoint::read_quantscope_provenance(dir);
      QFAIL("no error");
    } catch (const FormatError& e) {
      QVERIFY2(QString(e.what()).contains("params.n_grid") && QString(e.what()).contains("quantscope.json"), e.what());
    }
  }

  // A transform several linears share is stored once, with the first of
  // them; the others name it, and read back as that one tensor.
  void sharedTransformsAreStoredOnce() {
    const TransformCheckpoint c;
    io::SafetensorsFile st(c.dir / "model.safetensors");
    int stored = 0;
    for (const auto& e : st.entries()) stored += e.name.ends_with(".transform");
    QCOMPARE(stored, 3);
    for (const char* holder :
         {"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.gate_proj", "model.layers.1.self_attn.q_proj"})
      QVERIFY2(st.find(std::string(holder) + ".transform"), holder);

    const auto loaded = checkpoint::load_model(c.dir);
    const auto transform = [&](const char* name) { return loaded.quantized.at(name)->transform; };
    const auto q0 = transform("model.layers.0.self_attn.q_proj");
    QVERIFY(transform("model.layers.0.self_attn.k_proj").is_same(q0));
    QVERIFY(transform("model.layers.0.self_attn.v_proj").is_same(q0));
    QVERIFY(transform("model.layers.0.mlp.up_proj").is_same(transform("model.layers.0.mlp.gate_proj")));
    QVERIFY(!transform("model.layers.0.self_attn.o_proj").defined());
    QVERIFY(!transform("model.layers.1.self_attn.k_proj").defined());
    QVERIFY(torch::equal(transform("model.layers.0.mlp.up_proj"),
                         c.dec->linear(0, model::LinearRole::Up)->input_transform()));
    model::Decoder again(loaded, torch::kCPU, torch::kFloat32);
    auto ids = torch::randint(0, 101, {2, 10}, torch::kLong);
    QVERIFY(torch::equal(again.forward(ids), c.dec->forward(ids)));
  }

  void badTransformReferencesNameTheField_data() {
    QTest::addColumn<QString>("to");
    QTest::newRow("no transform there") << "\"transform_of\": \"model.layers.0.self_attn.o_proj\"";
    QTest::newRow("no such linear") << "\"transform_of\": \"model.layers.9.self_attn.q_proj\"";
    QTest::newRow("a reference") << "\"transform_of\": \"model.layers.0.self_attn.v_proj\"";
    QTest::newRow("not a name") << "\"transform_of\": 3";
  }
  void badTransformReferencesNameTheField() {
    QFETCH(QString, to);
    const TransformCheckpoint c;
    // The first reference in the file: k_proj's to q_proj.
    rewrite(c.dir / "quantscope.json", "\"transform_of\": \"model.layers.0.self_attn.q_proj\"", to.toStdString());
    try {
      checkpoint::load_model(c.dir);
      QFAIL("no error");
    } catch (const FormatError& e) {
      QVERIFY2(QString(e.what()).contains("model.layers.0.self_attn.k_proj.transform_of"), e.what());
    }
  }

  void damagedCheckpointsNameTheProblem_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("from");
    QTest::addColumn<QString>("to");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("bits") << "quantscope.json"
                          << "\"bits\": 4"
                          << "\"bits\": 9"
                          << "bits";
    QTest::newRow("symmetric of the wrong type") << "quantscope.json"
                                                 << "\"symmetric\": false"
                                                 << "\"symmetric\": \"no\""
                                                 << "symmetric";
    QTest::newRow("in_features") << "quantscope.json"
                                 << "\"in_features\": 64"
                                 << "\"in_features\": 65"
                                 << "qweight";
    QTest::newRow("version") << "quantscope.json"
                             << "\"format_version\": 2"
                             << "\"format_version\": 7"
                             << "format_version";
    QTest::newRow("format") << "quantscope.json"
                            << "\"quantscope\""
                            << "\"other\""
                            << "format";
    QTest::newRow("not json") << "quantscope.json"
                              << "{"
                              << "["
                              << "quantscope.json";
  }
  void damagedCheckpointsNameTheProblem() {
    QFETCH(QString, file);
    QFETCH(QString, from);
    QFETCH(QString, to);
    QFETCH(QString, mentions);
    QTemporaryDir tmp;
    model::ModelWeights fp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "q";
    make_checkpoint(dir, fp);
    rewrite(dir / file.toStdString(), from.toStdString(), to.toStdString());
    try {
      checkpoint::load_model(dir);
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains(mentions), e.what());
    }
  }

  void truncatedTensorsAreAnError() {
    QTemporaryDir tmp;
    model::ModelWeights fp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "q";
    make_checkpoint(dir, fp);
    fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") / 2);
    QVERIFY_THROWS_EXCEPTION(FormatError, checkpoint::load_model(dir));
  }
};

QS_REGISTER_TEST(TestQuantscopeCheckpoint);
#include "test_quantscope_checkpoint.moc"

#include <QTemporaryDir>
#include <QTest>
#include <cstring>
#include <map>

#include "core/checkpoint/gguf_model.h"
#include "core/error.h"
#include "core/io/gguf_file.h"
#include "core/io/gguf_writer.h"
#include "tests/support/error_of.h"
#include "tests/support/paths.h"
#include "tests/support/test_registry.h"

using namespace qs;
using io::GgmlType;

namespace {

constexpr int64_t kLayers = 2, kHidden = 64, kHeads = 4, kKvHeads = 2, kHeadDim = 16;
constexpr int64_t kFfn = 96, kVocab = 97;
// Grid step of the quantized fixture tensors: 2^-5, 0x2800 as an IEEE half.
constexpr float kStep = 0.03125f;
constexpr uint16_t kStepHalf = 0x2800;

struct Options {
  std::string arch = "llama";
  bool tied = true;
  std::string drop;          // a GGUF tensor name to leave out
  uint32_t block_count = 0;  // 0: the layers written
};

// Random HF-layout weights. The embedding lies on the Q8_0 grid and q_proj
// on the Q4_0 grid (multiples of kStep), so their quantized encodings below
// are exact and loading must give the originals back bit for bit.
std::map<std::string, torch::Tensor> make_hf(const Options& o) {
  torch::manual_seed(7);
  std::map<std::string, torch::Tensor> w;
  const int64_t q = kHeads * kHeadDim, kv = kKvHeads * kHeadDim;
  w["model.embed_tokens.weight"] = torch::randint(-127, 128, {kVocab, kHidden}).to(torch::kFloat) * kStep;
  w["model.norm.weight"] = 1 + 0.1 * torch::randn({kHidden});
  if (!o.tied) w["lm_head.weight"] = torch::randn({kVocab, kHidden});
  for (int64_t i = 0; i < kLayers; ++i) {
    const std::string m = "model.layers." + std::to_string(i) + ".";
    w[m + "input_layernorm.weight"] = 1 + 0.1 * torch::randn({kHidden});
    w[m + "post_attention_layernorm.weight"] = 1 + 0.1 * torch::randn({kHidden});
    w[m + "self_attn.q_proj.weight"] = (torch::randint(0, 16, {q, kHidden}).to(torch::kFloat) - 8) * kStep;
    w[m + "self_attn.k_proj.weight"] = torch::randn({kv, kHidden});
    w[m + "self_attn.v_proj.weight"] = torch::randn({kv, kHidden}).to(torch::kHalf).to(torch::kFloat);
    w[m + "self_attn.o_proj.weight"] = torch::randn({kHidden, q});
    w[m + "mlp.gate_proj.weight"] = torch::randn({kFfn, kHidden});
    w[m + "mlp.up_proj.weight"] = torch::randn({kFfn, kHidden}).to(torch::kBFloat16).to(torch::kFloat);
    w[m + "mlp.down_proj.weight"] = torch::randn({kHidden, kFfn});
    if (o.arch == "qwen2") {
      w[m + "self_attn.q_proj.bias"] = torch::randn({q});
      w[m + "self_attn.k_proj.bias"] = torch::randn({kv});
      w[m + "self_attn.v_proj.bias"] = torch::randn({kv});
    }
  }
  return w;
}

// llama.cpp's name for an HF tensor, written out independently of the loader.
std::string gguf_name(const std::string& hf) {
  static const std::vector<std::pair<std::string, std::string>> parts = {
      {"self_attn.q_proj", "attn_q"},      {"self_attn.k_proj", "attn_k"},   {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"mlp.gate_proj", "ffn_gate"},    {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},       {"input_layernorm", "attn_norm"}, {"post_attention_layernorm", "ffn_norm"}};
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  std::string s = hf.substr(std::strlen("model.layers."));
  const size_t dot = s.find('.');
  const std::string layer = s.substr(0, dot), rest = s.substr(dot + 1);
  for (const auto& [from, to] : parts)
    if (rest.rfind(from, 0) == 0) return "blk." + layer + "." + to + rest.substr(from.size());
  qFatal("no GGUF name for %s", hf.c_str());
}

// convert_hf_to_gguf's LlamaModel.permute, as written there:
// w.reshape(n_head, 2, dim / n_head / 2, *rest).swapaxes(1, 2).reshape(shape).
torch::Tensor permute(const torch::Tensor& w, int64_t n_head) {
  std::vector<int64_t> s{n_head, 2, w.size(0) / n_head / 2};
  for (int64_t d = 1; d < w.dim(); ++d) s.push_back(w.size(d));
  return w.reshape(s).transpose(1, 2).reshape(w.sizes()).contiguous();
}

template <class T>
std::vector<uint8_t> raw(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  std::vector<uint8_t> b(static_cast<size_t>(c.numel()) * sizeof(T));
  std::memcpy(b.data(), c.data_ptr(), b.size());
  return b;
}

// Q8_0 / Q4_0 blocks of a tensor that lies on the kStep grid.
std::vector<uint8_t> encode_grid(const torch::Tensor& t, bool q4) {
  const torch::Tensor codes = (t / kStep).round().to(torch::kInt).contiguous();
  const int* c = codes.data_ptr<int>();
  std::vector<uint8_t> b;
  for (int64_t i = 0; i < codes.numel(); i += 32) {
    b.push_back(kStepHalf & 0xff);
    b.push_back(kStepHalf >> 8);
    for (int j = 0; j < (q4 ? 16 : 32); ++j)
      b.push_back(q4 ? static_cast<uint8_t>((c[i + j] + 8) | ((c[i + j + 16] + 8) << 4))
                     : static_cast<uint8_t>(static_cast<int8_t>(c[i + j])));
  }
  return b;
}

std::vector<int64_t> ne_of(const torch::Tensor& t) {
  auto s = t.sizes().vec();
  return {s.rbegin(), s.rend()};
}

void write_tiny(const std::filesystem::path& path, const std::map<std::string, torch::Tensor>& hf, const Options& o) {
  const std::string a = o.arch;
  io::GgufWriter w;
  w.add_string("general.architecture", a);
  w.add_uint32(a + ".block_count", o.block_count ? o.block_count : static_cast<uint32_t>(kLayers));
  w.add_uint32(a + ".context_length", 256);
  w.add_uint32(a + ".embedding_length", kHidden);
  w.add_uint32(a + ".feed_forward_length", kFfn);
  w.add_uint32(a + ".attention.head_count", kHeads);
  w.add_uint32(a + ".attention.head_count_kv", kKvHeads);
  w.add_float32(a + ".rope.freq_base", 50000.0f);
  w.add_float32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.add_uint32(a + ".rope.dimension_count", kHeadDim);
  if (a == "qwen2") {
    w.add_uint32(a + ".vocab_size", kVocab);
  } else {
    std::vector<std::string> tokens;
    for (int64_t i = 0; i < kVocab; ++i) tokens.push_back("tok" + std::to_string(i));
    w.add_string_array("tokenizer.ggml.tokens", tokens);
  }
  w.add_uint32("tokenizer.ggml.bos_token_id", 1);
  w.add_uint32("tokenizer.ggml.eos_token_id", 2);
  const bool permuted = a != "qwen2";
  for (const auto& [name, t] : hf) {
    const std::string g = gguf_name(name);
    if (g == o.drop) continue;
    torch::Tensor v = t;
    if (permuted && name.find("q_proj") != std::string::npos) v = permute(v, kHeads);
    if (permuted && name.find("k_proj") != std::string::npos) v = permute(v, kKvHeads);
    if (name == "model.embed_tokens.weight")
      w.add_tensor(g, GgmlType::Q8_0, ne_of(v), encode_grid(v, false));
    else if (name.find("q_proj.weight") != std::string::npos)
      w.add_tensor(g, GgmlType::Q4_0, ne_of(v), encode_grid(v, true));
    else if (name.find("v_proj.weight") != std::string::npos)
      w.add_tensor(g, GgmlType::F16, ne_of(v), raw<c10::Half>(v.to(torch::kHalf)));
    else if (name.find("up_proj") != std::string::npos)
      w.add_tensor(g, GgmlType::BF16, ne_of(v), raw<c10::BFloat16>(v.to(torch::kBFloat16)));
    else
      w.add_tensor(g, GgmlType::F32, ne_of(v), raw<float>(v));
  }
  // llama.cpp stores Llama 3 rope factors as an extra tensor; it is not a weight.
  w.add_tensor("rope_freqs.weight", GgmlType::F32, {kHeadDim / 2}, raw<float>(torch::ones({kHeadDim / 2})));
  w.write(path);
}

}  // namespace

class TestGgufModel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void loadsTinyModel_data() {
    QTest::addColumn<QString>("arch");
    QTest::addColumn<bool>("tied");
    QTest::newRow("llama, tied") << "llama" << true;
    QTest::newRow("llama, untied") << "llama" << false;
    QTest::newRow("qwen2, untied") << "qwen2" << false;
  }
  void loadsTinyModel() {
    QFETCH(QString, arch);
    QFETCH(bool, tied);
    const Options o{arch.toStdString(), tied, {}};
    const auto hf = make_hf(o);
    const auto path = file("tiny.gguf");
    write_tiny(path, hf, o);

    const model::ModelWeights w = checkpoint::load_gguf_model(path);
    const model::ModelConfig& c = w.config;
    QCOMPARE(c.architecture, o.arch);
    QCOMPARE(c.num_layers, kLayers);
    QCOMPARE(c.hidden_size, kHidden);
    QCOMPARE(c.intermediate_size, kFfn);
    QCOMPARE(c.num_heads, kHeads);
    QCOMPARE(c.num_kv_heads, kKvHeads);
    QCOMPARE(c.head_dim, kHeadDim);
    QCOMPARE(c.vocab_size, kVocab);
    QCOMPARE(c.max_position_embeddings, int64_t{256});
    QCOMPARE(c.rope_theta, 50000.0);
    QCOMPARE(c.rms_norm_eps, double(1e-5f));
    QCOMPARE(c.tie_word_embeddings, tied);
    QCOMPARE(c.attention_bias, o.arch == "qwen2");
    QCOMPARE(c.bos_token_id, int64_t{1});
    QCOMPARE(c.eos_token_id, int64_t{2});
    QCOMPARE(w.source_format, std::string("gguf"));
    // Opening decodes nothing: every tensor is deferred, decoded when read.
    QVERIFY(w.tensors.empty());
    QCOMPARE(w.deferred.size(), hf.size());
    for (const auto& [name, t] : hf) {
      QVERIFY2(w.has(name), name.c_str());
      QVERIFY2(w.shape(name) == t.sizes().vec(), name.c_str());
      QVERIFY2(torch::equal(w.at(name), t), name.c_str());
      QVERIFY2(torch::equal(w.at(name), t), name.c_str());  // decoded again, the same
    }
    QCOMPARE(w.source_dtypes.at("model.embed_tokens.weight"), std::string("Q8_0"));
    QCOMPARE(w.source_dtypes.at("model.layers.0.self_attn.q_proj.weight"), std::string("Q4_0"));
    QCOMPARE(w.source_dtypes.at("model.layers.1.mlp.up_proj.weight"), std::string("BF16"));
    QCOMPARE(w.source_dtypes.at("model.norm.weight"), std::string("F32"));
  }

  void refusesMissingTensor() {
    const Options o{"llama", true, "blk.1.ffn_up.weight"};
    const auto path = file("missing.gguf");
    write_tiny(path, make_hf(o), o);
    const QString msg = test::error_of<FormatError>([&] { checkpoint::load_gguf_model(path); });
    QVERIFY2(msg.contains("missing.gguf") && msg.contains("blk.1.ffn_up.weight"), qPrintable(msg));
  }

  // A declared block count the file's tensors cannot hold is refused before
  // anything is built for it (it was a name table per declared block).
  void refusesAbsurdBlockCount() {
    Options o;
    o.block_count = 1000000000;
    const auto path = file("blocks.gguf");
    write_tiny(path, make_hf(o), o);
    const QString msg = test::error_of<FormatError>([&] { checkpoint::load_gguf_model(path); });
    QVERIFY2(msg.contains("blocks.gguf") && msg.contains("block_count") && msg.contains("1000000000"), qPrintable(msg));
  }

  // llama.cpp stacks an MoE's experts in 3-D tensors, which are not read yet: said by name.
  // A declared expert count sizes tables of names per block: it must be the
  // count the first block's stacked expert tensor holds, checked before
  // anything is built for it.
  void refusesAnExpertCountTheTensorsDoNotHold_data() {
    QTest::addColumn<qint64>("declared");
    QTest::addColumn<bool>("stacked");
    QTest::newRow("no stacked tensor") << qint64{8} << false;
    QTest::newRow("more than stacked") << qint64{1000000000} << true;
  }
  void refusesAnExpertCountTheTensorsDoNotHold() {
    QFETCH(qint64, declared);
    QFETCH(bool, stacked);
    io::GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_uint32("llama.block_count", 1);
    w.add_uint32("llama.embedding_length", 4);
    w.add_uint32("llama.feed_forward_length", 4);
    w.add_uint32("llama.attention.head_count", 2);
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.add_uint32("llama.expert_count", static_cast<uint32_t>(declared));
    w.add_uint32("llama.expert_used_count", 2);
    if (stacked) w.add_tensor("blk.0.ffn_gate_exps.weight", io::GgmlType::F32, {4, 4, 2}, std::vector<uint8_t>(128));
    for (int i = 0; i < 9; ++i) w.add_tensor("t" + std::to_string(i), io::GgmlType::F32, {4}, std::vector<uint8_t>(16));
    const auto path = file("moe.gguf");
    w.write(path);
    const QString msg = test::error_of<FormatError>([&] { checkpoint::load_gguf_model(path); });
    QVERIFY2(
        msg.contains("moe.gguf") && msg.contains("llama.expert_count") && msg.contains("blk.0.ffn_gate_exps.weight"),
        qPrintable(msg));
  }

  void refusesUnknownArchitecture() {
    const Options o{"gpt2", true, {}};
    const auto path = file("gpt2.gguf");
    write_tiny(path, make_hf(o), o);
    const QString msg = test::error_of<ConfigError>([&] { checkpoint::load_gguf_model(path); });
    QVERIFY2(msg.contains("gpt2.gguf") && msg.contains("general.architecture") && msg.contains("'gpt2'"),
             qPrintable(msg));
  }

  void refusesMisshapenTensor() {
    Options o;
    auto hf = make_hf(o);
    hf["model.layers.0.mlp.down_proj.weight"] = torch::randn({kHidden, kFfn + 1});
    const auto path = file("shape.gguf");
    write_tiny(path, hf, o);
    const QString msg = test::error_of<FormatError>([&] { checkpoint::load_gguf_model(path); });
    QVERIFY2(msg.contains("shape.gguf") && msg.contains("blk.0.ffn_down.weight") && msg.contains("expected [64, 96]"),
             qPrintable(msg));
  }

  // Reference values were computed once with the python `gguf` package
  // (gguf.GGUFReader + gguf.quants.dequantize), reshaped to torch order and,
  // for attn_q/attn_k, un-permuted with the inverse of convert_hf_to_gguf's
  // permute (checked by permuting back): sums accumulated in float64.
  void loadsDemoModel() {
    const auto path = test::demo_model();
    if (path.empty())
      QS_SKIP_UNLESS_REQUIRED("demo model absent: run packaging/fetch-demo-model.sh or set QS_DEMO_MODEL");
    const io::GgufFile f(path);
    QCOMPARE(f.version(), 3u);
    QCOMPARE(f.tensors().size(), size_t{272});
    QCOMPARE(f.get_string("tokenizer.ggml.model"), std::string("gpt2"));
    QCOMPARE(f.get_string_array("tokenizer.ggml.merges").size(), size_t{48900});

    const model::ModelWeights w = checkpoint::load_gguf_model(path);
    const model::ModelConfig& c = w.config;
    QCOMPARE(c.architecture, std::string("llama"));
    QCOMPARE(c.num_layers, int64_t{30});
    QCOMPARE(c.hidden_size, int64_t{576});
    QCOMPARE(c.intermediate_size, int64_t{1536});
    QCOMPARE(c.num_heads, int64_t{9});
    QCOMPARE(c.num_kv_heads, int64_t{3});
    QCOMPARE(c.head_dim, int64_t{64});
    QCOMPARE(c.vocab_size, int64_t{49152});
    QCOMPARE(c.max_position_embeddings, int64_t{8192});
    QCOMPARE(c.rope_theta, 100000.0);
    QVERIFY(c.tie_word_embeddings);
    QVERIFY(!w.has("lm_head.weight"));
    QCOMPARE(c.bos_token_id, int64_t{1});
    QCOMPARE(c.eos_token_id, int64_t{2});
    QCOMPARE(c.torch_dtype, std::string("q4_1"));
    QCOMPARE(w.source_dtypes.at("model.embed_tokens.weight"), std::string("Q8_0"));
    QCOMPARE(w.source_dtypes.at("model.layers.0.self_attn.q_proj.weight"), std::string("Q4_1"));

    const auto sum = [](const torch::Tensor& t) { return t.to(torch::kDouble).sum().item<double>(); };
    const torch::Tensor& e = w.at("model.embed_tokens.weight");
    QCOMPARE(e.sizes().vec(), (std::vector<int64_t>{49152, 576}));
    QVERIFY(std::abs(sum(e) - -15353.04449415207) < 1e-6);
    QCOMPARE(e[0][0].item<float>(), -0.10654449462890625f);
    QCOMPARE(e[1][5].item<float>(), -0.0079345703125f);
    QCOMPARE(e[100][17].item<float>(), 0.10614967346191406f);
    QCOMPARE(e[49151][575].item<float>(), -0.0417022705078125f);

    const torch::Tensor& q = w.at("model.layers.0.self_attn.q_proj.weight");
    QVERIFY(std::abs(sum(q) - 59.22322082519531) < 1e-9);
    QCOMPARE(q[0][0].item<float>(), -0.0963134765625f);
    QCOMPARE(q[1][0].item<float>(), -0.1591796875f);
    QCOMPARE(q[32][3].item<float>(), 0.26019287109375f);
    QCOMPARE(q[63][575].item<float>(), -0.061248779296875f);
    QCOMPARE(q[575][575].item<float>(), -0.255859375f);

    const torch::Tensor& k = w.at("model.layers.0.self_attn.k_proj.weight");
    QVERIFY(std::abs(sum(k) - 26.937057495117188) < 1e-9);
    QCOMPARE(k[1][0].item<float>(), 0.203369140625f);
    QCOMPARE(k[32][7].item<float>(), -0.40234375f);
    QCOMPARE(k[191][575].item<float>(), 0.3636474609375f);
    QCOMPARE(w.at("model.layers.0.input_layernorm.weight")[3].item<float>(), -0.0302734375f);
  }

 private:
  std::filesystem::path file(const char* name) const { return std::filesystem::path(dir_.path().toStdString()) / name; }
  QTemporaryDir dir_;
};

QS_REGISTER_TEST(TestGgufModel);
#include "test_gguf_model.moc"

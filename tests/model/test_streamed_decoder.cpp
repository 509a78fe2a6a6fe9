#include <QTemporaryDir>
#include <QTest>

#include "core/checkpoint/model_loader.h"
#include "core/io/mapped_tensor.h"
#include "core/model/decoder.h"
#include "tests/support/paths.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

// A checkpoint written in `dtype` and opened again, as a user opens one.
model::ModelWeights reopened(const model::ModelConfig& c, torch::ScalarType dtype, const QTemporaryDir& dir) {
  test::write_hf_checkpoint(test::make_tiny_llama(c, 11), dir.path().toStdString(), dtype);
  return checkpoint::load_model(dir.path().toStdString());
}

}  // namespace

// A decoder that keeps one block resident computes what one that keeps every
// block computes, to the bit: the weights are built from the same stored
// bytes by the same conversion whenever a block runs again.
class TestStreamedDecoder : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void aBf16CheckpointOpensAsViewsOfItsFile() {
    QTemporaryDir dir;
    const auto c = test::tiny_config();
    const auto w = reopened(c, torch::kBFloat16, dir);
    const auto original = test::make_tiny_llama(c, 11);
    QCOMPARE(w.tensors.size(), original.tensors.size());
    for (const auto& [name, t] : w.tensors) {
      QVERIFY2(t.scalar_type() == torch::kBFloat16, name.c_str());
      QVERIFY2(io::is_mapped(t), name.c_str());
      QVERIFY2(torch::equal(t, original.tensors.at(name).to(torch::kBFloat16)), name.c_str());
    }
  }

  void releasedPagesReadBackTheSameValues() {
    QTemporaryDir dir;
    const auto w = reopened(test::tiny_config(), torch::kFloat32, dir);
    const auto& t = w.at("model.layers.1.mlp.down_proj.weight");
    const auto copy = t.clone();
    io::release_mapped_pages(t);
    QVERIFY(torch::equal(t, copy));
    // A tensor of the heap is left alone, not zeroed.
    io::release_mapped_pages(copy);
    QVERIFY(torch::equal(t, copy));
  }

  void streamedForwardEqualsResident_data() {
    QTest::addColumn<int>("stored");
    QTest::addColumn<bool>("tied");
    QTest::addColumn<int64_t>("vocab");
    QTest::newRow("float32") << static_cast<int>(torch::kFloat32) << false << int64_t(101);
    QTest::newRow("bf16") << static_cast<int>(torch::kBFloat16) << false << int64_t(101);
    QTest::newRow("fp16-tied") << static_cast<int>(torch::kFloat16) << true << int64_t(101);
    // More rows than the head converts at a time.
    QTest::newRow("bf16-vocab-20000") << static_cast<int>(torch::kBFloat16) << false << int64_t(20000);
  }
  void streamedForwardEqualsResident() {
    QFETCH(int, stored);
    QFETCH(bool, tied);
    QFETCH(int64_t, vocab);
    auto c = test::tiny_config();
    c.num_layers = 3;
    c.tie_word_embeddings = tied;
    c.vocab_size = vocab;
    QTemporaryDir dir;
    const auto w = reopened(c, static_cast<torch::ScalarType>(stored), dir);
    model::Decoder resident(w, torch::kCPU, torch::kFloat32);
    model::Decoder streamed(w, torch::kCPU, torch::kFloat32);
    QCOMPARE(resident.resident_blocks(), int64_t(0));
    streamed.set_resident_blocks(1);
    const auto ids = torch::randint(0, c.vocab_size, {2, 17}, torch::kLong);
    const auto expected = resident.forward(ids);
    QVERIFY(torch::equal(streamed.forward(ids), expected));
    // The second pass builds every block again from the file.
    QVERIFY(torch::equal(streamed.forward(ids), expected));
    QVERIFY(torch::equal(streamed.forward_tail(ids, 9), resident.forward_tail(ids, 9)));
    QVERIFY(torch::equal(streamed.last_hidden(ids), resident.last_hidden(ids)));
  }

  // Deferred weights (a GGUF's) are decoded when a block is built and again
  // each time a streamed decoder builds it anew, never kept beyond that.
  void deferredWeightsDecodeWhenABlockIsBuilt() {
    auto c = test::tiny_config();
    c.num_layers = 3;
    const auto eager = test::make_tiny_llama(c, 11);
    auto w = eager;
    auto decodes = std::make_shared<int>(0);
    for (auto it = w.tensors.begin(); it != w.tensors.end();) {
      if (it->first.find("_proj.weight") == std::string::npos) {
        ++it;
        continue;
      }
      w.deferred[it->first] = {it->second.sizes().vec(), [t = it->second, decodes] {
                                 ++*decodes;
                                 return t.clone();
                               }};
      it = w.tensors.erase(it);
    }
    const int64_t linears = c.num_layers * 7;
    QCOMPARE(w.deferred.size(), size_t(linears));
    model::Decoder resident(eager, torch::kCPU, torch::kFloat32);
    model::Decoder streamed(w, torch::kCPU, torch::kFloat32);
    QCOMPARE(*decodes, 0);
    streamed.set_resident_blocks(1);
    const auto ids = torch::randint(0, c.vocab_size, {2, 17}, torch::kLong);
    const auto expected = resident.forward(ids);
    QVERIFY(torch::equal(streamed.forward(ids), expected));
    QCOMPARE(*decodes, linears);
    QVERIFY(torch::equal(streamed.forward(ids), expected));
    QCOMPARE(*decodes, 2 * linears);
    QVERIFY(torch::equal(streamed.linear(1, model::LinearRole::Up)->dense_weight(),
                         eager.at("model.layers.1.mlp.up_proj.weight")));
  }

  // Deferred vocabulary matrices whose rows decode alone (a GGUF's) are never
  // decoded whole by a streamed decoder: the embedding decodes each distinct
  // token's row once, the head a chunk of rows at a time, and the logits are
  // the resident decoder's, which decodes each whole once. Writing the model
  // out decodes the matrix for the caller.
  void deferredVocabularyRowsDecodeAFewAtATime() {
    auto c = test::tiny_config();
    c.tie_word_embeddings = false;
    const auto eager = test::make_tiny_llama(c, 12);
    auto w = eager;
    auto whole = std::make_shared<int>(0);
    auto rows = std::make_shared<int64_t>(0);
    for (const char* name : {"model.embed_tokens.weight", "lm_head.weight"}) {
      const auto t = w.tensors.at(name);
      w.deferred[name] = {t.sizes().vec(),
                          [t, whole] {
                            ++*whole;
                            return t.clone();
                          },
                          [t, rows](int64_t first, int64_t n) {
                            *rows += n;
                            return t.narrow(0, first, n).clone();
                          }};
      w.tensors.erase(name);
    }
    model::Decoder resident(w, torch::kCPU, torch::kFloat32);
    model::Decoder streamed(w, torch::kCPU, torch::kFloat32);
    resident.set_resident_blocks(0);
    streamed.set_resident_blocks(1);
    const auto ids = torch::tensor({{5, 9, 5, 0}, {9, 9, 100, 7}}, torch::kLong);
    const auto expected = resident.forward(ids);
    QCOMPARE(*whole, 2);
    *rows = 0;
    QVERIFY(torch::equal(streamed.forward(ids), expected));
    QCOMPARE(*whole, 2);
    QCOMPARE(*rows, int64_t{5} + c.vocab_size);  // tokens 0, 5, 7, 9, 100; then the head
    QVERIFY(torch::equal(streamed.embed_weight(), eager.at("model.embed_tokens.weight")));
    QCOMPARE(*whole, 3);
  }

  void theDemoModelStreamedEqualsResident() {
    const auto model_path = test::demo_model();
    if (model_path.empty()) QS_SKIP_UNLESS_REQUIRED("demo model absent: run packaging/fetch-demo-model.sh");
    const auto w = checkpoint::load_model(model_path);
    model::Decoder resident(w, torch::kCPU, torch::kFloat32);
    model::Decoder streamed(w, torch::kCPU, torch::kFloat32);
    streamed.set_resident_blocks(1);
    const auto ids = torch::randint(0, w.config.vocab_size, {1, 64}, torch::kLong);
    QVERIFY(torch::equal(streamed.forward(ids), resident.forward(ids)));
  }
};

QS_REGISTER_TEST(TestStreamedDecoder);
#include "test_streamed_decoder.moc"

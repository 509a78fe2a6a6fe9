#include <QTest>

#include <cmath>

#include "core/analysis/perplexity.h"
#include "core/error.h"
#include "core/text/text_file.h"
#include "tests/model/reference_llama.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

// -log p(tokens[j+1] | tokens[..j]) from the reference forward of one window.
std::vector<double> window_nll(const model::ModelWeights& w, const std::vector<int64_t>& window) {
  auto ids = torch::tensor(window, torch::kLong);
  auto logp = torch::log_softmax(test::reference_llama_forward(w, ids, test::reference_inv_freq(w.config)), 1);
  std::vector<double> out;
  for (size_t j = 0; j + 1 < window.size(); ++j) out.push_back(-logp[j][window[j + 1]].item<double>());
  return out;
}

class CancelAfter : public Feedback {
 public:
  explicit CancelAfter(int64_t n) : n_(n) { set_min_interval(std::chrono::milliseconds(0)); }

 protected:
  void on_progress(const std::string&, int64_t done, int64_t) override {
    if (done >= n_) cancel();
  }

 private:
  int64_t n_;
};

}  // namespace

class TestPerplexity : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    weights_ = test::make_tiny_llama(test::tiny_config(), 21);
    torch::manual_seed(4);
    auto t = torch::randint(3, 101, {100}, torch::kInt32);
    tokens_.assign(t.data_ptr<int32_t>(), t.data_ptr<int32_t>() + 100);
  }

  void llamaCppProtocolScoresSecondHalfWithBos() {
    model::Decoder dec(weights_, torch::kCPU, torch::kFloat32);
    analysis::PerplexityOptions o;
    o.protocol = analysis::PplProtocol::LlamaCpp;
    o.ctx = 16;
    o.replace_first_with_bos = true;
    o.bos_id = 1;
    const auto r = analysis::perplexity(dec, tokens_, o);
    // 100 tokens / 16 = 6 windows; each scores tokens 9..15 (7 tokens).
    double sum = 0;
    for (int64_t c = 0; c < 6; ++c) {
      std::vector<int64_t> win(tokens_.begin() + c * 16, tokens_.begin() + (c + 1) * 16);
      win[0] = 1;
      const auto nll = window_nll(weights_, win);
      for (int j = 8; j < 15; ++j) sum += nll[j];
    }
    QCOMPARE(r.chunks, int64_t(6));
    QCOMPARE(r.scored_tokens, int64_t(42));
    QCOMPARE(r.processed_tokens, int64_t(96));
    QVERIFY2(std::abs(r.ppl - std::exp(sum / 42)) < 1e-5 * r.ppl, qPrintable(QString::number(r.ppl)));
    QCOMPARE(r.running_ppl.size(), size_t(6));
    QCOMPARE(r.running_ppl.back(), r.ppl);
  }

  void hfProtocolScoresEveryPrediction() {
    model::Decoder dec(weights_, torch::kCPU, torch::kFloat32);
    analysis::PerplexityOptions o;
    o.protocol = analysis::PplProtocol::Hf;
    o.ctx = 32;
    o.batch = 2;  // batching windows must not change the result
    const auto r = analysis::perplexity(dec, tokens_, o);
    double sum = 0;
    for (int64_t c = 0; c < 3; ++c) {
      const auto nll = window_nll(weights_, std::vector<int64_t>(tokens_.begin() + c * 32, tokens_.begin() + (c + 1) * 32));
      for (double v : nll) sum += v;
    }
    QCOMPARE(r.scored_tokens, int64_t(3 * 31));
    QVERIFY2(std::abs(r.ppl - std::exp(sum / 93)) < 1e-5 * r.ppl, qPrintable(QString::number(r.ppl)));
  }

  void limitChunksAndTooShortText() {
    model::Decoder dec(weights_, torch::kCPU, torch::kFloat32);
    analysis::PerplexityOptions o;
    o.ctx = 16;
    o.limit_chunks = 2;
    QCOMPARE(analysis::perplexity(dec, tokens_, o).chunks, int64_t(2));
    o.ctx = 64;  // llama.cpp needs two windows' worth of tokens
    QVERIFY_THROWS_EXCEPTION(ArgumentError, analysis::perplexity(dec, tokens_, o));
  }

  void cancelStopsBetweenWindows() {
    model::Decoder dec(weights_, torch::kCPU, torch::kFloat32);
    analysis::PerplexityOptions o;
    o.ctx = 16;
    CancelAfter fb(2);
    QVERIFY_THROWS_EXCEPTION(Cancelled, analysis::perplexity(dec, tokens_, o, &fb));
  }

  void hfRowJoin() {
    // WikiText rows as HF datasets yields them, joined with "\n\n".
    const std::string raw = " = Title = \r\n\r\n Body text .\r\n \r\n";
    QCOMPARE(text::join_rows_hf(raw), std::string(" = Title = \n\n\n\n\n Body text .\n\n\n"));
    QCOMPARE(text::join_rows_hf("a\nb"), std::string("a\n\n\nb"));
  }

 private:
  model::ModelWeights weights_;
  std::vector<int32_t> tokens_;
};

QS_REGISTER_TEST(TestPerplexity);
#include "test_perplexity.moc"

#include <QTest>
#include <algorithm>

#include "core/error.h"
#include "core/methods/method_registry.h"
#include "core/model/decoder.h"
#include "core/model/quantized_linear_op.h"
#include "core/pipeline/pipeline.h"
#include "tests/methods/method_runs.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

using test::ParamList;

constexpr int64_t kSequences = 10;  // eight to train on, two held out, unless a test says
constexpr int64_t kHeldOut = 2;

text::CalibrationSet calibration(int64_t vocab, int64_t n = kSequences) {
  return test::random_calibration(vocab, n, 24, 11);
}

pipeline::QuantPlan plan_of(const std::string& method, const ParamList& rilq, const ParamList& method_params = {},
                            int bits = 2) {
  auto c = pipeline::QuantPlan::make_choice(method, {bits, 32, false, 1.0}, "test");
  for (const auto& [k, v] : method_params) c.params.set(k, v, "test");
  c.then = "rilq";
  c.then_params = methods::refinement_or_throw("rilq", "test").default_params();
  for (const auto& [k, v] : rilq) c.then_params.set(k, v, "test");
  return pipeline::QuantPlan(c);
}

pipeline::PipelineResult run(model::Decoder& dec, const pipeline::QuantPlan& plan, Feedback& fb,
                             int64_t sequences = kSequences) {
  return pipeline::run_pipeline(dec, calibration(dec.config().vocab_size, sequences), plan, {}, fb);
}

// RILQ's objective on the held-out sequences, computed here from the model as
// committed (QuantizedLinearOps with their side branches) against a separate
// FP decoder: 0.5 · MSE of the final-normed hidden state + 0.5 · next-token CE.
double held_out_loss(model::Decoder& quantized, model::Decoder& fp, const torch::Tensor& ids) {
  torch::NoGradGuard g;
  double hidden = 0, ce = 0;
  const auto last = [](model::Decoder& d, const torch::Tensor& x) {
    auto h = d.embed(x);
    for (int64_t l = 0; l < d.num_layers(); ++l) h = d.run_block(l, h);
    return d.final_hidden(h);
  };
  for (int64_t i = 0; i < kHeldOut; ++i) {
    const auto x = ids.narrow(0, i, 1);
    hidden += (last(quantized, x) - last(fp, x)).pow(2).mean().item<double>();
    const auto logits = quantized.forward(x).squeeze(0);
    const auto logp = torch::log_softmax(logits.narrow(0, 0, x.size(1) - 1), -1);
    ce -= logp.gather(1, x.squeeze(0).narrow(0, 1, x.size(1) - 1).unsqueeze(1)).mean().item<double>();
  }
  return 0.5 * hidden / kHeldOut + 0.5 * ce / kHeldOut;
}

}  // namespace

class TestRilq : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // Over RTN at W3g32, the adapters lower the held-out error of the last
  // hidden state by a quarter (the next-token loss is left out: on random
  // tokens it has little to learn, and the random model's quantization error
  // is spectrally flat, the hardest case for a low-rank branch), every
  // adapter's factors receive gradients, each linear gets a rank-8 branch,
  // and the losses are reported as curves.
  void lowersTheHeldOutLossAndTrainsEveryAdapter() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 21);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const ParamList hidden_only = {{"hidden_weight", 1.0},
                                   {"ce_weight", 0.0},
                                   {"lr", 3e-3},
                                   {"max_steps", int64_t{480}},
                                   {"patience", int64_t{50}}};
    const auto r = run(dec, plan_of("rtn", test::with(test::kFastRilq, hidden_only), {}, 3), fb, 60);
    QCOMPARE(r.refinements.size(), size_t{1});
    const auto& rep = r.refinements[0].reported;
    QCOMPARE(r.refinements[0].linears, int64_t{14});
    QCOMPARE(rep.at("rilq adapters"), 14.0);
    QCOMPARE(rep.at("rilq adapters with gradient"), 14.0);
    const double initial = rep.at("rilq initial validation loss"), best = rep.at("rilq best validation loss");
    QVERIFY2(best < 0.85 * initial, qPrintable(QString("best %1, initial %2").arg(best).arg(initial)));
    for (const auto& l : r.layers) {
      QVERIFY(l.record);
      QCOMPARE(l.record->lora_a.sizes(), (torch::IntArrayRef{8, l.record->in_features}));
      QCOMPARE(l.record->lora_b.sizes(), (torch::IntArrayRef{l.record->out_features, 8}));
      QVERIFY2(l.record->lora_b.abs().sum().item<double>() > 0, l.name.c_str());
    }
    QVERIFY(fb.curves.count("rilq loss") && fb.curves.count("rilq validation loss"));
    QCOMPARE(fb.curves.at("rilq validation loss").front(), initial);
  }

  void theCommittedModelHasTheReportedLoss_data() {
    QTest::addColumn<QString>("method");
    QTest::newRow("rtn") << "rtn";
    QTest::newRow("affinequant (norm matrices)") << "affinequant";
  }
  // What the refinement reports as its best held-out loss is what the model
  // it leaves behind computes: the alpha/rank scaling is folded into lora_b
  // and the records' forward is the training forward, also where AffineQuant
  // left a norm matrix that q/k/v and gate/up share (the adapters read x, not T·x).
  void theCommittedModelHasTheReportedLoss() {
    QFETCH(QString, method);
    const auto weights = test::make_tiny_llama(test::tiny_config(), 22);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32), fp(weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const ParamList method_params = method == "affinequant" ? ParamList{{"epochs", int64_t{1}}} : ParamList{};
    const auto r = run(dec, plan_of(method.toStdString(), test::kFastRilq, method_params), fb);
    if (method == "affinequant")
      for (const auto& l : r.layers)
        QVERIFY2(l.role == model::LinearRole::O || l.role == model::LinearRole::Down || l.record->transform.defined(),
                 l.name.c_str());
    const double reported = r.refinements[0].reported.at("rilq best validation loss");
    const double measured = held_out_loss(dec, fp, calibration(dec.config().vocab_size).ids);
    QVERIFY2(std::abs(measured - reported) <= 1e-4 * reported,
             qPrintable(QString("measured %1, reported %2").arg(measured, 0, 'g', 10).arg(reported, 0, 'g', 10)));
  }

  // A decoder that holds one block at a time trains through per-block
  // checkpoints (forward once without a graph, then each block again from the
  // last, backpropagated alone): its adapters and losses are the ones the
  // all-resident decoder's single graph gives, over the same steps.
  void aStreamedDecoderTrainsTheSameAdapters() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 24);
    model::Decoder resident(weights, torch::kCPU, torch::kFloat32), streamed(weights, torch::kCPU, torch::kFloat32);
    resident.set_resident_blocks(0);
    streamed.set_resident_blocks(1);
    const ParamList params = test::with(test::kFastRilq, {{"max_steps", int64_t{24}}, {"patience", int64_t{50}}});
    int64_t resident_blocks_run = 0, streamed_blocks_run = 0;
    resident.add_block_hook([&](int64_t, const torch::Tensor&, const torch::Tensor&) { ++resident_blocks_run; });
    streamed.add_block_hook([&](int64_t, const torch::Tensor&, const torch::Tensor&) { ++streamed_blocks_run; });
    test::RecordingFeedback fa, fb;
    const auto a = run(resident, plan_of("rtn", params), fa);
    const auto b = run(streamed, plan_of("rtn", params), fb);
    QCOMPARE(a.refinements[0].reported.at("rilq optimizer steps"), 12.0);
    // Each of the 24 training sequences ran both blocks a second time.
    QCOMPARE(streamed_blocks_run - resident_blocks_run, int64_t{24 * 2});
    QCOMPARE(fa.curves.at("rilq loss"), fb.curves.at("rilq loss"));
    QCOMPARE(fa.curves.at("rilq validation loss"), fb.curves.at("rilq validation loss"));
    QCOMPARE(a.layers.size(), b.layers.size());
    for (size_t i = 0; i < a.layers.size(); ++i) {
      QVERIFY2(a.layers[i].record->lora_a.abs().sum().item<double>() > 0, a.layers[i].name.c_str());
      QVERIFY2(torch::equal(a.layers[i].record->lora_a, b.layers[i].record->lora_a), a.layers[i].name.c_str());
      QVERIFY2(torch::equal(a.layers[i].record->lora_b, b.layers[i].record->lora_b), a.layers[i].name.c_str());
    }
  }

  // With a learning rate of 0 nothing improves: training stops after
  // `patience` validations and keeps the zero adapters it started from.
  void stopsEarlyAndKeepsTheStartWhenNothingImproves() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 23);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const auto r = run(dec, plan_of("rtn", test::with(test::kFastRilq, {{"lr", 0.0}, {"patience", int64_t{3}}})), fb);
    const auto& rep = r.refinements[0].reported;
    QCOMPARE(rep.at("rilq optimizer steps"), 3.0 * 2.0);
    QCOMPARE(rep.at("rilq steps"), 3.0 * 2.0 * 2.0);
    QCOMPARE(rep.at("rilq best step"), 0.0);
    QCOMPARE(rep.at("rilq best validation loss"), rep.at("rilq initial validation loss"));
    QVERIFY(std::any_of(fb.lines.begin(), fb.lines.end(), [](const std::string& l) {
      return l.find("no improvement in 3 validations") != std::string::npos;
    }));
    for (const auto& l : r.layers) QCOMPARE(l.record->lora_b.abs().sum().item<double>(), 0.0);
  }

  // A branch the base method made (LQER's) is kept, the adapter appended to it.
  void appendsToAnExistingBranch() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 24);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32), plain(weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const ParamList lqer = {{"rank", int64_t{4}}};
    const auto r = run(dec, plan_of("lqer", test::kFastRilq, lqer), fb);
    auto c = pipeline::QuantPlan::make_choice("lqer", {2, 32, false, 1.0}, "test");
    c.params.set("rank", int64_t{4}, "test");
    const auto base = run(plain, pipeline::QuantPlan(c), fb);
    for (size_t i = 0; i < r.layers.size(); ++i) {
      const auto& q = *r.layers[i].record;
      const auto& b = *base.layers[i].record;
      QCOMPARE(q.lora_a.size(0), int64_t{12});
      QVERIFY(torch::equal(q.lora_a.narrow(0, 0, 4), b.lora_a));
      QVERIFY(torch::equal(q.lora_b.narrow(1, 0, 4), b.lora_b));
      QVERIFY(torch::equal(q.codes, b.codes));
    }
  }

  // merge: the adapters go into the weights, which are re-quantized on the
  // same grid; no branch is left and the cost is measured and logged.
  void mergeRequantizesOnTheSameGrid() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 25);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32), fp(weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const auto r = run(dec, plan_of("rtn", test::with(test::kFastRilq, {{"merge", true}})), fb);
    for (const auto& l : r.layers) {
      QVERIFY(!l.record->lora_a.defined() && !l.record->lora_b.defined());
      QCOMPARE(l.record->spec.bits, 2);
      QCOMPARE(l.record->spec.group_size, int64_t{32});
    }
    const double merged = r.refinements[0].reported.at("rilq merged validation loss");
    QVERIFY(std::abs(held_out_loss(dec, fp, calibration(dec.config().vocab_size).ids) - merged) <= 1e-4 * merged);
    QVERIFY(std::any_of(fb.lines.begin(), fb.lines.end(),
                        [](const std::string& l) { return l.find("merged into the weights") != std::string::npos; }));
  }

  // Cancelling mid-training puts every weight back as it was before the run.
  void cancelDuringTrainingRestoresTheModel() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 26);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
    const auto before = test::block_tensors(dec);
    test::RecordingFeedback fb;
    fb.on_point = [&](const std::string& series) {
      if (series == "rilq loss" && fb.curves[series].size() == 3) fb.cancel();
    };
    QVERIFY_THROWS_EXCEPTION(Cancelled, run(dec, plan_of("rtn", test::kFastRilq), fb));
    const auto after = test::block_tensors(dec);
    for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
  }

  // Holding out a validation split needs two sequences; the error says which
  // parameter to change, and the model is left as it was.
  void oneSequenceCannotBeSplit() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 27);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
    const auto before = test::block_tensors(dec);
    test::RecordingFeedback fb;
    try {
      run(dec, plan_of("rtn", test::kFastRilq), fb, 1);
      QFAIL("no error");
    } catch (const ConfigError& e) {
      QVERIFY2(QString(e.what()).contains("val_fraction"), e.what());
    }
    const auto after = test::block_tensors(dec);
    for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
    run(dec, plan_of("rtn", test::with(test::kFastRilq, {{"val_fraction", 0.0}, {"max_steps", int64_t{4}}})), fb, 1);
  }
};

QS_REGISTER_TEST(TestRilq);
#include "test_rilq.moc"

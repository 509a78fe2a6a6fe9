#include <QTest>
#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/quant/uniform_quantizer.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
using model::LinearRole;

namespace {

pipeline::PipelineOptions batched(int64_t batch) {
  pipeline::PipelineOptions o;
  o.batch = batch;
  return o;
}

pipeline::QuantPlan mixed_plan() {
  pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {4, 32, false, 1.0}, "test"));
  plan.add_rule({"model.layers.0.mlp.down_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
  plan.add_rule({"*.q_proj", std::string("gptq"), 8, 16, {}, {}, {{"act_order", true}}, {}, {}});
  return plan;
}

}  // namespace

class TestPipeline : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void overridesAndMetrics() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 1);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    const auto kept = dec.linear(0, LinearRole::Down);
    test::RecordingFeedback fb;
    const auto r = pipeline::run_pipeline(dec, test::random_calibration(101, 6, 24, 2), mixed_plan(), batched(3), fb);
    QCOMPARE(r.layers.size(), size_t{14});
    QCOMPARE(r.blocks.size(), size_t{2});
    for (const auto& l : r.layers) {
      if (l.name == "model.layers.0.mlp.down_proj") {
        QVERIFY(!l.record);
        QVERIFY(dec.linear(0, LinearRole::Down) == kept);  // untouched
        continue;
      }
      QVERIFY2(l.record, l.name.c_str());
      const bool q = l.role == LinearRole::Q;
      QCOMPARE(QString::fromStdString(l.choice.method), QString(q ? "gptq" : "rtn"));
      QCOMPARE(l.record->spec.bits, q ? 8 : 4);
      QCOMPARE(l.record->spec.group_size, q ? int64_t{16} : int64_t{32});
      QCOMPARE(l.record->g_idx.defined(), q);
      QVERIFY(l.weight_mse > 0 && std::isfinite(l.weight_mse));
      QVERIFY(l.output_rel_mse > 0 && l.output_rel_mse < 0.1);
      QVERIFY(l.seconds >= 0);
    }
    for (const auto& b : r.blocks) QVERIFY(b.output_rel_mse > 0 && b.output_rel_mse < 0.1);
  }

  // RTN in the pipeline is the quantizer applied to the original weights, and
  // its metrics are those of that quantization.
  void rtnMatchesTheQuantizer() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 4);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {3, 32, false, 1.0}, "test"));
    test::RecordingFeedback fb;
    const auto r = pipeline::run_pipeline(dec, test::random_calibration(101, 4, 16, 5), plan, {}, fb);
    for (const auto& l : r.layers) {
      const auto& orig = w.tensors.at(l.name + ".weight");
      const auto expected = quant::fake_quantize(orig, {3, 32, false, 1.0});
      QVERIFY(torch::equal(dec.linear(l.layer, l.role)->dense_weight(), expected));
      const double mse = (orig - expected).pow(2).mean().item<double>();
      QVERIFY(std::abs(l.weight_mse - mse) <= 1e-12 + 1e-9 * mse);
    }
  }

  // The last block's input is the quantized first block's output: compare with
  // a block-1 error measured on FP inputs instead.
  void propagatesQuantizedOutputs() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 6);
    const auto calib = test::random_calibration(101, 4, 16, 8);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    model::Decoder fp(w, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    std::vector<torch::Tensor> seen;
    dec.add_block_hook([&](int64_t layer, const torch::Tensor& in, const torch::Tensor&) {
      if (layer == 1) seen.push_back(in);
    });
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {2, 32, false, 1.0}, "test"));
    pipeline::run_pipeline(dec, calib, plan, batched(4), fb);
    auto fp_in = fp.run_block(0, fp.embed(calib.ids));
    QVERIFY(!seen.empty());
    // Block 1 saw inputs that differ from the FP model's (block 0 was 2-bit).
    QVERIFY(!torch::allclose(seen.front(), fp_in, 1e-4, 1e-4));
  }

  // Block 0's inputs are the embeddings whatever the method, so its metrics
  // can be recomputed from an FP and the quantized decoder. GPTQ reads FP
  // inputs first (targets come from that capture), RTN reads none (targets
  // are computed late, with the block's FP state put back), AWQ changes norms.
  void blockAndLayerMetricsMatchAnIndependentComputation_data() {
    QTest::addColumn<QString>("method");
    QTest::newRow("gptq") << "gptq";
    QTest::newRow("rtn") << "rtn";
    QTest::newRow("awq") << "awq";
  }
  void blockAndLayerMetricsMatchAnIndependentComputation() {
    QFETCH(QString, method);
    const auto w = test::make_tiny_llama(test::tiny_config(), 9);
    const auto calib = test::random_calibration(101, 5, 16, 3);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    const model::Decoder fp(w, torch::kCPU, torch::kFloat32);
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice(method.toStdString(), {3, 32, false, 1.0}, "test"));
    test::RecordingFeedback fb;
    pipeline::PipelineOptions o;
    o.batch = 2;
    o.metric_sequences = 3;  // not a whole number of batches
    const auto r = pipeline::run_pipeline(dec, calib, plan, o, fb);

    torch::NoGradGuard no_grad;
    const auto x = fp.embed(calib.ids);
    model::Decoder fp_run(w, torch::kCPU, torch::kFloat32);
    const auto want = fp_run.run_block(0, x), got = dec.run_block(0, x);
    const double mse = (got - want).pow(2).mean().item<double>();
    QVERIFY2(std::abs(r.blocks[0].output_mse - mse) <= 1e-6 * mse, std::to_string(r.blocks[0].output_mse / mse).c_str());

    // Down's output error on the first 3 sequences, its input from the quantized block.
    torch::Tensor down_in;
    const auto hook = dec.add_linear_hook([&](const model::LinearSite& s, const torch::Tensor& in, const torch::Tensor&) {
      if (s.layer == 0 && s.role == LinearRole::Down) down_in = in.narrow(0, 0, 3);
    });
    dec.run_block(0, x);
    dec.remove_hook(hook);
    const auto& down = r.layers[static_cast<size_t>(model::linear_slot(w.config, 0, LinearRole::Down))];
    QCOMPARE(down.name, std::string("model.layers.0.mlp.down_proj"));
    if (method != "awq") {  // AWQ's reference is the scaled FP weight, not the checkpoint's
      const auto ref = torch::linear(down_in, w.tensors.at(down.name + ".weight"));
      const auto q = torch::linear(down_in, down.record->dequantized_weight());
      const double rel = (q - ref).pow(2).sum().item<double>() / ref.pow(2).sum().item<double>();
      QVERIFY2(std::abs(down.output_rel_mse - rel) <= 1e-5 * rel, std::to_string(down.output_rel_mse / rel).c_str());
    }
  }

  // A method that follows the FP trajectory (LWC) logs and records, per
  // block, the error the next block inherits: the quantized model's block
  // output against the FP model's own, both run from the embeddings here. A
  // method that does not (RTN) has no FP trajectory to report.
  void learnedMethodsReportTheErrorAgainstTheFpTrajectory() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 10);
    const auto calib = test::random_calibration(101, 4, 16, 6);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32), rtn(w, torch::kCPU, torch::kFloat32),
        fp(w, torch::kCPU, torch::kFloat32);
    auto choice = pipeline::QuantPlan::make_choice("lwc", {3, 32, false, 1.0}, "test");
    choice.params.set("epochs", int64_t{2}, "test");
    test::RecordingFeedback fb, plain;
    const auto learned = pipeline::run_pipeline(dec, calib, pipeline::QuantPlan(choice), {}, fb);
    const auto rounded = pipeline::run_pipeline(
        rtn, calib, pipeline::QuantPlan(pipeline::QuantPlan::make_choice("rtn", {3, 32, false, 1.0}, "test")), {},
        plain);

    torch::NoGradGuard no_grad;
    auto f = fp.embed(calib.ids), q = f;
    const std::string key = "against the FP model's own output ";
    for (int64_t l = 0; l < fp.num_layers(); ++l) {
      f = fp.run_block(l, f);
      q = dec.run_block(l, q);
      const double want = (q - f).pow(2).sum().item<double>() / f.pow(2).sum().item<double>();
      const auto prefix = "block " + std::to_string(l) + ":";
      const auto it = std::find_if(fb.lines.begin(), fb.lines.end(),
                                   [&](const std::string& line) { return line.rfind(prefix, 0) == 0; });
      QVERIFY2(it != fb.lines.end() && it->find(key) != std::string::npos, prefix.c_str());
      const double got = std::stod(it->substr(it->find(key) + key.size()));
      QVERIFY2(std::abs(got - want) <= 1e-3 * want, (*it + ", computed " + std::to_string(want)).c_str());
      const double recorded = learned.blocks[static_cast<size_t>(l)].fp_rel_mse;
      QVERIFY2(std::abs(recorded - want) <= 1e-4 * want,
               ("block result " + std::to_string(recorded) + ", computed " + std::to_string(want)).c_str());
    }
    for (const auto& line : plain.lines) QVERIFY2(line.find(key) == std::string::npos, line.c_str());
    for (const auto& b : rounded.blocks) QVERIFY(std::isnan(b.fp_rel_mse));
  }

  void cancelLeavesTheModelBitIdentical_data() {
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("when");
    QTest::newRow("rtn between blocks") << "rtn" << "progress";
    QTest::newRow("gptq between blocks") << "gptq" << "progress";
    QTest::newRow("awq inside a block") << "awq" << "log";
  }
  void cancelLeavesTheModelBitIdentical() {
    QFETCH(QString, method);
    QFETCH(QString, when);
    const auto w = test::make_tiny_llama(test::tiny_config(), 9);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    const auto before = test::block_tensors(dec);
    auto ids = torch::randint(0, 101, {1, 12}, torch::kLong);
    const auto logits = dec.forward(ids);
    test::RecordingFeedback fb;
    fb.set_min_interval(std::chrono::milliseconds(0));
    if (when == "progress")
      fb.on_step = [&](int64_t done) {
        if (done == 1) fb.cancel();
      };
    else
      fb.on_line = [&](const std::string& l) {
        if (l.find("AWQ layer 1") != std::string::npos) fb.cancel();
      };
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice(method.toStdString(), {3, 32, false, 1.0}, "test"));
    QVERIFY_THROWS_EXCEPTION(Cancelled,
                             pipeline::run_pipeline(dec, test::random_calibration(101, 4, 16, 1), plan, {}, fb));
    const auto after = test::block_tensors(dec);
    QCOMPARE(after.size(), before.size());
    for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
    QVERIFY(torch::equal(dec.forward(ids), logits));
  }

  // Paused after block 0, the run waits (no block 1 while paused) and then
  // finishes exactly as an uninterrupted run; a paused run can be cancelled.
  void pauseHoldsTheRunUntilResumedOrCancelled() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 9);
    const auto calibration = test::random_calibration(101, 4, 16, 1);
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("gptq", {3, 32, false, 1.0}, "test"));
    model::Decoder reference(w, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback plain;
    const auto expected = pipeline::run_pipeline(reference, calibration, plan, {}, plain);

    for (bool cancel : {false, true}) {
      model::Decoder dec(w, torch::kCPU, torch::kFloat32);
      const auto before = test::block_tensors(dec);
      test::RecordingFeedback fb;
      fb.set_min_interval(std::chrono::milliseconds(0));
      std::atomic<int64_t> blocks_done{0};
      fb.on_step = [&](int64_t done) {
        blocks_done = done;
        if (done == 1) fb.pause();
      };
      std::exception_ptr error;
      pipeline::PipelineResult result;
      std::thread worker([&] {
        try {
          result = pipeline::run_pipeline(dec, calibration, plan, {}, fb);
        } catch (...) {
          error = std::current_exception();
        }
      });
      QTRY_VERIFY_WITH_TIMEOUT(fb.is_paused() && blocks_done == 1, 10000);
      QTest::qWait(300);
      QCOMPARE(blocks_done.load(), int64_t{1});  // held at the pause
      if (cancel)
        fb.cancel();
      else
        fb.resume();
      worker.join();
      if (cancel) {
        QVERIFY_THROWS_EXCEPTION(Cancelled, std::rethrow_exception(error));
        const auto after = test::block_tensors(dec);
        for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
      } else {
        QVERIFY(!error);
        QCOMPARE(result.layers.size(), expected.layers.size());
        for (size_t i = 0; i < result.layers.size(); ++i)
          QVERIFY(torch::equal(result.layers[i].record->unpacked_codes(), expected.layers[i].record->unpacked_codes()));
      }
    }
  }

  void badPlanFailsBeforeAnyWork() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 2);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    const auto before = test::block_tensors(dec);
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {4, 64, false, 1.0}, "test"));
    plan.add_rule({"model.layers.1.mlp.down_proj", std::string("gptq"), {}, {}, {}, {}, {{"block_size", int64_t{0}}}, {}, {}});
    test::RecordingFeedback fb;
    try {
      pipeline::run_pipeline(dec, test::random_calibration(101, 2, 8, 1), plan, {}, fb);
      QFAIL("no error");
    } catch (const ConfigError& e) {
      QVERIFY2(QString(e.what()).contains("down_proj") && QString(e.what()).contains("block_size"), e.what());
    }
    const auto after = test::block_tensors(dec);
    for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
  }
};

QS_REGISTER_TEST(TestPipeline);
#include "test_pipeline.moc"

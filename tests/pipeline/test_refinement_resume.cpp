#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/methods/method_registry.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/run_journal.h"
#include "tests/methods/method_runs.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

const nlohmann::ordered_json kRilqRequest = {{"model", "tiny"}, {"then", "rilq"}};

// RTN then RILQ: 32 training sequences in 16 optimizer steps, a validation
// every second one, no early stop.
pipeline::QuantPlan rilq_plan() {
  auto c = pipeline::QuantPlan::make_choice("rtn", {3, 32, false, 1.0}, "test");
  c.then = "rilq";
  c.then_params = methods::refinement_or_throw("rilq", "test").default_params();
  for (const auto& [k, v] : test::with(test::kFastRilq, {{"max_steps", int64_t{32}}, {"patience", int64_t{100}}}))
    c.then_params.set(k, v, "test");
  return pipeline::QuantPlan(c);
}

pipeline::PipelineOptions rilq_options(pipeline::RunJournal* journal) {
  pipeline::PipelineOptions o;
  o.batch = 4;
  o.journal = journal;
  return o;
}

bool logged(const test::RecordingFeedback& fb, const std::string& part) {
  return std::any_of(fb.lines.begin(), fb.lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

// The refined model and numbers of `got` are those of `want` (but for the
// times, and the state saves, which differ from run to run).
void compare_runs(const pipeline::PipelineResult& got, const pipeline::PipelineResult& want) {
  QCOMPARE(got.layers.size(), want.layers.size());
  for (size_t i = 0; i < want.layers.size(); ++i) {
    const auto& g = *got.layers[i].record;
    const auto& e = *want.layers[i].record;
    QVERIFY2(torch::equal(g.lora_a, e.lora_a), want.layers[i].name.c_str());
    QVERIFY2(torch::equal(g.lora_b, e.lora_b), want.layers[i].name.c_str());
  }
  QCOMPARE(got.refinements.size(), size_t{1});
  for (const auto& [key, value] : want.refinements[0].reported)
    if (key != "rilq seconds" && key.rfind("rilq state", 0) != 0)
      QVERIFY2(got.refinements[0].reported.at(key) == value, key.c_str());
}

}  // namespace

class TestRefinementResume : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    weights_ = test::make_tiny_llama(test::three_block_config(), 13);
    calibration_ = test::random_calibration(101, 10, 16, 5);
    model::Decoder whole(weights_, torch::kCPU, torch::kFloat32);
    want_ = pipeline::run_pipeline(whole, calibration_, rilq_plan(), rilq_options(nullptr), fb_whole_);
    QCOMPARE(want_.refinements[0].reported.at("rilq optimizer steps"), 16.0);
  }

  // RILQ cancelled after its third validation keeps its training state in the
  // run's journal; the run that takes the journal goes on from the last
  // validation saved, trains only the steps after it, and ends with the
  // adapters, losses and counts of the run that never stopped.
  void aRefinementCutShortGoesOnFromItsLastValidation() {
    const auto dir = journal_dir("resume");
    cut_during_rilq(dir);
    if (QTest::currentTestFailed()) return;
    model::Decoder resumed(weights_, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    pipeline::RunJournal journal(dir, kRilqRequest);
    QCOMPARE(journal.finished_blocks(), int64_t{3});
    const auto got = pipeline::run_pipeline(resumed, calibration_, rilq_plan(), rilq_options(&journal), fb);

    // A save waits for 20 times its own duration of training, so the state
    // is that of the cut's validation or of one before it.
    const auto line = std::find_if(fb.lines.begin(), fb.lines.end(),
                                   [](const auto& l) { return l.rfind("rilq: going on from training step ", 0) == 0; });
    QVERIFY(line != fb.lines.end());
    const int optimizer_step = std::stoi(line->substr(line->find("(optimizer step ") + 16));
    QVERIFY2(optimizer_step >= 2 && optimizer_step <= 6 && optimizer_step % 2 == 0, line->c_str());
    QVERIFY2(line->find("training step " + std::to_string(2 * optimizer_step) + " ") != std::string::npos,
             line->c_str());
    QCOMPARE(fb.curves.at("rilq loss").size(), size_t(16 - optimizer_step));
    QVERIFY(got.refinements[0].reported.at("rilq state saves") >= 1);
    QVERIFY(!want_.refinements[0].reported.count("rilq state saves"));
    compare_runs(got, want_);
    journal.remove();
    QVERIFY(!fs::exists(dir));
  }

  // A training state that cannot be taken (here cut in half) is set aside,
  // the log says why and names the file, and RILQ starts over to the same end.
  void aDamagedTrainingStateIsStartedOver() {
    const auto dir = journal_dir("damaged");
    cut_during_rilq(dir);
    if (QTest::currentTestFailed()) return;
    pipeline::RunJournal journal(dir, kRilqRequest);
    const auto state = journal.refinement_state_file(0);
    fs::resize_file(state, fs::file_size(state) / 2);
    model::Decoder resumed(weights_, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const auto got = pipeline::run_pipeline(resumed, calibration_, rilq_plan(), rilq_options(&journal), fb);

    QVERIFY(
        logged(fb, "rilq: starting over: the training state of a run cut short cannot be taken: " + state.string()));
    QCOMPARE(fb.curves.at("rilq loss").size(), size_t{16});
    compare_runs(got, want_);
  }

  // A state that can no longer be written (a full disk; here a directory in
  // its place) stops the saving, not the training.
  void aStateThatCannotBeWrittenDoesNotStopTheTraining() {
    const auto dir = journal_dir("unwritable");
    pipeline::RunJournal journal(dir, kRilqRequest);
    fs::create_directories(journal.refinement_state_file(0));
    model::Decoder dec(weights_, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const auto got = pipeline::run_pipeline(dec, calibration_, rilq_plan(), rilq_options(&journal), fb);

    QVERIFY(logged(fb, "rilq: the training state is no longer saved"));
    QCOMPARE(std::count_if(fb.lines.begin(), fb.lines.end(),
                           [](const auto& l) { return l.find("no longer saved") != std::string::npos; }),
             std::ptrdiff_t{1});
    compare_runs(got, want_);
  }

  // The saved state is RILQ's own: other RILQ parameters do not go on from it.
  void aStateOfOtherParametersIsNotTaken() {
    const auto dir = journal_dir("other");
    cut_during_rilq(dir);
    if (QTest::currentTestFailed()) return;
    auto plan = rilq_plan();
    auto choice = plan.choice_for("");
    choice.then_params.set("lr", 1e-3, "test");
    model::Decoder dec(weights_, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    pipeline::RunJournal journal(dir, kRilqRequest);
    pipeline::run_pipeline(dec, calibration_, pipeline::QuantPlan(choice), rilq_options(&journal), fb);
    QVERIFY(logged(fb, "__metadata__.key"));
    QCOMPARE(fb.curves.at("rilq loss").size(), size_t{16});
  }

 private:
  // A journaled run of rilq_plan() cancelled after RILQ's third validation
  // (optimizer step 6, training step 12), in tmp_/NAME.journal.
  fs::path journal_dir(const char* name) const { return tmp_.filePath(QString(name) + ".journal").toStdString(); }
  void cut_during_rilq(const fs::path& dir) {
    model::Decoder cut(weights_, torch::kCPU, torch::kFloat32);
    pipeline::RunJournal journal(dir, kRilqRequest);
    test::RecordingFeedback fb;
    fb.on_point = [&](const std::string& series) {
      if (series == "rilq validation loss" && fb.curves[series].size() == 4) fb.cancel();
    };
    const auto before = test::block_tensors(cut);
    QVERIFY_THROWS_EXCEPTION(Cancelled,
                             pipeline::run_pipeline(cut, calibration_, rilq_plan(), rilq_options(&journal), fb));
    const auto after = test::block_tensors(cut);
    for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
    QVERIFY(journal.has_refinement_state());
  }

  QTemporaryDir tmp_;
  model::ModelWeights weights_;
  text::CalibrationSet calibration_;
  test::RecordingFeedback fb_whole_;
  pipeline::PipelineResult want_;
};

QS_REGISTER_TEST(TestRefinementResume);
#include "test_refinement_resume.moc"

#include <QDir>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/small_files.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/run_journal.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// LWC (which follows the FP trajectory) everywhere but one linear kept dense.
pipeline::QuantPlan lwc_plan() {
  auto choice = pipeline::QuantPlan::make_choice("lwc", {3, 32, false, 1.0}, "test");
  choice.params.set("epochs", int64_t{2}, "test");
  pipeline::QuantPlan plan(choice);
  plan.add_rule({"model.layers.1.mlp.down_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
  return plan;
}

pipeline::QuantPlan rtn_plan() {
  return pipeline::QuantPlan(pipeline::QuantPlan::make_choice("rtn", {4, 32, false, 1.0}, "test"));
}

pipeline::PipelineOptions journaled(pipeline::RunJournal* journal) {
  pipeline::PipelineOptions o;
  o.batch = 3;
  o.analyses = true;
  o.journal = journal;
  return o;
}

const ojson kRequest = {{"model", "tiny"}, {"seed", 0}};

}  // namespace

class TestRunJournal : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void init() { QVERIFY(tmp_.isValid()); }

  // A run cancelled after block 1 keeps blocks 0 and 1 in its journal; the
  // run that takes them quantizes block 2 alone and ends with the model,
  // metrics and analyses of a run that was never interrupted.
  void anInterruptedRunGoesOnToTheSameModel() {
    const auto w = test::make_tiny_llama(test::three_block_config(), 12);
    const auto calib = test::random_calibration(101, 5, 16, 4);
    model::Decoder whole(w, torch::kCPU, torch::kFloat32), cut(w, torch::kCPU, torch::kFloat32),
        resumed(w, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb_whole, fb_cut, fb_resumed;
    const auto want = pipeline::run_pipeline(whole, calib, lwc_plan(), journaled(nullptr), fb_whole);

    const fs::path dir = tmp_.filePath("run.journal").toStdString();
    {
      pipeline::RunJournal journal(dir, kRequest);
      auto options = journaled(&journal);
      options.on_block = [](const pipeline::BlockResult& b) {
        if (b.layer == 1) throw Cancelled();
      };
      const auto before = test::block_tensors(cut);
      QVERIFY_THROWS_EXCEPTION(Cancelled, pipeline::run_pipeline(cut, calib, lwc_plan(), options, fb_cut));
      const auto after = test::block_tensors(cut);
      for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
      QCOMPARE(journal.finished_blocks(), int64_t{2});
    }

    pipeline::RunJournal journal(dir, kRequest);
    QCOMPARE(journal.finished_blocks(), int64_t{2});
    const auto got = pipeline::run_pipeline(resumed, calib, lwc_plan(), journaled(&journal), fb_resumed);
    QCOMPARE(fb_resumed.curves.count("layer 0 lwc loss"), size_t{0});
    QCOMPARE(fb_resumed.curves.count("layer 1 lwc loss"), size_t{0});
    QCOMPARE(fb_resumed.curves.count("layer 2 lwc loss"), size_t{1});
    QVERIFY(std::any_of(fb_resumed.lines.begin(), fb_resumed.lines.end(),
                        [](const std::string& l) { return l.rfind("block 1: taken from the journal", 0) == 0; }));
    QCOMPARE(journal.finished_blocks(), int64_t{3});

    QCOMPARE(got.blocks.size(), want.blocks.size());
    for (size_t b = 0; b < want.blocks.size(); ++b) {
      QCOMPARE(got.blocks[b].output_mse, want.blocks[b].output_mse);
      QCOMPARE(got.blocks[b].output_rel_mse, want.blocks[b].output_rel_mse);
      QCOMPARE(got.blocks[b].fp_rel_mse, want.blocks[b].fp_rel_mse);
    }
    QCOMPARE(got.layers.size(), want.layers.size());
    for (size_t i = 0; i < want.layers.size(); ++i) {
      const auto& g = got.layers[i];
      const auto& e = want.layers[i];
      QCOMPARE(g.name, e.name);
      QCOMPARE(g.choice.method, e.choice.method);
      QCOMPARE(bool(g.record), bool(e.record));
      if (!e.record) continue;
      QVERIFY2(torch::equal(g.record->unpacked_codes().to(torch::kInt32), e.record->unpacked_codes().to(torch::kInt32)),
               e.name.c_str());
      QVERIFY2(torch::equal(g.record->scales, e.record->scales), e.name.c_str());
      QCOMPARE(g.weight_mse, e.weight_mse);
      QCOMPARE(g.output_rel_mse, e.output_rel_mse);
      QCOMPARE(g.analyses.size(), e.analyses.size());
      for (const auto& [key, t] : e.analyses) QVERIFY2(torch::equal(g.analyses.at(key), t), key.c_str());
    }
    const auto ids = torch::randint(0, 101, {2, 10}, torch::kLong);
    QVERIFY(torch::equal(resumed.forward(ids), whole.forward(ids)));
    QCOMPARE(resumed.linear(1, model::LinearRole::Down)->dense_weight().sizes(),
             whole.linear(1, model::LinearRole::Down)->dense_weight().sizes());

    journal.remove();
    QVERIFY(!fs::exists(dir));
  }

  // A journal goes on only with the run that wrote it.
  void aJournalOfAnotherRunIsRefused() {
    const fs::path dir = tmp_.filePath("other.journal").toStdString();
    const auto w = test::make_tiny_llama(test::tiny_config(), 3);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    pipeline::RunJournal journal(dir, kRequest);
    test::RecordingFeedback fb;
    pipeline::run_pipeline(dec, test::random_calibration(101, 2, 8, 1), rtn_plan(), journaled(&journal), fb);

    const auto seed = test::error_of<ArgumentError>([&] {
      pipeline::RunJournal j(dir, {{"model", "tiny"}, {"seed", 1}});
    });
    QVERIFY2(seed.contains("with seed 0, not 1") && seed.contains(QString::fromStdString(dir.string())),
             qPrintable(seed));
    const auto fewer = test::error_of<ArgumentError>([&] { pipeline::RunJournal j(dir, {{"model", "tiny"}}); });
    QVERIFY2(fewer.contains("with seed 0, not unset"), qPrintable(fewer));
    const auto more = test::error_of<ArgumentError>([&] {
      pipeline::RunJournal j(dir, {{"model", "tiny"}, {"seed", 0}, {"dtype", "bf16"}});
    });
    QVERIFY2(more.contains("with dtype unset, not \"bf16\""), qPrintable(more));

    const fs::path foreign = tmp_.filePath("notes").toStdString();
    fs::create_directories(foreign);
    std::ofstream(foreign / "mine.txt") << "keep";
    const auto taken = test::error_of<IoError>([&] { pipeline::RunJournal j(foreign, kRequest); });
    QVERIFY2(taken.contains("is not a run journal"), qPrintable(taken));
    QVERIFY(fs::exists(foreign / "mine.txt"));
  }

  // A journal that can no longer be written (a full disk; here its
  // directory replaced by a file after block 0) stops; the run does not.
  void aJournalThatCannotBeWrittenDoesNotStopTheRun() {
    const fs::path dir = tmp_.filePath("full.journal").toStdString();
    const auto w = test::make_tiny_llama(test::three_block_config(), 3);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    pipeline::RunJournal journal(dir, kRequest);
    test::RecordingFeedback fb;
    fb.on_line = [&](const std::string& line) {
      if (line.rfind("block 0:", 0) != 0) return;
      // QDir: the PyPI libtorch exports a std::filesystem::remove_all that crashes here.
      QDir(QString::fromStdString(dir.string())).removeRecursively();
      std::ofstream(dir) << "not a directory";
    };
    const auto result =
        pipeline::run_pipeline(dec, test::random_calibration(101, 2, 8, 1), rtn_plan(), journaled(&journal), fb);

    QCOMPARE(result.blocks.size(), size_t{3});
    QCOMPARE(result.layers.back().layer, int64_t{2});
    QVERIFY(result.layers.back().record);
    const auto stop = std::find_if(fb.lines.begin(), fb.lines.end(),
                                   [](const auto& l) { return l.find("the run journal stops") != std::string::npos; });
    QVERIFY(stop != fb.lines.end());
    QVERIFY2(stop->find("at block 1") != std::string::npos && stop->find(dir.string()) != std::string::npos &&
                 stop->find("goes on from block 1") != std::string::npos,
             stop->c_str());
    QCOMPARE(std::count_if(fb.lines.begin(), fb.lines.end(),
                           [](const auto& l) { return l.find("the run journal stops") != std::string::npos; }),
             std::ptrdiff_t{1});
  }

  // The calibration's token ids come from the tokenizer, which the model
  // directory's fingerprint leaves out: the request pins its files.
  void aRequestPinsTheModelsTokenizer() {
    const fs::path dir = tmp_.filePath("model").toStdString();
    test::write_hf_checkpoint(test::make_tiny_llama(test::tiny_config(), 3), dir);
    test::write_byte_tokenizer(dir);
    const fs::path text = tmp_.filePath("calib.txt").toStdString();
    std::ofstream(text) << "some calibration text";
    pipeline::RunIdentity run;
    run.model = dir;
    run.plan_json = lwc_plan().to_json();
    run.calibration_text = text;
    const auto before = pipeline::journal_request(run);

    std::ofstream(dir / "tokenizer_config.json") << R"({"add_bos_token": true})";
    const auto with_config = pipeline::journal_request(run);
    QVERIFY(with_config["model_fingerprint"] == before["model_fingerprint"]);
    QCOMPARE(with_config["tokenizer_fingerprint"].size(), before["tokenizer_fingerprint"].size() + 1);
    QVERIFY(pipeline::journal_name(with_config) != pipeline::journal_name(before));
    std::ofstream(dir / "tokenizer_config.json") << R"({"add_bos_token": false})";
    QVERIFY(pipeline::journal_request(run)["tokenizer_fingerprint"] != with_config["tokenizer_fingerprint"]);

    // A lone .safetensors file's tokenizer is the one beside it.
    auto by_dir = run;
    by_dir.model = dir;
    run.model = dir / "model.safetensors";
    QVERIFY(pipeline::journal_request(run)["tokenizer_fingerprint"] ==
            pipeline::journal_request(by_dir)["tokenizer_fingerprint"]);

    fs::remove(dir / "tokenizer.json");
    run.model = dir;
    const auto none = test::error_of<IoError>([&] { pipeline::journal_request(run); });
    QVERIFY2(none.contains("no tokenizer.json") && none.contains(QString::fromStdString(dir.string())),
             qPrintable(none));
  }

  // A damaged or mismatched journal is refused naming its file and field,
  // before the model is touched.
  void aDamagedJournalNamesItsFileAndField() {
    const fs::path dir = tmp_.filePath("damaged.journal").toStdString();
    const auto w = test::make_tiny_llama(test::tiny_config(), 5);
    const auto calib = test::random_calibration(101, 2, 8, 1);
    const auto rtn = rtn_plan();
    {
      model::Decoder dec(w, torch::kCPU, torch::kFloat32);
      pipeline::RunJournal journal(dir, kRequest);
      test::RecordingFeedback fb;
      pipeline::run_pipeline(dec, calib, rtn, journaled(&journal), fb);
    }
    const auto run_on_journal = [&](const model::ModelWeights& weights) {
      model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
      const auto before = test::block_tensors(dec);
      test::RecordingFeedback fb;
      pipeline::RunJournal journal(dir, kRequest);
      const auto message =
          test::error_of<FormatError>([&] { pipeline::run_pipeline(dec, calib, rtn, journaled(&journal), fb); });
      const auto after = test::block_tensors(dec);
      for (size_t i = 0; i < before.size(); ++i)
        if (!torch::equal(before[i], after[i])) return QString("the decoder changed");
      return message;
    };

    auto other = test::tiny_config();
    other.intermediate_size = 128;
    const auto shapes = run_on_journal(test::make_tiny_llama(other, 5));
    QVERIFY2(shapes.contains("block_0.safetensors") || shapes.contains("journal.json"), qPrintable(shapes));
    QVERIFY2(shapes.contains("where the model has"), qPrintable(shapes));

    const auto block = dir / "block_1.safetensors";
    const auto full = fs::file_size(block);
    fs::resize_file(block, full / 2);
    const auto truncated = run_on_journal(w);
    QVERIFY2(truncated.contains("block_1.safetensors"), qPrintable(truncated));

    auto doc = ojson::parse(io::read_small_file(dir / "journal.json"));
    doc["blocks"][1]["layer"] = 5;
    io::write_file_atomically(dir / "journal.json", doc.dump());
    const auto order = test::error_of<FormatError>([&] { pipeline::RunJournal j(dir, kRequest); });
    QVERIFY2(order.contains("journal.json") && order.contains("blocks[1].layer"), qPrintable(order));

    doc["blocks"][1]["layer"] = 1;
    doc["blocks"][0]["output_rel_mse"] = "small";
    io::write_file_atomically(dir / "journal.json", doc.dump());
    fs::remove(block);
    const auto metric = run_on_journal(w);
    QVERIFY2(metric.contains("journal.json") && metric.contains("blocks[0].output_rel_mse"), qPrintable(metric));
  }

  // Besides the current journal, the most recently written ones stay; older
  // ones go, and nothing in the directory that is not a journal is touched.
  void pruningKeepsTheCurrentAndTheMostRecentJournals() {
    const fs::path root = tmp_.filePath("journals").toStdString();
    const auto now = fs::file_time_type::clock::now();
    for (int i = 0; i < 5; ++i) {
      const auto dir = root / ("run-" + std::to_string(i));
      fs::create_directories(dir);
      std::ofstream(dir / "journal.json") << "{}";
      std::ofstream(dir / "block_0.safetensors") << "x";
      fs::last_write_time(dir / "journal.json", now - std::chrono::hours(10 - i));
    }
    fs::create_directories(root / "notes");
    std::ofstream(root / "notes" / "journal.json") << "mine";
    std::ofstream(root / "run-1" / "mine.txt") << "keep";
    pipeline::prune_journals(root, root / "run-0", 2);
    QVERIFY(fs::exists(root / "run-0" / "journal.json"));  // current, though oldest
    QVERIFY(fs::exists(root / "run-4" / "journal.json"));
    QVERIFY(fs::exists(root / "run-3" / "journal.json"));
    QVERIFY(!fs::exists(root / "run-2"));
    QVERIFY(!fs::exists(root / "run-1" / "journal.json") && !fs::exists(root / "run-1" / "block_0.safetensors"));
    QVERIFY(fs::exists(root / "run-1" / "mine.txt"));
    QVERIFY(fs::exists(root / "notes" / "journal.json"));
  }

  // Block files without journal.json are a first block cut short while it
  // was recorded: the journal starts over rather than refusing its directory.
  void aFirstBlockCutShortIsStartedOver() {
    const fs::path dir = tmp_.filePath("cut.journal").toStdString();
    fs::create_directories(dir);
    std::ofstream(dir / "block_0.safetensors") << "half";
    std::ofstream(dir / "block_0.safetensors.tmp-1") << "half";
    pipeline::RunJournal journal(dir, kRequest);
    QCOMPARE(journal.finished_blocks(), int64_t{0});
    QVERIFY(!fs::exists(dir));
  }

  // A metric that came out NaN or infinite is stored as null and read back
  // as NaN, not refused as damage.
  void metricsThatAreNotFiniteReadBackAsNaN() {
    const fs::path dir = tmp_.filePath("nan.journal").toStdString();
    const auto w = test::make_tiny_llama(test::tiny_config(), 7);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    pipeline::RunJournal journal(dir, kRequest);
    pipeline::BlockResult b;
    b.output_mse = std::numeric_limits<double>::quiet_NaN();
    b.output_rel_mse = std::numeric_limits<double>::infinity();
    b.seconds = 2.5;
    std::vector<pipeline::LayerResult> layers(model::kLinearRoles.size());
    for (size_t i = 0; i < layers.size(); ++i) {
      layers[i].role = model::kLinearRoles[i];
      layers[i].name = model::linear_name(0, layers[i].role);
    }
    journal.record(dec, b, layers);
    const auto back = pipeline::RunJournal(dir, kRequest).read(dec);
    QCOMPARE(back.blocks.size(), size_t{1});
    QVERIFY(std::isnan(back.blocks[0].output_mse));
    QVERIFY(std::isnan(back.blocks[0].output_rel_mse));
    QVERIFY(std::isnan(back.blocks[0].fp_rel_mse));
    QCOMPARE(back.blocks[0].seconds, 2.5);
  }

 private:
  QTemporaryDir tmp_;
};

QS_REGISTER_TEST(TestRunJournal);
#include "test_run_journal.moc"

#include <QTemporaryDir>
#include <QTest>

#include "core/checkpoint/model_loader.h"
#include "core/io/mapped_tensor.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

// A run over a decoder that keeps one block resident quantizes to the same
// records, reports the same numbers and leaves a model that computes the same
// logits as a run that keeps every block.
class TestStreamedPipeline : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void streamedRunEqualsResidentRun_data() {
    QTest::addColumn<QString>("method");
    QTest::addColumn<bool>("spill");
    QTest::newRow("gptq") << "gptq" << false;
    QTest::newRow("awq") << "awq" << false;
    QTest::newRow("lwc") << "lwc" << false;
    QTest::newRow("gptq, codes spilled") << "gptq" << true;
    QTest::newRow("awq, codes spilled") << "awq" << true;
  }
  void streamedRunEqualsResidentRun() {
    QFETCH(QString, method);
    QFETCH(bool, spill);
    QTemporaryDir dir;
    test::write_hf_checkpoint(test::make_tiny_llama(test::three_block_config(), 4), dir.path().toStdString(),
                              torch::kBFloat16);
    const auto w = checkpoint::load_model(dir.path().toStdString());
    auto choice = pipeline::QuantPlan::make_choice(method.toStdString(), {3, 32, false, 1.0}, "test");
    if (method == "lwc") choice.params.set("epochs", int64_t{1}, "test");
    const pipeline::QuantPlan plan(choice);
    const auto calib = test::random_calibration(101, 4, 16, 9);
    pipeline::PipelineOptions options;
    options.batch = 2;

    model::Decoder resident(w, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const auto expected = pipeline::run_pipeline(resident, calib, plan, options, fb);
    model::Decoder streamed(w, torch::kCPU, torch::kFloat32);
    streamed.set_resident_blocks(1);
    QTemporaryDir spill_dir;
    if (spill) options.spill_dir = spill_dir.path().toStdString();
    const auto got = pipeline::run_pipeline(streamed, calib, plan, options, fb);
    if (spill) {
      for (const auto& lr : got.layers) QVERIFY2(io::is_mapped(lr.record->packed_codes), lr.name.c_str());
      // The files went as soon as they were mapped.
      QVERIFY(std::filesystem::is_empty(spill_dir.path().toStdString()));
    }

    QCOMPARE(got.layers.size(), expected.layers.size());
    for (size_t i = 0; i < got.layers.size(); ++i) {
      const auto& a = *got.layers[i].record;
      const auto& b = *expected.layers[i].record;
      QVERIFY2(torch::equal(a.unpacked_codes(), b.unpacked_codes()), got.layers[i].name.c_str());
      QVERIFY2(torch::equal(a.scales, b.scales), got.layers[i].name.c_str());
      QCOMPARE(got.layers[i].output_rel_mse, expected.layers[i].output_rel_mse);
    }
    for (size_t i = 0; i < got.blocks.size(); ++i)
      QCOMPARE(got.blocks[i].output_rel_mse, expected.blocks[i].output_rel_mse);
    const auto ids = calib.ids.narrow(0, 0, 2);
    QVERIFY(torch::equal(streamed.forward(ids), resident.forward(ids)));
  }
};

QS_REGISTER_TEST(TestStreamedPipeline);
#include "test_streamed_pipeline.moc"

#include <QTest>

#include "core/io/run_record.h"
#include "tests/support/test_registry.h"

using namespace qs;

// The recorded run as quantize and refine write it, and what is left of a
// record with fields of the wrong type (nothing throws: it only informs).
class TestRunRecord : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void readsWhatQuantizeAndRefineWrite() {
    const auto r = io::run_record(R"({
      "method": "awq", "bits": 4, "group": 128, "symmetric": false,
      "calibration": {"text": "calib.txt", "nsamples": 32, "seqlen": 512, "seed": 0},
      "eval": {"ppl": 27.39, "ppl_fp": 21.29, "text": "wiki.raw"},
      "refinements": [
        {"method": "rilq", "params": {"lr": 0.001, "rank": 64}, "eval": {"ppl": 25.96, "text": "wiki.raw"}},
        {"method": "lqer"}]})");
    QCOMPARE(r.method, std::string("awq"));
    QCOMPARE(*r.bits, int64_t{4});
    QCOMPARE(*r.group, int64_t{128});
    QCOMPARE(*r.symmetric, false);
    QCOMPARE(r.calibration_text, std::string("calib.txt"));
    QCOMPARE(r.calibration_samples, int64_t{32});
    QCOMPARE(r.calibration_seqlen, int64_t{512});
    QCOMPARE(r.eval.ppl, 27.39);
    QCOMPARE(r.eval.ppl_fp, 21.29);
    QCOMPARE(r.refinements.size(), size_t{2});
    QCOMPARE(r.refinements[0].method, std::string("rilq"));
    QCOMPARE(r.refinements[0].params["rank"].get<int>(), 64);
    QVERIFY(r.refinements[1].params.is_null());
    // The last perplexity measured is the first refinement's (the second measured
    // none), beside the FP model's the run measured.
    QCOMPARE(r.last_eval().ppl, 25.96);
    QCOMPARE(r.last_eval().ppl_fp, 21.29);
    QCOMPARE(r.last_eval().text, std::string("wiki.raw"));
  }

  void leavesOutWhatItCannotRead() {
    auto r = io::run_record(R"({"method": 3, "bits": "4", "group": 12.5, "symmetric": "no",
      "calibration": "calib.txt", "eval": {"ppl": "low"}, "refinements": [7, {"params": [1]}]})");
    QVERIFY(r.method.empty());
    QVERIFY(!r.bits && !r.group && !r.symmetric);
    QVERIFY(r.calibration_text.empty());
    QVERIFY(!r.last_eval().measured());
    QCOMPARE(r.refinements.size(), size_t{2});
    QVERIFY(r.refinements[1].method.empty() && r.refinements[1].params.is_null());
    for (const char* text : {"", "not json", "[1, 2]", "{\"method\": "}) {
      r = io::run_record(text);
      QVERIFY(r.method.empty() && r.refinements.empty() && !r.eval.measured());
    }
  }
};

QS_REGISTER_TEST(TestRunRecord);
#include "test_run_record.moc"

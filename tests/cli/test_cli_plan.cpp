#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_fixtures.h"
#include "tests/cli/cli_run.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

// `plan` states a run's memory without running it, and `quantize` refuses a
// run its plan says cannot fit, before reading the calibration or writing
// anything.
class TestCliPlan : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    QVERIFY(test::write_cli_fixture(path("fp"), path("calib.txt"),
                                    "A plan says what a run will hold before it holds it.\n", 40));
  }

  void planPrintsTheRunsMemory() {
    const auto r = test::run_cli({"plan", path("fp"), "--method", "gptq", "--nsamples", "4", "--seqlen", "16",
                                  "--layers", "80", "--resident-blocks", "1"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY2(r.err.contains("GPTQ's largest phase") && r.err.contains("host peak"), qPrintable(r.err));
    const auto j = nlohmann::json::parse(r.out.trimmed().split('\n').last().toStdString());
    QCOMPARE(j["layers"].get<int64_t>(), int64_t{80});
    QCOMPARE(j["resident_blocks"].get<int64_t>(), int64_t{1});
    QVERIFY(j["modeled"].get<bool>());
    int64_t sum = 0;
    for (const auto& i : j["items"]) sum += i["device_bytes"].get<int64_t>() + i["host_bytes"].get<int64_t>();
    QCOMPARE(j["host_peak_bytes"].get<int64_t>(), sum);
  }

  void aRunThatCannotFitIsRefused() {
    // 2^20 sequences of 2^16 tokens: terabytes of activations on any machine.
    const auto r = test::run_cli({"quantize", path("fp"), "--method", "rtn", "--bits", "4", "--group", "32", "--calib",
                                  path("calib.txt"), "--nsamples", "1048576", "--seqlen", "65536", "--out",
                                  path("out")});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("needs more memory than the machine has") && r.err.contains("calibration activations"),
             qPrintable(r.err));
    QVERIFY(!QDir(path("out")).exists());
    QVERIFY(!QDir(path("out.journal")).exists());
  }

 private:
  QString path(const QString& name) const { return tmp_.filePath(name); }
  QTemporaryDir tmp_;
};

QS_REGISTER_TEST(TestCliPlan);
#include "test_cli_plan.moc"

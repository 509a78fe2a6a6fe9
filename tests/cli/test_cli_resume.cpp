#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "tests/cli/cli_run.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

// RILQ validating every second optimizer step for 200 sequences.
const QString kRilq = R"({"method": "rilq", "params": {"rank": 4, "grad_accum": 2, "eval_every": 2,)"
                      R"( "max_steps": 200, "patience": 1000, "lr": 0.001}})";

}  // namespace

// `quantscope-cli quantize` killed mid-run, as a crash or a lost session ends
// it, and run again: refused without --resume, refused for another
// calibration, and with --resume it quantizes only the blocks left (or
// trains RILQ on from its last saved validation) and saves the checkpoint an
// uninterrupted run saves.
class TestCliResume : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    QDir().mkpath(path("fp"));
    auto c = test::tiny_config();
    c.vocab_size = 260;
    test::write_hf_checkpoint(test::make_tiny_llama(c, 6), path("fp").toStdString());
    test::write_byte_tokenizer(path("fp").toStdString());
    QFile text(path("calib.txt"));
    QVERIFY(text.open(QIODevice::WriteOnly));
    for (int i = 0; i < 60; ++i) text.write("A journal keeps each finished block, so nothing done is lost.\n");
    text.close();
    // Block 1 long enough that the kill lands inside it on a loaded machine.
    QFile config(path("slow.json"));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write(R"({"layers": {"model.layers.1.*": {"params": {"epochs": 150}}}})");
    config.close();
    // What refine() refines.
    const auto rtn = cli(quantize_args(path("rtn"), {"--method", "rtn", "--bits", "3", "--group", "32"}));
    QVERIFY2(rtn.code == 0, qPrintable(rtn.err));
  }

  // Streamed (one block resident, finished codes spilled beside the journal)
  // or not, the resumed run saves what an uninterrupted resident run saves.
  void aKilledRunGoesOnWithResume_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QStringList>("extra");
    QTest::newRow("every block resident") << "lwc" << QStringList{};
    QTest::newRow("one block resident") << "lwc-streamed" << QStringList{"--resident-blocks", "1"};
  }
  void aKilledRunGoesOnWithResume() {
    QFETCH(QString, name);
    QFETCH(QStringList, extra);
    const QString journal = path(name + ".journal");
    QVERIFY2(kill_in_block_1(quantize(path(name)) + extra), "the run was not killed inside block 1");
    QVERIFY(QFile::exists(journal + "/journal.json"));
    QVERIFY(QFile::exists(journal + "/block_0.safetensors"));
    QVERIFY(!QFile::exists(journal + "/block_1.safetensors"));

    const auto again = cli(quantize(path(name)) + extra);
    QVERIFY(again.code != 0);
    QVERIFY2(
        again.err.contains(journal + " holds 1 finished block of an interrupted run") && again.err.contains("--resume"),
        qPrintable(again.err));

    const auto other = cli(quantize(path(name)) + extra + QStringList{"--seed", "7", "--resume"});
    QVERIFY(other.code != 0);
    QVERIFY2(other.err.contains("journal of a run with calibration"), qPrintable(other.err));

    const auto resumed = cli(quantize(path(name)) + extra + QStringList{"--resume"});
    QVERIFY2(resumed.code == 0, qPrintable(resumed.err));
    QVERIFY2(resumed.err.contains("block 0: taken from the journal"), qPrintable(resumed.err));
    QVERIFY2(!resumed.err.contains("layer 0 lwc epoch"), qPrintable(resumed.err));
    const auto summary = nlohmann::json::parse(resumed.out.trimmed().split('\n').last().toStdString());
    QCOMPARE(summary["resumed_blocks"].get<int64_t>(), int64_t{1});
    QVERIFY(!QFile::exists(journal));

    if (!QFile::exists(path("whole/model.safetensors"))) {
      const auto whole = cli(quantize(path("whole")));
      QVERIFY2(whole.code == 0, qPrintable(whole.err));
      QVERIFY(!QFile::exists(path("whole.journal")));
    }
    same_tensors(path(name + "/model.safetensors"), path("whole/model.safetensors"));
  }

  // Killed while RILQ trains (after quantize's last block, or in refine over
  // a checkpoint): without --resume the journal says what it holds; with it
  // RILQ goes on from its last saved validation, and the checkpoint is the
  // uninterrupted run's, adapters included.
  void aKilledRilqGoesOnWithResume_data() {
    QTest::addColumn<QString>("command");
    QTest::addColumn<QString>("refusal");
    QTest::newRow("quantize --then rilq") << "quantize"
                                          << " holds 2 finished blocks and its refinement's training state of an "
                                             "interrupted run of this command: add --resume to go on with the "
                                             "refinement";
    QTest::newRow("refine") << "refine"
                            << " holds the training state of an interrupted run of this command: add --resume";
  }

  void aKilledRilqGoesOnWithResume() {
    QFETCH(QString, command);
    QFETCH(QString, refusal);
    const auto args = [&](const QString& out) { return command == "refine" ? refine(out) : then_rilq(out); };
    const QString out = path(command), journal = out + ".journal";
    QVERIFY2(kill_after(args(out), "rilq step 4: validation loss"), "the run was not killed while RILQ trained");
    QVERIFY(QFile::exists(journal + "/refinement_0.safetensors"));

    const auto again = cli(args(out));
    QVERIFY(again.code != 0);
    QVERIFY2(again.err.contains(journal + refusal), qPrintable(again.err));

    const auto resumed = cli(args(out) + QStringList{"--resume"});
    QVERIFY2(resumed.code == 0, qPrintable(resumed.err));
    QVERIFY2(resumed.err.contains("rilq: going on from training step"), qPrintable(resumed.err));
    QVERIFY(!QFile::exists(journal));

    const auto whole = cli(args(out + "-whole"));
    QVERIFY2(whole.code == 0, qPrintable(whole.err));
    QVERIFY(!QFile::exists(out + "-whole.journal"));
    QVERIFY(io::SafetensorsFile((out + "-whole/model.safetensors").toStdString())
                .find("model.layers.1.mlp.down_proj.lora_b"));
    same_tensors(out + "/model.safetensors", out + "-whole/model.safetensors");
  }

 private:
  QString path(const QString& name) const { return tmp_.filePath(name); }

  // Every tensor of `b` is in `a`, equal, and `a` has no other.
  static void same_tensors(const QString& a_path, const QString& b_path) {
    const io::SafetensorsFile a(a_path.toStdString());
    const io::SafetensorsFile b(b_path.toStdString());
    QCOMPARE(a.entries().size(), b.entries().size());
    for (const auto& e : b.entries()) {
      QVERIFY2(a.find(e.name), e.name.c_str());
      QVERIFY2(torch::equal(a.load(e.name), b.load(e.name)), e.name.c_str());
    }
  }

  // RILQ over the RTN checkpoint in path("rtn"), as then_rilq() trains it.
  QStringList refine(const QString& out) const {
    return {"refine",     path("rtn"), "--then",   kRilq, "--calib", path("calib.txt"),
            "--nsamples", "4",         "--seqlen", "24",  "--out",   out};
  }

  // `method` on the tiny model and 4 x 24 calibration tokens, saved to `out`.
  QStringList quantize_args(const QString& out, const QStringList& method) const {
    return QStringList{"quantize",        path("fp"),   "--out", out,        "--calib",
                       path("calib.txt"), "--nsamples", "4",     "--seqlen", "24"} +
           method;
  }

  // LWC, slow in block 1.
  QStringList quantize(const QString& out) const {
    return quantize_args(out,
                         {"--method", "lwc", "--bits", "3", "--group", "32", "--layers-config", path("slow.json")});
  }

  // RTN, then RILQ.
  QStringList then_rilq(const QString& out) const {
    return quantize_args(out, {"--method", "rtn", "--bits", "3", "--group", "32", "--then", kRilq});
  }

  // Starts the run and kills it (SIGKILL) once block 1's first epoch is
  // logged, 149 epochs before it ends; true when it was still running then.
  static bool kill_in_block_1(const QStringList& args) { return kill_after(args, "layer 1 lwc epoch 1/"); }

  // Starts the run and kills it (SIGKILL) once `line` is logged; true when
  // it was still running then.
  static bool kill_after(const QStringList& args, const char* line) {
    QProcess p;
    p.setReadChannel(QProcess::StandardError);
    p.start(QS_CLI_PATH, args);
    QByteArray err;
    while (!err.contains(line)) {
      if (!p.waitForReadyRead(60000)) return false;
      err += p.readAllStandardError();
    }
    const bool running = p.state() == QProcess::Running;
    p.kill();
    p.waitForFinished(10000);
    return running && p.exitStatus() == QProcess::CrashExit;
  }

  static test::CliRun cli(const QStringList& args) { return test::run_cli(args); }

  QTemporaryDir tmp_;
};

QS_REGISTER_TEST(TestCliResume);
#include "test_cli_resume.moc"

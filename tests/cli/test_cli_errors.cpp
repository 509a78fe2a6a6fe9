#include <sys/stat.h>

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_fixtures.h"
#include "tests/cli/cli_run.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

// However a file is wrong, quantscope-cli ends with an error message and exit
// code 1; a crash (std::terminate) reads as code -1 here.
class TestCliErrors : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    QVERIFY(test::write_cli_fixture(path("fp"), path("calib.txt"), "Every wrong file gets a clear error.\n", 20));
    auto r = test::run_cli({"quantize", path("fp"), "--method", "rtn", "--bits", "4", "--group", "32", "--calib",
                            path("calib.txt"), "--nsamples", "2", "--seqlen", "16", "--out", path("rtn")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = test::run_cli({"export", path("rtn"), "--format", "gptq", "--out", path("gptq")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
  }

  // A quantization_config field of the wrong type (a string for `sym`).
  void aFieldOfTheWrongTypeIsAnErrorNotACrash() {
    const auto config = path("gptq/config.json").toStdString();
    nlohmann::json j;
    std::ifstream(config) >> j;
    j["quantization_config"]["sym"] = "yes";
    std::ofstream(config, std::ios::trunc) << j.dump(2);
    const auto r = test::run_cli({"info", path("gptq")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.startsWith("quantscope-cli: error: ") && r.err.contains("quantization_config.sym"),
             qPrintable(r.err));
  }

  // A group size of 2^64 - 1 is not GPTQ's -1 (per-channel), which a
  // conversion to int64 would make of it.
  void anIntegerPastInt64IsNotWrapped() {
    QVERIFY(QFile::copy(path("gptq/config.json"), path("gptq/config.json.orig")));
    const auto config = path("gptq/config.json").toStdString();
    nlohmann::json j;
    std::ifstream(config) >> j;
    j["quantization_config"]["sym"] = true;  // the test above left a string there
    j["quantization_config"]["group_size"] = std::numeric_limits<uint64_t>::max();
    std::ofstream(config, std::ios::trunc) << j.dump(2);
    const auto r = test::run_cli({"info", path("gptq")});
    QFile::remove(path("gptq/config.json"));
    QFile::rename(path("gptq/config.json.orig"), path("gptq/config.json"));
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("group_size"), qPrintable(r.err));
  }

  // A weight that is NaN makes every loss NaN: eval says which window and
  // why, and exits 1, instead of printing "perplexity -nan" and exiting 0.
  void aNonFiniteLossIsAnErrorNotAPerplexity() {
    auto c = test::tiny_config();
    c.vocab_size = 260;
    auto w = test::make_tiny_llama(c, 3);
    auto q = w.tensors.at("model.layers.1.self_attn.q_proj.weight").clone();
    q[0][0] = std::numeric_limits<float>::quiet_NaN();
    w.tensors["model.layers.1.self_attn.q_proj.weight"] = q;
    test::write_hf_checkpoint(w, path("nan").toStdString(), torch::kBFloat16);
    test::write_byte_tokenizer(path("nan").toStdString());
    const auto r = test::run_cli({"eval", path("nan"), "--text", path("calib.txt"), "--ctx", "16"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("window 1 of") && r.err.contains("not a number") && r.err.contains(path("nan")),
             qPrintable(r.err));
    QVERIFY(!r.out.contains("\"ppl\""));
  }

  // A config.json that is a FIFO (opening it would wait forever for a writer)
  // or a link to /dev/zero (reading it would never end) is refused before it
  // is opened; so is a model.safetensors that is a FIFO.
  void specialFilesAreRefusedNotReadForever() {
    QDir(tmp_.path()).mkpath("special");
    QFile::copy(path("fp/model.safetensors"), path("special/model.safetensors"));
    const auto config = path("special/config.json").toStdString();
    QCOMPARE(::mkfifo(config.c_str(), 0600), 0);
    auto r = test::run_cli({"info", path("special")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("config.json") && r.err.contains("not a regular file"), qPrintable(r.err));

    QVERIFY(QFile::remove(path("special/config.json")));
    QVERIFY(QFile::link("/dev/zero", path("special/config.json")));
    r = test::run_cli({"info", path("special")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("config.json") && r.err.contains("not a regular file"), qPrintable(r.err));

    QVERIFY(QFile::remove(path("special/config.json")));
    QVERIFY(QFile::copy(path("fp/config.json"), path("special/config.json")));
    QVERIFY(QFile::remove(path("special/model.safetensors")));
    QCOMPARE(::mkfifo(path("special/model.safetensors").toStdString().c_str(), 0600), 0);
    r = test::run_cli({"info", path("special")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("model.safetensors") && r.err.contains("not a regular file"), qPrintable(r.err));
  }

  // An export never writes over what it was not asked to: the checkpoint it
  // reads (which would then not load), or a directory holding anything but an
  // earlier export. Exporting again over an earlier export is what --out asks.
  void anExportWritesOverNothingButAnEarlierExport() {
    const auto before = read_all(path("rtn/model.safetensors"));
    auto r = test::run_cli({"export", path("rtn"), "--format", "compressed-tensors", "--out", path("rtn")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("directory of the model being exported") || r.err.contains("holds no QuantScope export"),
             qPrintable(r.err));
    QCOMPARE(read_all(path("rtn/model.safetensors")), before);
    QCOMPARE(test::run_cli({"info", path("rtn")}).code, 0);

    QVERIFY(QDir().mkpath(path("work")));
    QFile mine(path("work/config.json"));
    QVERIFY(mine.open(QIODevice::WriteOnly));
    mine.write("{\"mine\": true}");
    mine.close();
    r = test::run_cli({"export", path("rtn"), "--format", "gptq", "--out", path("work")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("holds no QuantScope export"), qPrintable(r.err));
    QCOMPARE(read_all(path("work/config.json")), QByteArray("{\"mine\": true}"));
    QVERIFY(!QFile::exists(path("work/model.safetensors")));

    r = test::run_cli({"export", path("rtn"), "--format", "compressed-tensors", "--out", path("ct")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = test::run_cli({"export", path("rtn"), "--format", "compressed-tensors", "--out", path("ct")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    // An export re-exported into itself is refused too, though it holds an export.
    const auto ct = read_all(path("ct/model.safetensors"));
    r = test::run_cli({"export", path("ct"), "--format", "gptq", "--out", path("ct")});
    QCOMPARE(r.code, 2);  // a wrong --out, as argument errors are
    QVERIFY2(r.err.contains("directory of the model being exported"), qPrintable(r.err));
    QCOMPARE(read_all(path("ct/model.safetensors")), ct);
  }

  // A disk that fills up mid-write (here a file size limit: the write fails
  // with EFBIG, as on a full disk with ENOSPC) ends with an error naming the
  // file, and leaves the earlier export or checkpoint whole and nothing beside it.
  void aFullDiskLeavesTheEarlierOneWhole() {
    const auto limited = [](const QStringList& args) {
      QStringList quoted;
      for (const auto& a : args) quoted << "'" + a + "'";
      QProcess p;
      p.start("bash", {"-c", "trap '' XFSZ; ulimit -f 16; exec '" QS_CLI_PATH "' " + quoted.join(' ')});
      p.waitForFinished(120000);
      return std::pair{p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
                       QString::fromUtf8(p.readAllStandardError())};
    };
    auto r = test::run_cli({"export", path("rtn"), "--format", "gptq", "--out", path("full-exp")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto before = read_all(path("full-exp/model.safetensors"));
    const auto config = read_all(path("full-exp/config.json"));
    auto [code, err] = limited({"export", path("rtn"), "--format", "compressed-tensors", "--out", path("full-exp")});
    QCOMPARE(code, 1);
    QVERIFY2(err.contains("model.safetensors") && err.contains("too large"), qPrintable(err));
    QCOMPARE(read_all(path("full-exp/model.safetensors")), before);
    QCOMPARE(read_all(path("full-exp/config.json")), config);
    QVERIFY(QDir(tmp_.path()).entryList({".full-exp.qs-staging-*"}, QDir::AllEntries | QDir::Hidden).isEmpty());

    const auto checkpoint = read_all(path("rtn/quantscope.json"));
    std::tie(code, err) = limited({"quantize", path("fp"), "--method", "rtn", "--bits", "8", "--group", "32", "--calib",
                                   path("calib.txt"), "--nsamples", "2", "--seqlen", "16", "--out", path("rtn")});
    QCOMPARE(code, 1);
    QVERIFY2(err.contains("too large"), qPrintable(err));
    QCOMPARE(read_all(path("rtn/quantscope.json")), checkpoint);
    QCOMPARE(test::run_cli({"info", path("rtn")}).code, 0);
    QVERIFY(QDir(tmp_.path()).entryList({".rtn.qs-staging-*"}, QDir::AllEntries | QDir::Hidden).isEmpty());
    QDir(path("rtn.journal")).removeRecursively();
  }

  void aShardSizeOfZeroIsRefused() {
    const auto r =
        test::run_cli({"export", path("rtn"), "--format", "gptq", "--out", path("never"), "--max-shard-mb", "0"});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("max-shard-mb"), qPrintable(r.err));
    QVERIFY(!QFile::exists(path("never")));
  }

 private:
  QString path(const QString& name) const { return tmp_.filePath(name); }
  static QByteArray read_all(const QString& file) {
    QFile f(file);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
  }
  QTemporaryDir tmp_;
};

QS_REGISTER_TEST(TestCliErrors);
#include "test_cli_errors.moc"

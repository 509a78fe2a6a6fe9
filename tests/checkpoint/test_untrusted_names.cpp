#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_set.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

// Names a checkpoint's files carry are data, never paths to follow: a shard
// index cannot point outside its directory, and pickled PyTorch weights are
// refused, never unpickled.
class TestUntrustedNames : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void shardIndexCannotLeaveItsDirectory_data() {
    QTest::addColumn<QString>("shard");
    QTest::newRow("parent") << "../outside.safetensors";
    QTest::newRow("absolute") << "/etc/passwd";
    QTest::newRow("subdirectory") << "sub/model.safetensors";
    QTest::newRow("dot-dot") << "..";
    QTest::newRow("empty") << "";
  }
  void shardIndexCannotLeaveItsDirectory() {
    QFETCH(QString, shard);
    QTemporaryDir tmp;
    const fs::path root = tmp.path().toStdString();
    const fs::path dir = root / "model";
    test::write_hf_checkpoint(test::make_tiny_llama(test::tiny_config(), 1), dir);
    // The weights are there, one level up, where the hostile entry points.
    fs::copy_file(dir / "model.safetensors", root / "outside.safetensors");
    const nlohmann::json index = {{"weight_map", {{"model.embed_tokens.weight", shard.toStdString()}}}};
    std::ofstream(dir / "model.safetensors.index.json") << index.dump();
    const auto e = test::error_of<FormatError>([&] { checkpoint::load_model(dir); });
    QVERIFY2(e.contains("model.safetensors.index.json") && e.contains("weight_map.model.embed_tokens.weight") &&
                 e.contains("not a plain file name"),
             qPrintable(e));
  }

  void pickledWeightsAreRefused_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<bool>("alone");  // the file itself opened, not its directory
    QTest::newRow("pytorch_model.bin") << "pytorch_model.bin" << false;
    QTest::newRow("sharded bin index") << "pytorch_model.bin.index.json" << false;
    QTest::newRow("consolidated.00.pth") << "consolidated.00.pth" << false;
    QTest::newRow("a .bin opened") << "pytorch_model.bin" << true;
    QTest::newRow("a .pt opened") << "weights.pt" << true;
  }
  void pickledWeightsAreRefused() {
    QFETCH(QString, file);
    QFETCH(bool, alone);
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    std::ofstream(dir / "config.json") << nlohmann::json{{"model_type", "llama"}}.dump();
    // A pickle's opening bytes (protocol 2); nothing reads past them.
    std::ofstream(dir / file.toStdString(), std::ios::binary) << "\x80\x02}q\x00.";
    const auto path = alone ? dir / file.toStdString() : dir;
    const auto e = test::error_of<IoError>([&] { checkpoint::load_model(path); });
    QVERIFY2(e.contains(file) && e.contains("pickled") && e.contains("never loads") && e.contains("safetensors"),
             qPrintable(e));
  }
};

QS_REGISTER_TEST(TestUntrustedNames);
#include "test_untrusted_names.moc"

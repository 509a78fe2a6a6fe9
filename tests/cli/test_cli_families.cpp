#include <QTest>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "tests/cli/cli_run.h"
#include "tests/support/paths.h"
#include "tests/support/test_registry.h"

using namespace qs;

// `quantscope-cli eval --protocol hf` on each family's tiny transformers model
// (packaging/make-family-references.sh) against transformers' perplexity of
// the same text under the same protocol, recorded beside the model.
class TestCliFamilies : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void evalPerplexityMatchesTransformers_data() {
    QTest::addColumn<QString>("family");
    for (const char* f : {"llama", "qwen2", "qwen3", "mistral", "phi3", "gemma2", "gemma3_text", "mixtral",
                          "qwen3_moe", "qwen2_moe", "gemma3"})
      QTest::newRow(f) << f;
  }
  void evalPerplexityMatchesTransformers() {
    QFETCH(QString, family);
    const auto dir = test::reference("families/" + family.toStdString());
    if (dir.empty()) QS_SKIP_UNLESS_REQUIRED("family references absent: run packaging/make-family-references.sh");
    const io::SafetensorsFile reference(std::filesystem::path(dir.string() + ".reference.safetensors"));
    const auto& meta = reference.metadata();
    const double hf_ppl = std::stod(meta.at("eval_ppl"));
    const auto r = test::run_cli({"eval", QString::fromStdString(dir.string()), "--text",
                                  QString::fromStdString((dir / "eval.txt").string()), "--protocol", "hf", "--ctx",
                                  QString::fromStdString(meta.at("eval_ctx"))});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto j = nlohmann::json::parse(r.out.trimmed().split('\n').last().toStdString());
    QCOMPARE(j["chunks"].get<int64_t>(), std::stoll(meta.at("eval_windows")));
    const double ours = j["ppl"].get<double>();
    qInfo("%s: perplexity %.10g, transformers %.10g", qPrintable(family), ours, hf_ppl);
    QVERIFY2(std::abs(ours / hf_ppl - 1.0) < 1e-4, qPrintable(QString("%1 vs %2").arg(ours).arg(hf_ppl)));
  }
};

QS_REGISTER_TEST(TestCliFamilies);
#include "test_cli_families.moc"

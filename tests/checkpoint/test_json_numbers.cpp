#include <QTemporaryDir>
#include <QTest>
#include <fstream>

#include "core/checkpoint/hf_config.h"
#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/pipeline/quant_plan.h"
#include "core/text/tokenizer.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Runs `read`; returns the qs::Error's message, or why it is not one.
template <class F>
QString refusal(F&& read) {
  try {
    read();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return QString("escaped as a non-qs exception: ") + e.what();
  }
  return "read without an error";
}

}  // namespace

// A number past double's range ("1e999") makes nlohmann throw out_of_range,
// not parse_error: found by fuzz_safetensors. Every JSON reader refuses it as
// a FormatError naming its file, rather than letting it escape.
class TestJsonNumbers : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void aNumberPastDoubleIsRefusedByEveryReader() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const std::string huge = "-5e535";

    std::string header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[" + huge + "],\"data_offsets\":[0,4]}}";
    header += std::string((8 - header.size() % 8) % 8, ' ');
    std::string st(8, '\0');
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) st[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
    write(dir / "st" / "model.safetensors", st + header + std::string(4, '\0'));
    QString e = refusal([&] { io::SafetensorsFile(dir / "st" / "model.safetensors"); });
    QVERIFY2(e.contains("model.safetensors") && e.contains("header"), qPrintable(e));

    e = refusal([&] { checkpoint::parse_hf_config("{\"hidden_size\": " + huge + "}", "config.json"); });
    QVERIFY2(e.contains("config.json"), qPrintable(e));

    write(dir / "tok" / "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"dropout\": " + huge + "}}");
    e = refusal([&] { text::load_tokenizer_json(dir / "tok" / "tokenizer.json"); });
    QVERIFY2(e.contains("tokenizer.json") && e.contains("invalid JSON"), qPrintable(e));

    e = refusal([&] {
      pipeline::QuantPlan::from_json("{\"default\": {\"bits\": " + huge + "}}",
                                     pipeline::QuantPlan::make_choice("rtn", {4, 128, true, 1.0}, "test"), "plan.json");
    });
    QVERIFY2(e.contains("plan.json"), qPrintable(e));

    const auto model = dir / "model";
    test::write_hf_checkpoint(test::make_tiny_llama(test::tiny_config(), 1), model);
    fs::rename(model / "model.safetensors", model / "model-00001-of-00001.safetensors");
    write(model / "model.safetensors.index.json", "{\"metadata\": {\"total_size\": " + huge + "}, \"weight_map\": {}}");
    e = refusal([&] { checkpoint::load_model(model); });
    QVERIFY2(e.contains("model.safetensors.index.json"), qPrintable(e));
    fs::remove(model / "model.safetensors.index.json");
    fs::rename(model / "model-00001-of-00001.safetensors", model / "model.safetensors");

    write(model / "adapter" / "adapter_config.json", "{\"r\": " + huge + "}");
    e = refusal([&] { checkpoint::load_model(model); });
    QVERIFY2(e.contains("adapter_config.json"), qPrintable(e));
  }
};

QS_REGISTER_TEST(TestJsonNumbers);
#include "test_json_numbers.moc"

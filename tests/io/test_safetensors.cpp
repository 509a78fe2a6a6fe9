#include <QTemporaryDir>
#include <QTest>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/mapped_file.h"
#include "core/io/mapped_tensor.h"
#include "core/io/safetensors.h"
#include "tests/support/test_registry.h"

using namespace qs;

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_all(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file from a hand-written header and a data section.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

// Expects a qs::Error whose message names the file and contains `field`.
void expect_error(const std::filesystem::path& p, const QString& field) {
  try {
    io::SafetensorsFile f(p);
    QFAIL(qPrintable("no error for a file that should fail on " + field));
  } catch (const Error& e) {
    const QString msg = e.what();
    QVERIFY2(msg.contains(QString::fromStdString(p.filename().string())), qPrintable(msg));
    QVERIFY2(msg.contains(field), qPrintable(msg));
  }
}

}  // namespace

class TestSafetensors : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void roundTripsEveryDtype() {
    QTemporaryDir dir;
    const auto path = std::filesystem::path(dir.path().toStdString()) / "t.safetensors";
    std::vector<std::pair<std::string, torch::Tensor>> tensors = {
        {"f32", torch::randn({3, 5})},
        {"f16", torch::randn({7}).to(torch::kFloat16)},
        {"bf16", torch::randn({2, 2, 3}).to(torch::kBFloat16)},
        {"f64", torch::randn({4}, torch::kFloat64)},
        {"i32", torch::randint(-100, 100, {9}, torch::kInt32)},
        {"i64", torch::randint(-100, 100, {2, 3}, torch::kInt64)},
        {"i8", torch::randint(-100, 100, {5}, torch::kInt8)},
        {"u8", torch::randint(0, 255, {5}, torch::kUInt8)},
        {"scalar", torch::tensor(3.5f).reshape({})},
        {"empty", torch::zeros({0, 4})},
        {"noncontig", torch::randn({4, 6}).t()},
    };
    io::write_safetensors(path, tensors, {{"format", "pt"}});
    io::SafetensorsFile f(path);
    QCOMPARE(f.entries().size(), tensors.size());
    QCOMPARE(f.metadata().at("format"), std::string("pt"));
    for (const auto& [name, t] : tensors) {
      auto back = f.load(name);
      QCOMPARE(back.scalar_type(), t.scalar_type());
      QVERIFY2(torch::equal(back, t), name.c_str());
    }
    QCOMPARE(f.find("f16")->dtype, std::string("F16"));
    QVERIFY(f.find("absent") == nullptr);
    QVERIFY_THROWS_EXCEPTION(FormatError, f.load("absent"));
  }

  void headerIsPaddedAndReadableByOthers() {
    // The layout HF's reader expects: u64 length, JSON, 8-aligned data start.
    QTemporaryDir dir;
    const auto path = std::filesystem::path(dir.path().toStdString()) / "a.safetensors";
    io::write_safetensors(path, {{"w", torch::arange(6, torch::kFloat32).view({2, 3})}});
    const std::string bytes = read_all(path);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    QCOMPARE((8 + n) % 8, uint64_t(0));
    auto j = nlohmann::json::parse(bytes.substr(8, n));
    QCOMPARE(j["w"]["dtype"].get<std::string>(), std::string("F32"));
    QCOMPARE(j["w"]["data_offsets"][1].get<int>(), 24);
    float third = 0;
    std::memcpy(&third, bytes.data() + 8 + n + 8, 4);
    QCOMPARE(third, 2.0f);
  }

  void truncatedFilesFailCleanly() {
    QTemporaryDir dir;
    const std::filesystem::path d = dir.path().toStdString();
    io::write_safetensors(d / "full.safetensors", {{"a", torch::randn({16, 16})}, {"b", torch::randn({33})}});
    const std::string bytes = read_all(d / "full.safetensors");
    for (int k = 0; k < 16; ++k) {
      const auto cut = d / ("cut" + std::to_string(k) + ".safetensors");
      write_all(cut, bytes.substr(0, bytes.size() * k / 16));
      try {
        io::SafetensorsFile f(cut);
        QFAIL(qPrintable(QString("truncation at %1/16 not detected").arg(k)));
      } catch (const FormatError& e) {
        QVERIFY2(QString(e.what()).contains(QString::fromStdString(cut.filename().string())), e.what());
      }
    }
  }

  void badHeaders_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("field");
    auto row = [](const char* name, const std::string& bytes, const char* field) {
      QTest::newRow(name) << QByteArray(bytes.data(), static_cast<qsizetype>(bytes.size())) << QString(field);
    };
    std::string absurd(8, '\xff');
    row("absurd header length", absurd + "{}", "header length");
    row("not json", make_file("{\"a\": [", ""), "header");
    row("not an object", make_file("[1,2]", ""), "header");
    row("bad utf8", make_file("{\"\xc3\x28\": 1}", ""), "header");
    row("unknown dtype", make_file(R"({"w":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}})", "abcd"), "dtype");
    row("offset past end", make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "abcd"), "data_offsets");
    row("size mismatch", make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "abcd"), "data_offsets");
    row("negative dim", make_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"), "shape");
    row("absurd shape", make_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", "abcd"), "shape");
    row("missing offsets", make_file(R"({"w":{"dtype":"F32","shape":[1]}})", "abcd"), "data_offsets");
    row("overlap", make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", "abcd"), "overlap");
    row("metadata not strings", make_file(R"({"__metadata__":{"k":1}})", ""), "__metadata__");
    // JSON keeps the last of two equal keys; a tensor named twice is refused.
    row("tensor named twice",
        make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", "abcd"),
        "'w'");
    // A dimension nested 200,000 lists deep: named, not printed (printing it
    // recursed once per level and overflowed the stack).
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    row("deeply nested dim", make_file(R"({"w":{"dtype":"F32","shape":[)" + deep + R"(],"data_offsets":[0,4]}})", "abcd"),
        "shape");
  }
  void badHeaders() {
    QFETCH(QByteArray, file);
    QFETCH(QString, field);
    QTemporaryDir dir;
    const auto path = std::filesystem::path(dir.path().toStdString()) / "bad.safetensors";
    write_all(path, file.toStdString());
    expect_error(path, field);
  }

  void missingFileIsIoError() {
    QVERIFY_THROWS_EXCEPTION(IoError, io::SafetensorsFile("/nonexistent/x.safetensors"));
  }

  void aViewIsTheFileItself() {
    QTemporaryDir dir;
    const auto p = std::filesystem::path(dir.path().toStdString()) / "a.safetensors";
    const auto t = torch::randn({5, 7}).to(torch::kBFloat16);
    io::write_safetensors(p, {{"t", t}});
    io::SafetensorsFile f(p);
    const auto v = f.view("t");
    QVERIFY(io::is_mapped(v));
    QVERIFY(torch::equal(v, t));
    QVERIFY(!io::is_mapped(f.load("t")));
  }

  void aMisalignedTensorIsCopied() {
    // Data starts 8 bytes after an odd-length header: a float32 at offset 1 of
    // the data section would be a misaligned view.
    QTemporaryDir dir;
    const auto p = std::filesystem::path(dir.path().toStdString()) / "odd.safetensors";
    const float value = 1.5f;
    std::string data(1, '\0');
    data.append(reinterpret_cast<const char*>(&value), 4);
    write_all(p, make_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})", data));
    io::SafetensorsFile f(p);
    const auto v = f.view("t");
    QVERIFY(!io::is_mapped(v));
    QCOMPARE(v.item<float>(), value);
  }

  void pendingTensorsWriteWhatEagerOnesDo() {
    QTemporaryDir dir;
    const std::filesystem::path d = dir.path().toStdString();
    const auto a = torch::randn({3, 4});
    const auto b = torch::randint(0, 100, {6}, torch::kInt32);
    io::write_safetensors(d / "eager.safetensors", {{"a", a}, {"b", b}}, {{"format", "pt"}});
    int built = 0;
    std::vector<io::PendingTensor> pending = {{"a", torch::kFloat32, {3, 4}, [&] { ++built; return a; }},
                                              io::pending("b", b)};
    io::write_safetensors(d / "pending.safetensors", pending, {{"format", "pt"}});
    QCOMPARE(built, 1);
    QCOMPARE(read_all(d / "pending.safetensors"), read_all(d / "eager.safetensors"));
  }

  void aSpilledTensorIsEqualAndLeavesNoFile() {
    QTemporaryDir dir;
    const auto t = torch::randint(0, 16, {33, 70}, torch::kUInt8);
    const auto spilled = io::spill_to_file(t, dir.path().toStdString());
    QVERIFY(io::is_mapped(spilled));
    QVERIFY(torch::equal(spilled, t));
    QVERIFY(std::filesystem::is_empty(dir.path().toStdString()));
    io::release_mapped_pages(spilled);
    QVERIFY(torch::equal(spilled, t));
  }

  void aSpillWhereNothingCanBeWrittenNamesTheDirectory() {
    try {
      io::spill_to_file(torch::ones({4}), "/nonexistent/spill");
      QFAIL("no error");
    } catch (const IoError& e) {
      QVERIFY2(QString(e.what()).contains("/nonexistent/spill"), e.what());
    }
  }

  // Readers check ranges against the file and name the field; mapped_tensor
  // itself refuses what would read outside the mapping or misaligned.
  void aMappedRangeOutsideTheFileIsRefused() {
    QTemporaryDir dir;
    const auto path = std::filesystem::path(dir.path().toStdString()) / "bytes";
    std::ofstream(path, std::ios::binary) << std::string(64, '\1');
    const auto file = std::make_shared<const io::MappedFile>(path);
    QCOMPARE(io::mapped_tensor(file, 32, {8}, torch::kFloat32).numel(), int64_t{8});
    QVERIFY_THROWS_EXCEPTION(Error, io::mapped_tensor(file, 40, {8}, torch::kFloat32));
    QVERIFY_THROWS_EXCEPTION(Error, io::mapped_tensor(file, 2, {4}, torch::kFloat32));
    QVERIFY_THROWS_EXCEPTION(Error, io::mapped_tensor(file, 0, {int64_t{1} << 40, int64_t{1} << 40}, torch::kUInt8));
  }

  void aPendingTensorBuiltWrongLeavesNoFile() {
    QTemporaryDir dir;
    const auto p = std::filesystem::path(dir.path().toStdString()) / "wrong.safetensors";
    std::vector<io::PendingTensor> pending = {{"a", torch::kFloat32, {3, 4}, [] { return torch::zeros({4, 3}); }}};
    QVERIFY_THROWS_EXCEPTION(Error, io::write_safetensors(p, pending));
    QVERIFY(!std::filesystem::exists(p));
  }
};

QS_REGISTER_TEST(TestSafetensors);
#include "test_safetensors.moc"

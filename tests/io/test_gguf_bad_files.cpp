#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "core/io/gguf_file.h"
#include "core/io/gguf_writer.h"
#include "tests/support/test_registry.h"

using namespace qs;
using Bytes = std::vector<uint8_t>;
using Mutation = std::function<void(Bytes&)>;
Q_DECLARE_METATYPE(Mutation)

namespace {

// A valid file whose fields the rows below corrupt one at a time. Key and
// tensor names are chosen so that none is a substring of another, which lets
// the mutations find them by searching the bytes.
Bytes make_valid(const std::filesystem::path& path) {
  io::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_int_array("test.list", {1, 2, 3});
  w.add_bool("test.flag", true);
  w.set_alignment(64);
  // 128 and 32 * 34 = 1088 bytes: both multiples of the alignment, so the
  // file ends with tensor_b's last byte and every truncation cuts into data.
  std::vector<uint8_t> a(8 * 4 * 4, 0), b(32 * 34, 0);
  w.add_tensor("tensor_a", io::GgmlType::F32, {8, 4}, a);
  w.add_tensor("tensor_b", io::GgmlType::Q8_0, {1024}, b);
  w.write(path);
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void save(const std::filesystem::path& path, const Bytes& b) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

size_t find(const Bytes& b, const std::string& s) {
  auto it = std::search(b.begin(), b.end(), s.begin(), s.end());
  if (it == b.end()) qFatal("fixture lacks %s", s.c_str());
  return static_cast<size_t>(it - b.begin());
}

template <class T>
void poke(Bytes& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof(T));
}

// Positions inside the fixture, from the layout of a key/value (length,
// bytes, type, value) and of a tensor info (length, name, n_dims, ne[],
// type, offset).
size_t after_key(const Bytes& b, const std::string& key) { return find(b, key) + key.size(); }
size_t tensor_field(const Bytes& b, const std::string& name, int dims, int field) {
  const size_t n_dims_at = find(b, name) + name.size();
  switch (field) {
    case 0: return n_dims_at;
    case 1: return n_dims_at + 4;                 // ne[0]
    case 2: return n_dims_at + 4 + 8 * dims;      // type
    default: return n_dims_at + 8 + 8 * dims;     // offset
  }
}

Mutation set_u32(std::function<size_t(const Bytes&)> at, uint32_t v) {
  return [at, v](Bytes& b) { poke<uint32_t>(b, at(b), v); };
}
Mutation set_u64(std::function<size_t(const Bytes&)> at, uint64_t v) {
  return [at, v](Bytes& b) { poke<uint64_t>(b, at(b), v); };
}
std::function<size_t(const Bytes&)> fixed(size_t at) {
  return [at](const Bytes&) { return at; };
}

// The message of the qs::Error the file raises; a test failure when none.
QString load_error(const std::filesystem::path& path) {
  try {
    io::GgufFile f(path);
  } catch (const FormatError& e) {
    return QString::fromUtf8(e.what());
  } catch (const IoError& e) {
    return QString::fromUtf8(e.what());
  }
  return {};
}

}  // namespace

class TestGgufBadFiles : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    valid_ = make_valid(path("valid.gguf"));
    io::GgufFile f(path("valid.gguf"));  // the fixture itself must load
    QCOMPARE(f.tensors().size(), size_t{2});
  }

  void refusesCorruptHeader_data() {
    QTest::addColumn<Mutation>("mutate");
    QTest::addColumn<QStringList>("expected");
    const auto key = [](const char* k) { return [k](const Bytes& b) { return after_key(b, k); }; };
    const auto ta = [](int f) { return [f](const Bytes& b) { return tensor_field(b, "tensor_a", 2, f); }; };
    const auto tb = [](int f) { return [f](const Bytes& b) { return tensor_field(b, "tensor_b", 1, f); }; };
    const auto row = [](const char* name, Mutation m, QStringList e) {
      QTest::newRow(name) << m << e;
    };
    row("magic", [](Bytes& b) { b[0] = 'X'; }, {"magic", "not a GGUF file"});
    row("version 1", set_u32(fixed(4), 1), {"version", "version 1"});
    row("version 4", set_u32(fixed(4), 4), {"version", "unsupported version 4"});
    row("big-endian", set_u32(fixed(4), 3u << 24), {"version", "big-endian"});
    row("tensor count 2^60", set_u64(fixed(8), 1ull << 60), {"tensor_count", "1152921504606846976"});
    row("kv count 2^60", set_u64(fixed(16), 1ull << 60), {"kv_count", "cannot fit"});
    row("key length 2^62", set_u64(fixed(24), 1ull << 62), {"key #0", "string length 4611686018427387904"});
    row("string value length 2^62",
        set_u64([](const Bytes& b) { return after_key(b, "general.architecture") + 4; }, 1ull << 62),
        {"key 'general.architecture'", "string length"});
    row("array length 2^61",
        set_u64([](const Bytes& b) { return after_key(b, "test.list") + 8; }, 1ull << 61),
        {"key 'test.list'", "array of 2305843009213693952 int32"});
    row("nested array",
        set_u32([](const Bytes& b) { return after_key(b, "test.list") + 4; }, 9),
        {"key 'test.list'", "nested arrays"});
    row("unknown array element type",
        set_u32([](const Bytes& b) { return after_key(b, "test.list") + 4; }, 55),
        {"key 'test.list'", "unknown array element type 55"});
    row("unknown value type", set_u32(key("test.flag"), 77),
        {"key 'test.flag'", "unknown value type 77"});
    row("bool 2", [](Bytes& b) { b[after_key(b, "test.flag") + 4] = 2; },
        {"key 'test.flag'", "neither 0 nor 1"});
    row("bad UTF-8 in key", [](Bytes& b) { b[find(b, "test.flag") + 1] = 0xff; },
        {"key #2", "invalid UTF-8", "t\\xffst.flag", "byte offset"});
    row("bad UTF-8 in value", [](Bytes& b) { b[after_key(b, "general.architecture") + 12] = 0xc0; },
        {"key 'general.architecture'", "invalid UTF-8"});
    row("duplicate key", [](Bytes& b) { std::memcpy(&b[find(b, "test.flag")], "test.list", 9); },
        {"key 'test.list'", "duplicate key"});
    row("alignment 48", set_u32([](const Bytes& b) { return after_key(b, "general.alignment") + 4; }, 48),
        {"general.alignment", "power of two"});
    row("alignment 0", set_u32([](const Bytes& b) { return after_key(b, "general.alignment") + 4; }, 0),
        {"general.alignment", "power of two"});
    row("n_dims 5", set_u32(ta(0), 5), {"tensor 'tensor_a'", "n_dims is 5"});
    row("n_dims 2^31", set_u32(ta(0), 1u << 31), {"tensor 'tensor_a'", "n_dims is 2147483648"});
    row("n_dims 0", set_u32(ta(0), 0), {"tensor 'tensor_a'", "n_dims is 0"});
    row("zero dim", set_u64([](const Bytes& b) { return tensor_field(b, "tensor_a", 2, 1) + 8; }, 0),
        {"tensor 'tensor_a'", "ne[1] is 0"});
    row("negative dim", set_u64(ta(1), ~0ull), {"tensor 'tensor_a'", "ne[0] is -1"});
    row("dims overflow",
        [](Bytes& b) {
          poke<uint64_t>(b, tensor_field(b, "tensor_a", 2, 1), 1ull << 40);
          poke<uint64_t>(b, tensor_field(b, "tensor_a", 2, 1) + 8, 1ull << 40);
        },
        {"tensor 'tensor_a'", "overflows"});
    row("byte size overflow",
        [](Bytes& b) {
          poke<uint64_t>(b, tensor_field(b, "tensor_a", 2, 1), 1ull << 62);
          poke<uint64_t>(b, tensor_field(b, "tensor_a", 2, 1) + 8, 1);
        },
        {"tensor 'tensor_a'", "byte size", "overflows"});
    row("unknown tensor type", set_u32(ta(2), 99), {"tensor 'tensor_a'", "unknown tensor type 99"});
    row("retired tensor type", set_u32(ta(2), 4), {"tensor 'tensor_a'", "unknown tensor type 4"});
    row("partial block", set_u64(tb(1), 16),
        {"tensor 'tensor_b'", "ne[0] = 16 is not a multiple of Q8_0's block size 32"});
    row("misaligned offset", set_u64(tb(3), 68),
        {"tensor 'tensor_b'", "not a multiple of the alignment 64"});
    row("offset past end", set_u64(tb(3), 1ull << 20),
        {"tensor 'tensor_b'", "extends past end of file", "1088 bytes"});
    row("offset wraps around", set_u64(tb(3), ~0ull - 63),
        {"tensor 'tensor_b'", "extends past end of file"});
    row("overlapping data", set_u64(tb(3), 64), {"tensor 'tensor_b'", "overlaps tensor 'tensor_a'"});
    row("duplicate tensor", [](Bytes& b) { b[find(b, "tensor_b") + 7] = 'a'; },
        {"tensor 'tensor_a'", "duplicate tensor name"});
  }
  void refusesCorruptHeader() {
    QFETCH(Mutation, mutate);
    QFETCH(QStringList, expected);
    Bytes b = valid_;
    mutate(b);
    const auto p = path("corrupt.gguf");
    save(p, b);
    const QString msg = load_error(p);
    QVERIFY2(!msg.isEmpty(), "the corrupt file loaded without an error");
    QVERIFY2(msg.contains("corrupt.gguf"), qPrintable(msg));
    for (const QString& e : expected) QVERIFY2(msg.contains(e), qPrintable(msg + " lacks: " + e));
  }

  void refusesTruncatedFiles_data() {
    QTest::addColumn<int>("length");
    const int n = static_cast<int>(valid_.size());
    for (int cut : {0, 3, 4, 7, 8, 15, 16, 23, 24, 31, 40})
      QTest::newRow(qPrintable(QString("header byte %1").arg(cut))) << cut;
    for (int k = 1; k < 16; ++k)
      QTest::newRow(qPrintable(QString("%1/16").arg(k))) << n * k / 16;
    QTest::newRow("last byte missing") << n - 1;
  }
  void refusesTruncatedFiles() {
    QFETCH(int, length);
    const auto p = path("truncated.gguf");
    save(p, Bytes(valid_.begin(), valid_.begin() + length));
    const QString msg = load_error(p);
    QVERIFY2(!msg.isEmpty(), "the truncated file loaded without an error");
    QVERIFY2(msg.contains("truncated.gguf"), qPrintable(msg));
    const bool names_cause = msg.contains("truncated") || msg.contains("past end of file") ||
                             msg.contains("cannot fit") || msg.contains("exceeds");
    QVERIFY2(names_cause, qPrintable(msg));
  }

  void refusesMissingFile() {
    const QString msg = load_error(path("absent.gguf"));
    QVERIFY2(msg.contains("absent.gguf"), qPrintable(msg));
  }

 private:
  std::filesystem::path path(const char* name) const {
    return std::filesystem::path(dir_.path().toStdString()) / name;
  }

  QTemporaryDir dir_;
  Bytes valid_;
};

QS_REGISTER_TEST(TestGgufBadFiles);
#include "test_gguf_bad_files.moc"

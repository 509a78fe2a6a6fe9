#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <random>

#include "core/error.h"
#include "core/io/gguf_file.h"
#include "core/io/gguf_writer.h"
#include "core/io/safetensors.h"
#include "tests/support/error_of.h"
#include "tests/support/paths.h"
#include "tests/support/test_registry.h"

using namespace qs;
using io::GgmlType;

namespace {

// Block fixtures: codes and scales are drawn here and the bytes are packed
// from the block layouts of ggml-common.h; the expected floats come from the
// formulas, not from the library. Scales are small multiples of powers of two
// so every product is exact and the comparison can be exact too.
struct Fixture {
  std::vector<uint8_t> bytes;
  std::vector<float> expected;
};

// IEEE half bits of a float that a half represents exactly (normal range).
uint16_t half_bits(float v) {
  uint32_t f;
  std::memcpy(&f, &v, 4);
  if ((f & 0x7fffffffu) == 0) return static_cast<uint16_t>(f >> 16);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const int exp = static_cast<int>((f >> 23) & 0xff) - 127 + 15;
  const uint32_t mant = f & 0x7fffffu;
  if (exp <= 0 || exp >= 31 || (mant & 0x1fffu) != 0) qFatal("fixture value not exact in half");
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13));
}

void put_half(std::vector<uint8_t>& b, float v) {
  const uint16_t h = half_bits(v);
  b.push_back(static_cast<uint8_t>(h & 0xff));
  b.push_back(static_cast<uint8_t>(h >> 8));
}

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int code(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  // A power of two times a small odd integer: exact in half and in products.
  float scale() { return std::ldexp(static_cast<float>(code(-3, 3) | 1), -code(2, 7)); }

 private:
  std::mt19937 rng_;
};

void block_q4_0_or_1(Gen& g, bool with_min, Fixture& f) {
  const float d = g.scale(), m = with_min ? g.scale() : 0.0f;
  int q[32];
  for (int& c : q) c = g.code(0, 15);
  put_half(f.bytes, d);
  if (with_min) put_half(f.bytes, m);
  for (int j = 0; j < 16; ++j) f.bytes.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
  for (int j = 0; j < 32; ++j) f.expected.push_back(with_min ? q[j] * d + m : (q[j] - 8) * d);
}

void block_q5_0_or_1(Gen& g, bool with_min, Fixture& f) {
  const float d = g.scale(), m = with_min ? g.scale() : 0.0f;
  int q[32];
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) {
    q[j] = g.code(0, 31);
    qh |= static_cast<uint32_t>(q[j] >> 4) << j;  // bit j: fifth bit of element j
  }
  put_half(f.bytes, d);
  if (with_min) put_half(f.bytes, m);
  for (int k = 0; k < 4; ++k) f.bytes.push_back(static_cast<uint8_t>(qh >> (8 * k)));
  for (int j = 0; j < 16; ++j)
    f.bytes.push_back(static_cast<uint8_t>((q[j] & 15) | ((q[j + 16] & 15) << 4)));
  for (int j = 0; j < 32; ++j) f.expected.push_back(with_min ? q[j] * d + m : (q[j] - 16) * d);
}

void block_q8_0(Gen& g, Fixture& f) {
  const float d = g.scale();
  put_half(f.bytes, d);
  for (int j = 0; j < 32; ++j) {
    const int q = g.code(-128, 127);
    f.bytes.push_back(static_cast<uint8_t>(static_cast<int8_t>(q)));
    f.expected.push_back(q * d);
  }
}

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scale and min each.
void block_q45_k(Gen& g, bool five_bits, Fixture& f) {
  const float d = g.scale(), dmin = g.scale();
  int sc[8], mn[8], q[256];
  for (int s = 0; s < 8; ++s) sc[s] = g.code(0, 63), mn[s] = g.code(0, 63);
  for (int& c : q) c = g.code(0, five_bits ? 31 : 15);
  put_half(f.bytes, d);
  put_half(f.bytes, dmin);
  // Bytes 0-3: scales 0-3 and top bits of scales 4-7; 4-7: the same for
  // mins; 8-11: low nibbles of scale (low) and min (high) 4-7.
  uint8_t packed[12];
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  f.bytes.insert(f.bytes.end(), packed, packed + 12);
  if (five_bits) {
    for (int l = 0; l < 32; ++l) {  // bit s of qh[l]: fifth bit of element l of sub-block s
      uint8_t h = 0;
      for (int s = 0; s < 8; ++s) h = static_cast<uint8_t>(h | ((q[s * 32 + l] >> 4) << s));
      f.bytes.push_back(h);
    }
  }
  // Byte l of run r: element l of sub-block 2r (low nibble) and 2r+1 (high).
  for (int r = 0; r < 4; ++r)
    for (int l = 0; l < 32; ++l)
      f.bytes.push_back(
          static_cast<uint8_t>((q[64 * r + l] & 15) | ((q[64 * r + 32 + l] & 15) << 4)));
  for (int e = 0; e < 256; ++e)
    f.expected.push_back(d * sc[e / 32] * q[e] - dmin * mn[e / 32]);
}

void block_q6_k(Gen& g, Fixture& f) {
  const float d = g.scale();
  int sc[16], q[256];
  for (int& s : sc) s = g.code(-128, 127);
  for (int& c : q) c = g.code(0, 63);
  // Element e = 128h + 32k + l: low nibble in ql[64h + l + 32(k&1)] (low
  // half of the byte for k < 2), top two bits in qh[32h + l] at bits 2k.
  uint8_t ql[128] = {}, qh[64] = {};
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    uint8_t& lo = ql[64 * h + l + 32 * (k & 1)];
    lo = static_cast<uint8_t>(lo | ((q[e] & 15) << (k < 2 ? 0 : 4)));
    qh[32 * h + l] = static_cast<uint8_t>(qh[32 * h + l] | ((q[e] >> 4) << (2 * k)));
  }
  f.bytes.insert(f.bytes.end(), ql, ql + 128);
  f.bytes.insert(f.bytes.end(), qh, qh + 64);
  for (int s : sc) f.bytes.push_back(static_cast<uint8_t>(static_cast<int8_t>(s)));
  put_half(f.bytes, d);
  for (int e = 0; e < 256; ++e) f.expected.push_back(d * sc[e / 16] * (q[e] - 32));
}

// IQ4_NL / IQ4_XS: codes index llama.cpp's non-uniform 4-bit grid.
constexpr int kIq4Grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

void iq4_codes(Gen& g, float dl, Fixture& f) {
  int q[32];
  for (int& c : q) c = g.code(0, 15);
  for (int j = 0; j < 16; ++j) f.bytes.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
  for (int j = 0; j < 32; ++j) f.expected.push_back(dl * static_cast<float>(kIq4Grid[q[j]]));
}

void block_iq4_nl(Gen& g, Fixture& f) {
  const float d = g.scale();
  put_half(f.bytes, d);
  iq4_codes(g, d, f);
}

// 8 sub-blocks with 6-bit scales stored less 32: low nibbles two to a byte,
// high two bits in one 16-bit word.
void block_iq4_xs(Gen& g, Fixture& f) {
  const float d = g.scale();
  int sc[8];
  for (int& s : sc) s = g.code(0, 63);
  put_half(f.bytes, d);
  uint16_t high = 0;
  for (int i = 0; i < 8; ++i) high = static_cast<uint16_t>(high | ((sc[i] >> 4) << (2 * i)));
  f.bytes.push_back(static_cast<uint8_t>(high & 0xFF));
  f.bytes.push_back(static_cast<uint8_t>(high >> 8));
  for (int i = 0; i < 8; i += 2) f.bytes.push_back(static_cast<uint8_t>((sc[i] & 15) | ((sc[i + 1] & 15) << 4)));
  for (int i = 0; i < 8; ++i) iq4_codes(g, d * static_cast<float>(sc[i] - 32), f);
}

void element_plain(Gen& g, GgmlType type, Fixture& f) {
  // At most 8 significant bits, so the value is exact in bf16 as well.
  const float v = static_cast<float>(g.code(-255, 255)) / 64.0f;
  if (type == GgmlType::F16) {
    put_half(f.bytes, v);
  } else {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    const int n = type == GgmlType::F32 ? 4 : 2;  // bf16: the top half of the float
    for (int k = 4 - n; k < 4; ++k) f.bytes.push_back(static_cast<uint8_t>(bits >> (8 * k)));
  }
  f.expected.push_back(v);
}

Fixture make_blocks(GgmlType type, int blocks, uint32_t seed) {
  Gen g(seed);
  Fixture f;
  for (int b = 0; b < blocks; ++b) {
    switch (type) {
      case GgmlType::Q4_0: block_q4_0_or_1(g, false, f); break;
      case GgmlType::Q4_1: block_q4_0_or_1(g, true, f); break;
      case GgmlType::Q5_0: block_q5_0_or_1(g, false, f); break;
      case GgmlType::Q5_1: block_q5_0_or_1(g, true, f); break;
      case GgmlType::Q8_0: block_q8_0(g, f); break;
      case GgmlType::Q4_K: block_q45_k(g, false, f); break;
      case GgmlType::Q5_K: block_q45_k(g, true, f); break;
      case GgmlType::Q6_K: block_q6_k(g, f); break;
      case GgmlType::IQ4_NL: block_iq4_nl(g, f); break;
      case GgmlType::IQ4_XS: block_iq4_xs(g, f); break;
      default: element_plain(g, type, f); break;
    }
  }
  return f;
}

std::filesystem::path in_dir(const QTemporaryDir& dir, const char* name) {
  return std::filesystem::path(dir.path().toStdString()) / name;
}

}  // namespace

class TestGguf : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void dequantizesEveryBlockType_data() {
    QTest::addColumn<int>("type");
    QTest::addColumn<int>("rows");
    QTest::addColumn<int>("blocksPerRow");
    const std::pair<const char*, GgmlType> types[] = {
        {"F32", GgmlType::F32},   {"F16", GgmlType::F16},   {"BF16", GgmlType::BF16},
        {"Q8_0", GgmlType::Q8_0}, {"Q4_0", GgmlType::Q4_0}, {"Q4_1", GgmlType::Q4_1},
        {"Q5_0", GgmlType::Q5_0}, {"Q5_1", GgmlType::Q5_1}, {"Q4_K", GgmlType::Q4_K},
        {"Q5_K", GgmlType::Q5_K}, {"Q6_K", GgmlType::Q6_K}, {"IQ4_NL", GgmlType::IQ4_NL},
        {"IQ4_XS", GgmlType::IQ4_XS}};
    for (const auto& [name, type] : types) {
      const int per_row = io::ggml_block_size(type) == 1 ? 40 : 3;
      QTest::newRow(name) << static_cast<int>(type) << 5 << per_row;
      QTest::newRow((std::string(name) + " one row").c_str()) << static_cast<int>(type) << 1 << 1;
    }
  }
  void dequantizesEveryBlockType() {
    QFETCH(int, type);
    QFETCH(int, rows);
    QFETCH(int, blocksPerRow);
    const auto t = static_cast<GgmlType>(type);
    const Fixture f = make_blocks(t, rows * blocksPerRow, 1234u + static_cast<uint32_t>(type));
    QCOMPARE(f.bytes.size(), io::ggml_type_size(t) * static_cast<size_t>(rows * blocksPerRow));

    QTemporaryDir dir;
    const auto path = in_dir(dir, "blocks.gguf");
    const int64_t ne0 = io::ggml_block_size(t) * blocksPerRow;
    io::GgufWriter w;
    w.add_tensor("x", t, {ne0, rows}, f.bytes);
    w.write(path);

    const io::GgufFile file(path);
    const io::GgufTensorInfo* info = file.find_tensor("x");
    QVERIFY(info);
    QCOMPARE(info->type, t);
    QCOMPARE(info->torch_shape(), (std::vector<int64_t>{rows, ne0}));
    const torch::Tensor got = file.dequantize(*info);
    QCOMPARE(got.scalar_type(), torch::kFloat32);
    QCOMPARE(got.sizes().vec(), (std::vector<int64_t>{rows, ne0}));
    const float* p = got.data_ptr<float>();
    for (size_t i = 0; i < f.expected.size(); ++i)
      if (p[i] != f.expected[i])
        QFAIL(qPrintable(QString("element %1: got %2, expected %3")
                             .arg(i).arg(double(p[i])).arg(double(f.expected[i]))));
  }

  // Random blocks dequantized by the gguf Python package
  // (packaging/make-gguf-reference.sh), read here through a GGUF file of
  // 64-block rows: the same floats bit for bit.
  void matchesTheGgufPackage_data() {
    QTest::addColumn<int>("type");
    for (const GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                             GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                             GgmlType::IQ2_XXS, GgmlType::IQ3_XXS, GgmlType::IQ4_NL, GgmlType::IQ4_XS})
      QTest::newRow(io::ggml_type_name(t).c_str()) << static_cast<int>(t);
  }
  void matchesTheGgufPackage() {
    QFETCH(int, type);
    const auto t = static_cast<GgmlType>(type);
    const auto ref_path = test::reference("gguf_blocks.safetensors");
    if (ref_path.empty()) QS_SKIP_UNLESS_REQUIRED("no gguf reference: run packaging/make-gguf-reference.sh");
    const io::SafetensorsFile ref(ref_path);
    const std::string name = io::ggml_type_name(t);
    const torch::Tensor blocks = ref.load(name + ".blocks");
    const torch::Tensor expected = ref.load(name + ".values");
    const int64_t n_blocks = blocks.numel() / static_cast<int64_t>(io::ggml_type_size(t));
    QCOMPARE(n_blocks, int64_t{64});

    QTemporaryDir dir;
    const auto path = in_dir(dir, "reference.gguf");
    const int64_t rows = 4;
    const int64_t ne0 = io::ggml_block_size(t) * n_blocks / rows;
    const auto* b = blocks.data_ptr<uint8_t>();
    io::GgufWriter w;
    w.add_tensor("x", t, {ne0, rows}, std::vector<uint8_t>(b, b + blocks.numel()));
    w.write(path);
    const io::GgufFile file(path);
    const torch::Tensor got = file.dequantize(*file.find_tensor("x")).reshape({-1});
    QCOMPARE(got.numel(), expected.numel());
    const float* g = got.data_ptr<float>();
    const float* e = expected.data_ptr<float>();
    for (int64_t i = 0; i < got.numel(); ++i)
      if (std::memcmp(g + i, e + i, sizeof(float)) != 0)
        QFAIL(qPrintable(QString("%1 element %2: got %3, the gguf package %4")
                             .arg(name.c_str()).arg(i).arg(double(g[i])).arg(double(e[i]))));
  }

  void roundTripsMetadataAndTensors() {
    QTemporaryDir dir;
    const auto path = in_dir(dir, "round.gguf");
    io::GgufWriter w;
    w.add_string("general.name", "héllo ✓ wörld");
    w.add_uint8("u8", 250);
    w.add_int8("i8", -100);
    w.add_uint16("u16", 65000);
    w.add_int16("i16", -32000);
    w.add_uint32("u32", 4000000000u);
    w.add_int32("i32", -2000000000);
    w.add_uint64("u64", 1ull << 62);
    w.add_int64("i64", -(1ll << 61));
    w.add_float32("f32", 0.15625f);
    w.add_float64("f64", 1e-300);
    w.add_bool("flag", true);
    w.add_string_array("strings", {"a", "", "日本語", "last"});
    w.add_int_array("ints", {-3, 0, 7, 1 << 20});
    w.add_int_array("bytes", {0, 255}, io::GgufValueType::UINT8);
    w.add_int_array("bools", {1, 0, 1}, io::GgufValueType::BOOL);
    w.add_float_array("floats", {0.5, -2.25});
    w.add_float_array("doubles", {0.1, 1e10}, io::GgufValueType::FLOAT64);
    w.set_alignment(64);
    const Fixture q = make_blocks(GgmlType::Q4_K, 2, 7);
    const Fixture h = make_blocks(GgmlType::F16, 3 * 5 * 2 * 4, 8);
    w.add_tensor("q", GgmlType::Q4_K, {256, 2}, q.bytes);
    w.add_tensor("h", GgmlType::F16, {3, 5, 2, 4}, h.bytes);
    w.add_tensor("one", GgmlType::F32, {1}, {0, 0, 0x80, 0x3f});
    w.write(path);

    const io::GgufFile f(path);
    QCOMPARE(f.version(), 3u);
    const std::vector<std::string> keys = {"general.name", "u8",  "i8",      "u16",     "i16",
                                           "u32",          "i32", "u64",     "i64",     "f32",
                                           "f64",          "flag", "strings", "ints",    "bytes",
                                           "bools",        "floats", "doubles", "general.alignment"};
    QCOMPARE(f.keys(), keys);
    QCOMPARE(f.get_string("general.name"), std::string("héllo ✓ wörld"));
    QCOMPARE(f.get_int("u8"), 250);
    QCOMPARE(f.get_int("i8"), -100);
    QCOMPARE(f.get_int("u16"), 65000);
    QCOMPARE(f.get_int("i16"), -32000);
    QCOMPARE(f.get_int("u32"), 4000000000ll);
    QCOMPARE(f.get_int("i32"), -2000000000);
    QCOMPARE(f.get_int("u64"), 1ll << 62);
    QCOMPARE(f.get_int("i64"), -(1ll << 61));
    QCOMPARE(f.get_float("f32"), 0.15625);
    QCOMPARE(f.get_float("f64"), 1e-300);
    QCOMPARE(f.get_float("u8"), 250.0);
    QCOMPARE(f.get_bool("flag"), true);
    QCOMPARE(f.get_int("flag"), 1);
    QCOMPARE(f.get_string_array("strings"), (std::vector<std::string>{"a", "", "日本語", "last"}));
    QCOMPARE(f.get_int_array("ints"), (std::vector<int64_t>{-3, 0, 7, 1 << 20}));
    QCOMPARE(f.get_int_array("bytes"), (std::vector<int64_t>{0, 255}));
    QCOMPARE(f.get_int_array("bools"), (std::vector<int64_t>{1, 0, 1}));
    QCOMPARE(f.get_float_array("floats"), (std::vector<double>{0.5, -2.25}));
    QCOMPARE(f.get_float_array("doubles"), (std::vector<double>{0.1, 1e10}));
    QCOMPARE(f.get_float_array("ints"), (std::vector<double>{-3, 0, 7, 1 << 20}));
    QCOMPARE(f.get_int("general.alignment"), 64);

    QCOMPARE(f.tensors().size(), size_t{3});
    const std::vector<std::pair<const char*, const std::vector<uint8_t>*>> data = {
        {"q", &q.bytes}, {"h", &h.bytes}};
    for (const auto& [name, bytes] : data) {
      const io::GgufTensorInfo* t = f.find_tensor(name);
      QVERIFY(t);
      QCOMPARE(t->offset % 64, uint64_t{0});
      QCOMPARE(t->nbytes, bytes->size());
      QVERIFY(std::memcmp(f.tensor_data(*t), bytes->data(), bytes->size()) == 0);
    }
    QCOMPARE(f.find_tensor("h")->ne, (std::vector<int64_t>{3, 5, 2, 4}));
    QCOMPARE(f.find_tensor("h")->torch_shape(), (std::vector<int64_t>{4, 2, 5, 3}));
    QCOMPARE(f.find_tensor("h")->numel(), 120);
    QCOMPARE(f.dequantize(*f.find_tensor("one")).item<float>(), 1.0f);
    QVERIFY(f.find_tensor("absent") == nullptr);
  }

  void getterErrorsNameTheKey() {
    QTemporaryDir dir;
    const auto path = in_dir(dir, "getters.gguf");
    io::GgufWriter w;
    w.add_uint64("big", ~0ull);
    w.add_string("text", "x");
    w.add_int_array("ints", {1});
    w.add_tensor("k", GgmlType::IQ1_S, {256}, std::vector<uint8_t>(50));
    w.write(path);
    const io::GgufFile f(path);
    const auto check = [&](const QString& msg, const char* key, const char* detail) {
      QVERIFY2(msg.contains("getters.gguf"), qPrintable(msg));
      QVERIFY2(msg.contains(key), qPrintable(msg));
      QVERIFY2(msg.contains(detail), qPrintable(msg));
    };
    check(test::error_of<FormatError>([&] { f.get_int("big"); }), "big", "does not fit int64");
    check(test::error_of<FormatError>([&] { f.get_int("text"); }), "text", "found string");
    check(test::error_of<FormatError>([&] { f.get_string("missing.key"); }), "missing.key", "not found");
    check(test::error_of<FormatError>([&] { f.get_bool("text"); }), "text", "expected a bool");
    check(test::error_of<FormatError>([&] { f.get_string_array("ints"); }), "ints", "array of int32");
    check(test::error_of<FormatError>([&] { f.get_int_array("text"); }), "text", "expected an array");
    check(test::error_of<FormatError>([&] { f.dequantize(f.tensors()[0]); }), "tensor 'k'", "IQ1_S");
  }

  void writerRefusesInvalidInput() {
    io::GgufWriter w;
    w.add_int32("a", 1);
    const auto refused = [](auto&& f) { return !test::error_of<ArgumentError>(f).isEmpty(); };
    QVERIFY(refused([&] { w.add_int32("a", 2); }));
    QVERIFY(refused([&] { w.add_string("", "x"); }));
    QVERIFY(refused([&] { w.add_string("bad\xff", "x"); }));
    QVERIFY(refused([&] { w.add_string("s", "bad\xc0\x80"); }));
    QVERIFY(refused([&] { w.add_uint32("general.alignment", 64); }));
    QVERIFY(refused([&] { w.set_alignment(48); }));
    QVERIFY(refused([&] { w.add_int_array("x", {256}, io::GgufValueType::UINT8); }));
    QVERIFY(refused([&] { w.add_int_array("x", {1}, io::GgufValueType::STRING); }));
    QVERIFY(refused([&] { w.add_float_array("x", {1}, io::GgufValueType::INT32); }));
    QVERIFY(refused([&] { w.add_tensor("t", GgmlType::Q8_0, {16}, std::vector<uint8_t>(17)); }));
    QVERIFY(refused([&] { w.add_tensor("t", GgmlType::Q8_0, {32}, std::vector<uint8_t>(33)); }));
    QVERIFY(refused([&] { w.add_tensor("t", GgmlType::F32, {1, 1, 1, 1, 1}, {0, 0, 0, 0}); }));
    QVERIFY(refused([&] { w.add_tensor("t", GgmlType::F32, {0}, {}); }));
    QVERIFY(refused([&] { w.add_tensor("t", static_cast<GgmlType>(4), {1}, {0, 0}); }));
    QVERIFY(refused([&] { w.add_tensor(std::string(64, 'n'), GgmlType::I8, {1}, {0}); }));
    w.add_tensor("t", GgmlType::I8, {1}, {0});
    QVERIFY(refused([&] { w.add_tensor("t", GgmlType::I8, {1}, {0}); }));
  }

  void namesTypes() {
    QCOMPARE(io::ggml_type_name(GgmlType::Q4_K), std::string("Q4_K"));
    QCOMPARE(io::ggml_type_name(GgmlType::BF16), std::string("BF16"));
    QCOMPARE(io::ggml_type_name(static_cast<GgmlType>(31)), std::string("type 31"));
    QVERIFY(!io::ggml_type_from_id(4));
    QCOMPARE(io::ggml_type_size(GgmlType::Q6_K), size_t{210});
    QCOMPARE(io::ggml_block_size(GgmlType::Q5_K), 256);
  }
};

QS_REGISTER_TEST(TestGguf);
#include "test_gguf.moc"

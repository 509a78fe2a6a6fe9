#include <QTest>

#include "core/error.h"
#include "core/quant/packing.h"
#include "tests/support/test_registry.h"

using namespace qs;

namespace {

// Bit by bit, independent of the packer's word arithmetic.
std::vector<uint32_t> reference_pack(const std::vector<int>& codes, int bits) {
  std::vector<uint32_t> words((codes.size() * bits + 31) / 32, 0);
  for (size_t j = 0; j < codes.size(); ++j)
    for (int k = 0; k < bits; ++k)
      if ((codes[j] >> k) & 1) {
        const size_t bit = j * bits + k;
        words[bit / 32] |= uint32_t{1} << (bit % 32);
      }
  return words;
}

}  // namespace

class TestPacking : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void roundTripIsLossless_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<int>("in");
    for (int bits = 2; bits <= 8; ++bits)
      for (int in : {1, 7, 32, 33, 96, 250})
        QTest::newRow(qPrintable(QString("%1-bit x%2").arg(bits).arg(in))) << bits << in;
  }
  void roundTripIsLossless() {
    QFETCH(int, bits);
    QFETCH(int, in);
    torch::manual_seed(bits * 100 + in);
    auto codes = torch::randint(0, 1 << bits, {5, in}, torch::kInt64).to(torch::kUInt8);
    auto packed = quant::pack_codes(codes, bits);
    QCOMPARE(packed.size(1), (in * bits + 31) / 32);
    QVERIFY(torch::equal(quant::unpack_codes(packed, bits, in), codes));
    // Same words as the bit-by-bit reference.
    auto row = codes[2].to(torch::kInt64);
    std::vector<int> values(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + in);
    const auto expected = reference_pack(values, bits);
    auto got = packed[2].contiguous();
    for (size_t w = 0; w < expected.size(); ++w)
      QCOMPARE(static_cast<uint32_t>(got[static_cast<int64_t>(w)].item<int32_t>()), expected[w]);
  }

  void threeBitsCrossWordBoundaries() {
    // Code 10 occupies bits 30..32: two bits in word 0, one in word 1.
    std::vector<int> v = {1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 7};
    auto codes = torch::tensor(std::vector<int64_t>(v.begin(), v.end())).to(torch::kUInt8).reshape({1, 11});
    auto packed = quant::pack_codes(codes, 3);
    QCOMPARE(packed.size(1), int64_t{2});
    QCOMPARE(static_cast<uint32_t>(packed[0][1].item<int32_t>()), uint32_t{1});
    QCOMPARE(static_cast<uint32_t>(packed[0][0].item<int32_t>()) >> 30, uint32_t{3});
  }

  void badInputsAreRejected() {
    auto codes = torch::full({1, 4}, 4, torch::kUInt8);
    QVERIFY_THROWS_EXCEPTION(ArgumentError, quant::pack_codes(codes, 2));
    QVERIFY_THROWS_EXCEPTION(ArgumentError, quant::pack_codes(codes.to(torch::kInt32), 4));
    QVERIFY_THROWS_EXCEPTION(ArgumentError, quant::unpack_codes(torch::zeros({1, 3}, torch::kInt32), 4, 8));
    QVERIFY_THROWS_EXCEPTION(ArgumentError, quant::pack_codes(codes, 9));
  }
};

QS_REGISTER_TEST(TestPacking);
#include "test_packing.moc"

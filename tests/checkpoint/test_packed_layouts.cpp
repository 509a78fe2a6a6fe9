#include <QTest>

#include "core/checkpoint/packed_layouts.h"
#include "core/error.h"
#include "core/quant/packing.h"
#include "tests/support/test_registry.h"

using namespace qs;

namespace {

torch::Tensor random_codes(int64_t rows, int64_t cols, int bits, uint64_t seed) {
  auto g = torch::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randint(0, int64_t{1} << bits, {rows, cols}, g, torch::kLong).to(torch::kUInt8);
}

// AutoGPTQ's pack loop (QuantLinear.pack), transcribed value by value: codes
// [out, in] → qweight [in·bits/32, out]. The 3-bit branch is its explicit
// 10 + 1 + 10 + 1 + 10 pattern over 32 rows and 3 words.
torch::Tensor autogptq_pack(const torch::Tensor& codes, int bits) {
  auto iw = codes.t().to(torch::kLong).contiguous();  // [in, out]
  const int64_t in = iw.size(0), out = iw.size(1);
  auto a = iw.accessor<int64_t, 2>();
  std::vector<uint32_t> q(static_cast<size_t>(in * bits / 32 * out), 0);
  for (int64_t c = 0; c < out; ++c) {
    int64_t i = 0, row = 0;
    auto at = [&](int64_t r) -> uint32_t& { return q[static_cast<size_t>(r * out + c)]; };
    while (row < in * bits / 32) {
      if (bits != 3) {
        for (int64_t j = i; j < i + 32 / bits; ++j) at(row) |= static_cast<uint32_t>(a[j][c]) << (bits * (j - i));
        i += 32 / bits;
        row += 1;
      } else {
        for (int64_t j = i; j < i + 10; ++j) at(row) |= static_cast<uint32_t>(a[j][c]) << (3 * (j - i));
        i += 10;
        at(row) |= static_cast<uint32_t>(a[i][c]) << 30;
        row += 1;
        at(row) |= (static_cast<uint32_t>(a[i][c]) >> 2) & 1;
        i += 1;
        for (int64_t j = i; j < i + 10; ++j) at(row) |= static_cast<uint32_t>(a[j][c]) << (3 * (j - i) + 1);
        i += 10;
        at(row) |= static_cast<uint32_t>(a[i][c]) << 31;
        row += 1;
        at(row) |= (static_cast<uint32_t>(a[i][c]) >> 1) & 3;
        i += 1;
        for (int64_t j = i; j < i + 10; ++j) at(row) |= static_cast<uint32_t>(a[j][c]) << (3 * (j - i) + 2);
        i += 10;
        row += 1;
      }
    }
  }
  return torch::from_blob(q.data(), {in * bits / 32, out}, torch::kInt32).clone();
}

// AutoAWQ's WQLinear_GEMM.from_linear packing of an int tensor [in, out].
torch::Tensor autoawq_pack(const torch::Tensor& in_out) {
  static const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  auto a = in_out.to(torch::kLong).contiguous();
  const int64_t rows = a.size(0), cols = a.size(1);
  auto acc = a.accessor<int64_t, 2>();
  std::vector<uint32_t> q(static_cast<size_t>(rows * cols / 8), 0);
  for (int64_t col = 0; col < cols / 8; ++col)
    for (int i = 0; i < 8; ++i)
      for (int64_t r = 0; r < rows; ++r)
        q[static_cast<size_t>(r * (cols / 8) + col)] |= static_cast<uint32_t>(acc[r][col * 8 + order[i]]) << (i * 4);
  return torch::from_blob(q.data(), {rows, cols / 8}, torch::kInt32).clone();
}

}  // namespace

class TestPackedLayouts : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void compressedTensorsPutsConsecutiveCodesInOneWord() {
    auto codes = torch::arange(1, 9, torch::kLong).to(torch::kUInt8).unsqueeze(0);  // 1..8
    auto packed = checkpoint::ct_pack_weight(codes, 4);
    QCOMPARE(packed.sizes().vec(), (std::vector<int64_t>{1, 1}));
    QCOMPARE(static_cast<uint32_t>(packed.item<int32_t>()), 0x87654321u);
    auto zeros = torch::tensor({{3}, {5}, {7}, {9}, {11}, {13}, {15}, {1}, {2}}, torch::kInt32);  // [9 rows, 1 group]
    auto pz = checkpoint::ct_pack_zeros(zeros, 4);
    QCOMPARE(pz.sizes().vec(), (std::vector<int64_t>{2, 1}));  // packed along dim 0, padded
    QCOMPARE(static_cast<uint32_t>(pz[0][0].item<int32_t>()), 0x1FDB9753u);
    QCOMPARE(pz[1][0].item<int32_t>(), 2);
    QVERIFY(torch::equal(checkpoint::ct_unpack_zeros(pz, 4, 9), zeros));
  }

  void gptqMatchesAutoGptqForEveryWidth() {
    for (int bits : {2, 3, 4, 8}) {
      const auto codes = random_codes(24, 96, bits, 7 + bits);
      const auto ours = checkpoint::gptq_pack_weight(codes, bits);
      QVERIFY2(torch::equal(ours, autogptq_pack(codes, bits)), std::to_string(bits).c_str());
      const auto as_packed = checkpoint::gptq_weight_as_packed(ours, bits, 96);
      QVERIFY(as_packed.is_alias_of(ours));  // a view: a reader copies nothing
      QVERIFY(torch::equal(quant::unpack_codes(as_packed, bits, 96), codes));
    }
  }

  void gptqZerosStoreZeroMinusOne() {
    for (int bits : {2, 3, 4, 8}) {
      auto z = random_codes(96, 3, bits, 11 + bits).to(torch::kInt32).clamp_min(1);  // [out, groups]
      const auto packed = checkpoint::gptq_pack_zeros(z, bits);
      QCOMPARE(packed.sizes().vec(), (std::vector<int64_t>{3, 96 * bits / 32}));
      // qzeros is the same stream layout along the output dimension, of zero − 1.
      QVERIFY(torch::equal(packed, autogptq_pack((z - 1).to(torch::kUInt8).t().contiguous(), bits).t()));
      QVERIFY(torch::equal(checkpoint::gptq_unpack_zeros(packed, bits, 96), z));
    }
    auto z = torch::ones({32, 2}, torch::kInt32);
    z[5][1] = 0;
    QVERIFY_THROWS_EXCEPTION(ArgumentError, checkpoint::gptq_pack_zeros(z, 4));
    // v2 stores the zero itself, 0 included.
    for (int bits : {2, 3, 4, 8}) {
      auto z2 = random_codes(96, 3, bits, 13 + bits).to(torch::kInt32);
      z2[7][2] = 0;
      const auto packed = checkpoint::gptq_pack_zeros(z2, bits, checkpoint::GptqZeros::kAsIs);
      QVERIFY(torch::equal(packed, autogptq_pack(z2.to(torch::kUInt8).t().contiguous(), bits).t()));
      QVERIFY(torch::equal(checkpoint::gptq_unpack_zeros(packed, bits, 96, checkpoint::GptqZeros::kAsIs), z2));
    }
    QVERIFY_THROWS_EXCEPTION(ArgumentError, checkpoint::gptq_pack_weight(random_codes(4, 40, 3, 1), 3));
  }

  void awqMatchesAutoAwqOrder() {
    const auto codes = random_codes(48, 64, 4, 3);  // [out, in]
    const auto ours = checkpoint::awq_pack(codes.to(torch::kInt32));
    QCOMPARE(ours.sizes().vec(), (std::vector<int64_t>{64, 6}));
    QVERIFY(torch::equal(ours, autoawq_pack(codes.t())));
    QVERIFY(torch::equal(checkpoint::awq_unpack(ours, 48), codes.to(torch::kInt32)));
    QVERIFY_THROWS_EXCEPTION(ArgumentError, checkpoint::awq_pack(torch::zeros({12, 4}, torch::kInt32)));
    QVERIFY_THROWS_EXCEPTION(ArgumentError, checkpoint::awq_pack(torch::full({8, 4}, 16, torch::kInt32)));
  }
};

QS_REGISTER_TEST(TestPackedLayouts);
#include "test_packed_layouts.moc"

#include <QTest>

#include "core/checkpoint/packed_layouts.h"
#include "core/error.h"
#include "core/model/decoder.h"
#include "core/model/packed_linear_op.h"
#include "core/quant/packing.h"
#include "kernels/packed_matmul.h"
#include "tests/methods/method_runs.h"
#include "tests/quant/random_layer.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

double relative_error(const torch::Tensor& got, const torch::Tensor& want) {
  return ((got.to(torch::kDouble) - want.to(torch::kDouble)).norm() / want.to(torch::kDouble).norm()).item<double>();
}

}  // namespace

class TestPackedLinearOp : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void packedRecordDequantizesToTheRecord() {
    torch::manual_seed(1);
    for (int bits : {2, 3, 4, 8}) {
      auto q = test::random_layer(24, 96, bits, 32);
      const auto w = model::to_packed_weight(q, "layer");
      // The layout keeps scales in fp16; with the record's scales rounded the same way the two agree exactly.
      auto expected = q;
      expected.scales = q.scales.to(torch::kHalf).to(torch::kFloat);
      QCOMPARE(relative_error(kernels::dequantize_reference(w), expected.dequantized_weight()), 0.0);
    }
  }

  void forwardMatchesTheDequantizedOp() {
    torch::manual_seed(2);
    auto q = test::random_layer(40, 64, 4, 32);
    q.bias = torch::randn({40});
    q.lora_a = torch::randn({2, 64}) * 0.1;
    q.lora_b = torch::randn({40, 2}) * 0.1;
    auto shared = std::make_shared<const quant::QuantizedLinear>(q);
    const model::QuantizedLinearOp dense(shared, torch::kCPU, torch::kFloat);
    const model::PackedLinearOp packed(shared, "layer", torch::kCPU, torch::kFloat);
    auto x = torch::randn({3, 7, 64});
    QVERIFY(relative_error(packed.forward(x), dense.forward(x)) < 1e-3);
    QVERIFY(relative_error(packed.dense_weight(), dense.dense_weight()) < 1e-3);
  }

  void unsupportedLayerNamesItself() {
    auto q = test::random_layer(8, 48, 4, 16);
    const auto message =
        test::error_of<ArgumentError>([&] { model::to_packed_weight(q, "model.layers.3.mlp.up_proj"); });
    QVERIFY2(message.contains("model.layers.3.mlp.up_proj") && message.contains("48"), qPrintable(message));
  }

  // GPTQ, AWQ and compressed-tensors words → codes/zeros → PackedWeight → back:
  // the kernels' layout converts from and to every export layout bit for bit.
  void exportLayoutsConvertThroughThePackedLayout() {
    torch::manual_seed(3);
    const int64_t out = 64, in = 128, group = 32;
    for (int bits : {2, 3, 4, 8}) {
      auto q = test::random_layer(out, in, bits, group);
      q.zeros = q.zeros.clamp_min(1);  // GPTQ v1 cannot store a zero point of 0
      const auto qweight = checkpoint::gptq_pack_weight(q.codes, bits);
      const auto qzeros = checkpoint::gptq_pack_zeros(q.zeros, bits);
      const auto packed = kernels::pack_weight(quant::unpack_codes(checkpoint::gptq_weight_as_packed(qweight, bits, in), bits, in), q.scales,
                                               checkpoint::gptq_unpack_zeros(qzeros, bits, out), bits, group);
      const auto back = kernels::unpack_weight(packed);
      QVERIFY(torch::equal(checkpoint::gptq_pack_weight(back.codes, bits), qweight));
      QVERIFY(torch::equal(checkpoint::gptq_pack_zeros(back.zeros, bits), qzeros));
      if (bits == 4 || bits == 8) {
        const auto ct = checkpoint::ct_pack_weight(q.codes, bits);
        const auto from_ct =
            kernels::pack_weight(quant::unpack_codes(checkpoint::ct_weight_as_packed(ct, bits, in), bits, in), q.scales,
                                 q.zeros, bits, group);
        QVERIFY(torch::equal(checkpoint::ct_pack_weight(kernels::unpack_weight(from_ct).codes, bits), ct));
      }
      if (bits == 4) {
        const auto awq = checkpoint::awq_pack(q.codes.t().to(torch::kInt));
        const auto codes = checkpoint::awq_unpack(awq, in).t().to(torch::kByte);
        const auto from_awq = kernels::pack_weight(codes, q.scales, q.zeros, bits, group);
        QVERIFY(torch::equal(checkpoint::awq_pack(kernels::unpack_weight(from_awq).codes.t().to(torch::kInt)), awq));
      }
    }
  }

  // The quantized model gives the same next-token loss on the packed kernels
  // (the CPU fallback here; packaging/gpu_check.sh does it on CUDA).
  void quantizedModelRunsOnThePackedKernels() {
    model::Decoder dec(test::make_tiny_llama(test::tiny_config(), 7), torch::kCPU, torch::kFloat);
    test::run_method(dec, "rtn");
    torch::manual_seed(9);
    auto ids = torch::randint(0, dec.config().vocab_size, {2, 24}, torch::kLong);
    auto loss = [&] {
      auto logits = dec.forward(ids);
      return torch::nn::functional::cross_entropy(logits.narrow(1, 0, 23).reshape({-1, logits.size(2)}),
                                                  ids.narrow(1, 1, 23).reshape({-1}))
          .item<double>();
    };
    const auto dense_logits = dec.forward(ids);
    const double dense = loss();
    const auto swap = model::use_packed_kernels(dec);
    QCOMPARE(swap.packed, dec.num_layers() * 7);
    QVERIFY(swap.skipped.empty());
    QVERIFY(std::dynamic_pointer_cast<const model::PackedLinearOp>(dec.linear(0, model::LinearRole::Down)) != nullptr);
    QVERIFY(relative_error(dec.forward(ids), dense_logits) < 1e-3);
    QVERIFY(std::abs(loss() / dense - 1) < 1e-3);
  }
};

QS_REGISTER_TEST(TestPackedLinearOp);
#include "test_packed_linear_op.moc"

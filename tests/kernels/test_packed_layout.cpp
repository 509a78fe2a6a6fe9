// The PackedWeight layout: pack → unpack is exact for every bit width, group and
// act-order, the words hold the fields the kernels' header documents, and bad
// arguments are refused with a message naming them.

#include <stdexcept>

#include "kernels/packed_matmul.h"
#include "kernels/packed_weight.h"
#include "tests/kernels/check.h"
#include "tests/kernels/kernel_fixtures.h"

using namespace qs;

QS_KERNEL_CASE(pack_unpack_is_exact) {
  for (int bits : {2, 3, 4, 8})
    for (auto [out, in, group] : {std::tuple{37, 96, 32}, {64, 576, 128}, {16, 1536, 64}, {5, 160, 160}})
      for (bool act_order : {false, true}) {
        const auto q = test::random_quantized(out, in, bits, group, act_order, bits * 1000 + in);
        const auto w = kernels::pack_weight(q.codes, q.scales, q.zeros, bits, group, q.g_idx);
        const auto u = kernels::unpack_weight(w);
        const auto what = test::label(bits, out, in, group) + (act_order ? " act-order" : "");
        QS_CHECK(w.qweight.size(1) == in / 32 * bits, what + ": words per row");
        QS_CHECK(at::equal(u.codes, q.codes), what + ": codes");
        QS_CHECK(at::equal(u.zeros, q.zeros), what + ": zeros");
        QS_CHECK(at::equal(u.scales, q.scales), what + ": scales");
        QS_CHECK(test::relative_error(kernels::dequantize_reference(w), test::dequantized(q)) == 0.0,
                 what + ": reference dequantization");
      }
}

// Field k of a word of n codes holds code k < n/2 ? 2k : 2(k − n/2) + 1.
QS_KERNEL_CASE(words_hold_the_documented_fields) {
  auto codes = at::arange(32, at::kLong).remainder(16).to(at::kByte).unsqueeze(0);
  auto scales = at::ones({1, 1});
  auto zeros = at::zeros({1, 1}, at::kInt);
  auto w4 = kernels::pack_weight(codes, scales, zeros, 4, 32).qweight;
  // Codes 0..7 in fields 0..7 as 0,2,4,6,1,3,5,7.
  QS_CHECK(static_cast<uint32_t>(w4[0][0].item<int32_t>()) == 0x75316420u, "4-bit word 0");
  QS_CHECK(static_cast<uint32_t>(w4[0][1].item<int32_t>()) == 0xfdb9eca8u, "4-bit word 1");

  auto w8 = kernels::pack_weight(codes, scales, zeros, 8, 32).qweight;
  QS_CHECK(static_cast<uint32_t>(w8[0][0].item<int32_t>()) == 0x03010200u, "8-bit word 0: codes 0,2,1,3");

  // 3 bits: two words of the low two bits, then the high bits, odd codes in the top half.
  auto c3 = at::full({1, 32}, 0, at::kByte);
  c3[0][1] = 4;  // only the high bit of code 1: field 16 of the high-bit word
  c3[0][2] = 7;  // code 2: low bits 3 in field 1 of word 0, high bit in field 1
  auto w3 = kernels::pack_weight(c3, scales, zeros, 3, 32).qweight;
  QS_CHECK(static_cast<uint32_t>(w3[0][0].item<int32_t>()) == 0x0000000cu, "3-bit low plane word 0");
  QS_CHECK(w3[0][1].item<int32_t>() == 0, "3-bit low plane word 1");
  QS_CHECK(static_cast<uint32_t>(w3[0][2].item<int32_t>()) == 0x00010002u, "3-bit high plane");
}

QS_KERNEL_CASE(unsupported_shapes_are_refused_by_name) {
  const auto q = test::random_quantized(8, 64, 4, 32);
  QS_CHECK(test::invalid_argument_message([&] { kernels::pack_weight(q.codes, q.scales, q.zeros, 5, 32); }).find("5") != std::string::npos,
           "5 bits");
  QS_CHECK(kernels::unsupported_reason(4, 48, 48).find("in_features 48") != std::string::npos, "48 columns");
  QS_CHECK(kernels::unsupported_reason(4, 64, 16).find("group size 16") != std::string::npos, "group 16");
  QS_CHECK(test::invalid_argument_message([&] { kernels::pack_weight(q.codes, q.scales.narrow(1, 0, 1), q.zeros, 4, 32); })
                   .find("scales must be [8, 2]") != std::string::npos,
           "scales shape");
  auto bad_codes = q.codes.clone();
  bad_codes[0][0] = 16;
  QS_CHECK(test::invalid_argument_message([&] { kernels::pack_weight(bad_codes, q.scales, q.zeros, 4, 32); }).find("code") !=
               std::string::npos,
           "code out of range");
  auto bad_gidx = at::zeros({64}, at::kInt);
  QS_CHECK(test::invalid_argument_message([&] { kernels::pack_weight(q.codes, q.scales, q.zeros, 4, 32, bad_gidx); }).find("g_idx") !=
               std::string::npos,
           "g_idx with one group taking every column");
}

#include "core/io/ggml_dequant.h"

#include <array>
#include <bit>
#include <cstring>

#include "core/error.h"
#include "core/io/ggml_dequant_low_bit.h"
#include "core/io/ggml_half.h"

// GGUF is little-endian and blocks are read by memcpy into host integers.
static_assert(std::endian::native == std::endian::little, "GGUF reading assumes a little-endian host");

namespace qs::io {
namespace {

// Each block function dequantizes one block: src points at its first byte, y
// receives ggml_block_size(type) floats. The arithmetic mirrors ggml's
// reference kernels term by term (int code converted to float, then scaled,
// then offset) so results are bit-identical, not merely close.

void block_f16(const uint8_t* src, float* y) { *y = ggml_half_at(src); }

void block_bf16(const uint8_t* src, float* y) {
  uint16_t b;
  std::memcpy(&b, src, 2);
  *y = std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

// Q4_0: f16 d, 16 bytes of nibbles; low nibbles are elements 0..15, high
// nibbles 16..31, both offset by 8.
void block_q4_0(const uint8_t* src, float* y) {
  const float d = ggml_half_at(src);
  const uint8_t* qs = src + 2;
  for (int j = 0; j < 16; ++j) {
    const int x0 = (qs[j] & 0x0F) - 8;
    const int x1 = (qs[j] >> 4) - 8;
    y[j] = static_cast<float>(x0) * d;
    y[j + 16] = static_cast<float>(x1) * d;
  }
}

// Q4_1: f16 d, f16 m (the block minimum), nibbles as Q4_0 without offset.
void block_q4_1(const uint8_t* src, float* y) {
  const float d = ggml_half_at(src);
  const float m = ggml_half_at(src + 2);
  const uint8_t* qs = src + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// Q5_0/Q5_1: as Q4_0/Q4_1 plus a 32-bit word whose bit j is the fifth bit of
// element j.
void block_q5_0(const uint8_t* src, float* y) {
  const float d = ggml_half_at(src);
  uint32_t qh;
  std::memcpy(&qh, src + 2, 4);
  const uint8_t* qs = src + 6;
  for (int j = 0; j < 16; ++j) {
    const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    const int x0 = ((qs[j] & 0x0F) | hi0) - 16;
    const int x1 = ((qs[j] >> 4) | hi1) - 16;
    y[j] = static_cast<float>(x0) * d;
    y[j + 16] = static_cast<float>(x1) * d;
  }
}

void block_q5_1(const uint8_t* src, float* y) {
  const float d = ggml_half_at(src);
  const float m = ggml_half_at(src + 2);
  uint32_t qh;
  std::memcpy(&qh, src + 4, 4);
  const uint8_t* qs = src + 8;
  for (int j = 0; j < 16; ++j) {
    const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    y[j] = static_cast<float>((qs[j] & 0x0F) | hi0) * d + m;
    y[j + 16] = static_cast<float>((qs[j] >> 4) | hi1) * d + m;
  }
}

// Q8_0: f16 d, 32 signed bytes.
void block_q8_0(const uint8_t* src, float* y) {
  const float d = ggml_half_at(src);
  const auto* qs = reinterpret_cast<const int8_t*>(src + 2);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// IQ4_NL and IQ4_XS map each 4-bit code through one non-uniform table.
constexpr std::array<int8_t, 16> kIq4Values = {-127, -104, -83, -65, -49, -35, -22, -10,
                                               1,    13,   25,  38,  53,  69,  89,  113};

// 16 bytes of nibbles for 32 elements (low nibbles 0..15, high 16..31), scaled by dl.
void iq4_nibbles(const uint8_t* qs, float dl, float* y) {
  for (int j = 0; j < 16; ++j) {
    y[j] = dl * static_cast<float>(kIq4Values[qs[j] & 0x0F]);
    y[j + 16] = dl * static_cast<float>(kIq4Values[qs[j] >> 4]);
  }
}

// IQ4_NL: f16 d, then 32 table codes.
void block_iq4_nl(const uint8_t* src, float* y) { iq4_nibbles(src + 2, ggml_half_at(src), y); }

// IQ4_XS: f16 d, a 16-bit word of the scales' high 2 bits, 4 bytes of their
// low nibbles, then 8 sub-blocks of 32 table codes; sub-block i's scale is a
// 6-bit value less 32.
void block_iq4_xs(const uint8_t* src, float* y) {
  const float d = ggml_half_at(src);
  uint16_t scales_h;
  std::memcpy(&scales_h, src + 2, 2);
  const uint8_t* scales_l = src + 4;
  const uint8_t* qs = src + 8;
  for (int i = 0; i < 8; ++i) {
    const int low = (scales_l[i / 2] >> (4 * (i % 2))) & 0x0F;
    const int high = (scales_h >> (2 * i)) & 0x03;
    iq4_nibbles(qs + 16 * i, d * static_cast<float>((low | (high << 4)) - 32), y + 32 * i);
  }
}

// K-quant super-blocks of 256 hold 8 sub-blocks of 32 with a 6-bit scale and
// a 6-bit min each, packed into 12 bytes: bytes 0-3 carry the low 6 bits of
// scales 0-3 (top 2 bits: high bits of scales 4-7), bytes 4-7 the same for
// mins, bytes 8-11 the low nibbles of scales/mins 4-7.
void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q4_K: f16 d, f16 dmin, 12 scale bytes, 128 bytes of nibbles. Each 32-byte
// run of nibbles covers 64 elements: low nibbles the first sub-block, high
// nibbles the next.
void block_q4_k(const uint8_t* src, float* y) {
  const float d = ggml_half_at(src);
  const float dmin = ggml_half_at(src + 2);
  const uint8_t* scales = src + 4;
  const uint8_t* q = src + 16;
  for (int is = 0; is < 8; is += 2, q += 32, y += 64) {
    uint8_t sc, m;
    scale_min_k4(is, scales, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) y[l] = d1 * static_cast<float>(q[l] & 0x0F) - m1;
    for (int l = 0; l < 32; ++l) y[l + 32] = d2 * static_cast<float>(q[l] >> 4) - m2;
  }
}

// Q5_K: Q4_K plus 32 bytes of fifth bits; bit 2k of qh[l] belongs to element
// l of sub-block 2k, bit 2k+1 to element l of sub-block 2k+1.
void block_q5_k(const uint8_t* src, float* y) {
  const float d = ggml_half_at(src);
  const float dmin = ggml_half_at(src + 2);
  const uint8_t* scales = src + 4;
  const uint8_t* qh = src + 16;
  const uint8_t* ql = src + 48;
  unsigned u1 = 1, u2 = 2;
  for (int is = 0; is < 8; is += 2, ql += 32, y += 64, u1 <<= 2, u2 <<= 2) {
    uint8_t sc, m;
    scale_min_k4(is, scales, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l)
      y[l] = d1 * static_cast<float>((ql[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l)
      y[l + 32] = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
  }
}

// Q6_K: 128 bytes of low nibbles, 64 bytes of 2-bit high parts, 16 signed
// 8-bit scales (one per 16 elements), f16 d. Each half (128 elements) reads
// 64 low-nibble bytes and 32 high bytes; the four 2-bit fields of qh[l] go to
// elements l, l+32, l+64, l+96.
void block_q6_k(const uint8_t* src, float* y) {
  const uint8_t* ql = src;
  const uint8_t* qh = src + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(src + 192);
  const float d = ggml_half_at(src + 208);
  for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
  }
}

using BlockFn = void (*)(const uint8_t*, float*);
using RowFn = void (*)(const uint8_t*, float*, int64_t blocks);

// The block function is a template argument so it inlines into the loop; a
// call per element would dominate for the plain float types.
template <BlockFn F, int64_t QK, size_t SZ>
void row_of(const uint8_t* src, float* y, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b) F(src + b * SZ, y + b * QK);
}

void row_f32(const uint8_t* src, float* y, int64_t n) { std::memcpy(y, src, n * sizeof(float)); }

struct TypeTraits {
  GgmlType type;
  const char* name;
  int64_t block_size;
  size_t type_size;
  RowFn dequant;  // nullptr: named and sized for validation only
};

// Sizes follow the block structs in ggml-common.h.
constexpr std::array<TypeTraits, 34> kTraits{{
    {GgmlType::F32, "F32", 1, 4, row_f32},
    {GgmlType::F16, "F16", 1, 2, row_of<block_f16, 1, 2>},
    {GgmlType::Q4_0, "Q4_0", 32, 18, row_of<block_q4_0, 32, 18>},
    {GgmlType::Q4_1, "Q4_1", 32, 20, row_of<block_q4_1, 32, 20>},
    {GgmlType::Q5_0, "Q5_0", 32, 22, row_of<block_q5_0, 32, 22>},
    {GgmlType::Q5_1, "Q5_1", 32, 24, row_of<block_q5_1, 32, 24>},
    {GgmlType::Q8_0, "Q8_0", 32, 34, row_of<block_q8_0, 32, 34>},
    {GgmlType::Q8_1, "Q8_1", 32, 36, nullptr},
    {GgmlType::Q2_K, "Q2_K", 256, 84, row_of<low_bit::block_q2_k, 256, 84>},
    {GgmlType::Q3_K, "Q3_K", 256, 110, row_of<low_bit::block_q3_k, 256, 110>},
    {GgmlType::Q4_K, "Q4_K", 256, 144, row_of<block_q4_k, 256, 144>},
    {GgmlType::Q5_K, "Q5_K", 256, 176, row_of<block_q5_k, 256, 176>},
    {GgmlType::Q6_K, "Q6_K", 256, 210, row_of<block_q6_k, 256, 210>},
    {GgmlType::Q8_K, "Q8_K", 256, 292, nullptr},
    {GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66, row_of<low_bit::block_iq2_xxs, 256, 66>},
    {GgmlType::IQ2_XS, "IQ2_XS", 256, 74, nullptr},
    {GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98, row_of<low_bit::block_iq3_xxs, 256, 98>},
    {GgmlType::IQ1_S, "IQ1_S", 256, 50, nullptr},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 18, row_of<block_iq4_nl, 32, 18>},
    {GgmlType::IQ3_S, "IQ3_S", 256, 110, nullptr},
    {GgmlType::IQ2_S, "IQ2_S", 256, 82, nullptr},
    {GgmlType::IQ4_XS, "IQ4_XS", 256, 136, row_of<block_iq4_xs, 256, 136>},
    {GgmlType::I8, "I8", 1, 1, nullptr},
    {GgmlType::I16, "I16", 1, 2, nullptr},
    {GgmlType::I32, "I32", 1, 4, nullptr},
    {GgmlType::I64, "I64", 1, 8, nullptr},
    {GgmlType::F64, "F64", 1, 8, nullptr},
    {GgmlType::IQ1_M, "IQ1_M", 256, 56, nullptr},
    {GgmlType::BF16, "BF16", 1, 2, row_of<block_bf16, 1, 2>},
    {GgmlType::TQ1_0, "TQ1_0", 256, 54, nullptr},
    {GgmlType::TQ2_0, "TQ2_0", 256, 66, nullptr},
    {GgmlType::MXFP4, "MXFP4", 32, 17, nullptr},
    {GgmlType::NVFP4, "NVFP4", 64, 36, nullptr},
    {GgmlType::Q1_0, "Q1_0", 128, 18, nullptr},
}};

const TypeTraits* find_traits(GgmlType type) {
  for (const auto& t : kTraits)
    if (t.type == type) return &t;
  return nullptr;
}

const TypeTraits& traits(GgmlType type) {
  const TypeTraits* t = find_traits(type);
  if (!t)
    throw ArgumentError("ggml type id " + std::to_string(static_cast<uint32_t>(type)) +
                        " is not defined");
  return *t;
}

}  // namespace

std::optional<GgmlType> ggml_type_from_id(uint32_t id) {
  const auto type = static_cast<GgmlType>(id);
  if (find_traits(type)) return type;
  return std::nullopt;
}

std::string ggml_type_name(GgmlType type) {
  if (const TypeTraits* t = find_traits(type)) return t->name;
  return "type " + std::to_string(static_cast<uint32_t>(type));
}

int64_t ggml_block_size(GgmlType type) { return traits(type).block_size; }

size_t ggml_type_size(GgmlType type) { return traits(type).type_size; }

bool ggml_can_dequantize(GgmlType type) {
  const TypeTraits* t = find_traits(type);
  return t && t->dequant;
}

void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n) {
  const TypeTraits& t = traits(type);
  if (!t.dequant)
    throw ArgumentError("dequantization of ggml type " + std::string(t.name) +
                        " is not supported");
  if (n < 0 || n % t.block_size != 0)
    throw ArgumentError("dequantize_row: " + std::to_string(n) + " elements is not a multiple of " +
                        t.name + "'s block size " + std::to_string(t.block_size));
  // An empty tensor's storage may be null, which memcpy must not see even for 0 bytes.
  if (n == 0) return;
  t.dequant(src, dst, n / t.block_size);
}

}  // namespace qs::io

#pragma once
// ggml tensor types: their names and block geometry, and dequantization of
// rows of the common types into float32, bit-exact with ggml's reference
// dequantize_row_* (same float operations in the same order).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace qs::io {

// Numeric ids as in ggml.h; they are what GGUF stores. Gaps are ids ggml has
// retired (4, 5: Q4_2/Q4_3; 31-33, 36-38: repacked layouts never stored).
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
};

// The type with this numeric id, or nullopt for ids ggml does not define.
std::optional<GgmlType> ggml_type_from_id(uint32_t id);

// "F32", "Q4_K", "BF16", ... (the enumerator's name); "type <id>" for an id
// outside the enumeration.
std::string ggml_type_name(GgmlType type);

// Elements per block (1 for plain types, 32 for Q8_0, 256 for K-quants).
int64_t ggml_block_size(GgmlType type);
// Bytes per block.
size_t ggml_type_size(GgmlType type);

// Whether dequantize_row handles the type.
bool ggml_can_dequantize(GgmlType type);

// Dequantizes n elements (a multiple of ggml_block_size(type)) read from src,
// which holds n / block_size blocks, into dst. src needs no alignment.
// Throws qs::ArgumentError for a type without dequantization or a bad n.
void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n);

}  // namespace qs::io

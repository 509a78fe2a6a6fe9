#pragma once
// Dequantizers of one block of ggml's 2- and 3-bit types, 256 elements each:
// the K-quants Q2_K and Q3_K and the lattice types IQ2_XXS and IQ3_XXS. Same
// contract as the block functions in ggml_dequant.cpp, which registers them.

#include <cstdint>

namespace qs::io::low_bit {

void block_q2_k(const uint8_t* src, float* y);
void block_q3_k(const uint8_t* src, float* y);
void block_iq2_xxs(const uint8_t* src, float* y);
void block_iq3_xxs(const uint8_t* src, float* y);

}  // namespace qs::io::low_bit

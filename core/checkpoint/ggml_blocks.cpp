#include "core/checkpoint/ggml_blocks.h"

#include <cstring>
#include <string>

#include "core/error.h"

namespace qs::checkpoint {
namespace {

void check(const torch::Tensor& values, const torch::Tensor& d, const char* type) {
  if (values.dim() != 2 || values.size(1) % kGgmlBlock != 0)
    throw ArgumentError(std::string(type) + ": rows must be 2-D with a multiple of 32 values");
  if (d.dim() != 2 || d.size(0) != values.size(0) || d.size(1) != values.size(1) / kGgmlBlock)
    throw ArgumentError(std::string(type) + ": one parameter per block of 32 expected");
}

// IEEE half bits of each value, as ggml_half stores them.
std::vector<uint16_t> half_bits(const torch::Tensor& t) {
  auto h = t.to(torch::kCPU).to(torch::kFloat16).contiguous();
  std::vector<uint16_t> out(static_cast<size_t>(h.numel()));
  std::memcpy(out.data(), h.data_ptr(), out.size() * 2);
  return out;
}

void put_half(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v & 0xff));
  out.push_back(static_cast<uint8_t>(v >> 8));
}

void put_nibbles(std::vector<uint8_t>& out, const uint8_t* x) {
  for (int j = 0; j < 16; ++j) out.push_back(static_cast<uint8_t>((x[j] & 0x0f) | ((x[j + 16] & 0x0f) << 4)));
}

torch::Tensor nibbles(const torch::Tensor& codes, const char* type) {
  auto c = codes.to(torch::kCPU).contiguous();
  if (c.scalar_type() != torch::kUInt8 || (c.numel() > 0 && c.max().item<int64_t>() > 15))
    throw ArgumentError(std::string(type) + ": codes must be uint8 below 16");
  return c;
}

}  // namespace

std::vector<uint8_t> encode_q4_0(const torch::Tensor& codes, const torch::Tensor& d) {
  check(codes, d, "Q4_0");
  const auto c = nibbles(codes, "Q4_0");
  const auto dh = half_bits(d);
  const int64_t blocks = c.numel() / kGgmlBlock;
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(blocks * 18));
  const uint8_t* x = c.data_ptr<uint8_t>();
  for (int64_t b = 0; b < blocks; ++b) {
    put_half(out, dh[static_cast<size_t>(b)]);
    put_nibbles(out, x + b * kGgmlBlock);
  }
  return out;
}

std::vector<uint8_t> encode_q4_1(const torch::Tensor& codes, const torch::Tensor& d, const torch::Tensor& m) {
  check(codes, d, "Q4_1");
  check(codes, m, "Q4_1");
  const auto c = nibbles(codes, "Q4_1");
  const auto dh = half_bits(d), mh = half_bits(m);
  const int64_t blocks = c.numel() / kGgmlBlock;
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(blocks * 20));
  const uint8_t* x = c.data_ptr<uint8_t>();
  for (int64_t b = 0; b < blocks; ++b) {
    put_half(out, dh[static_cast<size_t>(b)]);
    put_half(out, mh[static_cast<size_t>(b)]);
    put_nibbles(out, x + b * kGgmlBlock);
  }
  return out;
}

std::vector<uint8_t> encode_q8_0(const torch::Tensor& q, const torch::Tensor& d) {
  check(q, d, "Q8_0");
  auto c = q.to(torch::kCPU).contiguous();
  if (c.scalar_type() != torch::kInt8) throw ArgumentError("Q8_0: values must be int8");
  const auto dh = half_bits(d);
  const int64_t blocks = c.numel() / kGgmlBlock;
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(blocks * 34));
  const auto* x = reinterpret_cast<const uint8_t*>(c.data_ptr<int8_t>());
  for (int64_t b = 0; b < blocks; ++b) {
    put_half(out, dh[static_cast<size_t>(b)]);
    out.insert(out.end(), x + b * kGgmlBlock, x + (b + 1) * kGgmlBlock);
  }
  return out;
}

std::vector<uint8_t> encode_f16(const torch::Tensor& t) {
  const auto h = half_bits(t);
  std::vector<uint8_t> out(h.size() * 2);
  std::memcpy(out.data(), h.data(), out.size());
  return out;
}

std::vector<uint8_t> encode_f32(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU).to(torch::kFloat32).contiguous();
  std::vector<uint8_t> out(static_cast<size_t>(c.nbytes()));
  std::memcpy(out.data(), c.data_ptr(), out.size());
  return out;
}

}  // namespace qs::checkpoint

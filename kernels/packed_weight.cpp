#include "kernels/packed_weight.h"

#include <cstring>
#include <stdexcept>

namespace qs::kernels {
namespace {

// Field of code i among the n codes of one word (see the header): even codes
// fill the low half of the fields, odd codes the high half.
int field_of(int i, int n) { return (i % 2 == 0) ? i / 2 : n / 2 + i / 2; }

// Packs codes (each < 2^width) of one chunk into 32·width/32 = width words.
void pack_plane(const uint8_t* codes, int width, uint32_t mask, int shift, uint32_t* words) {
  const int n = 32 / width;
  for (int t = 0; t < width; ++t) {
    uint32_t word = 0;
    for (int i = 0; i < n; ++i) {
      const uint32_t q = (codes[t * n + i] >> shift) & mask;
      word |= q << (width * field_of(i, n));
    }
    words[t] = word;
  }
}

void unpack_plane(const uint32_t* words, int width, int shift, uint8_t* codes) {
  const int n = 32 / width;
  const uint32_t mask = (1u << width) - 1;
  for (int t = 0; t < width; ++t)
    for (int i = 0; i < n; ++i)
      codes[t * n + i] |= static_cast<uint8_t>(((words[t] >> (width * field_of(i, n))) & mask) << shift);
}

void pack_chunk(const uint8_t* codes, int bits, uint32_t* words) {
  if (bits == 3) {
    pack_plane(codes, 2, 3u, 0, words);
    pack_plane(codes, 1, 1u, 2, words + 2);
  } else {
    pack_plane(codes, bits, (1u << bits) - 1, 0, words);
  }
}

void unpack_chunk(const uint32_t* words, int bits, uint8_t* codes) {
  std::memset(codes, 0, 32);
  if (bits == 3) {
    unpack_plane(words, 2, 0, codes);
    unpack_plane(words + 2, 1, 2, codes);
  } else {
    unpack_plane(words, bits, 0, codes);
  }
}

[[noreturn]] void bad_pack(const std::string& what) { throw std::invalid_argument("pack_weight: " + what); }

}  // namespace

int64_t PackedWeight::weight_bytes() const { return qweight.numel() * 4 + scales.numel() * 2 + zeros.numel() * 2; }

PackedWeight PackedWeight::to(at::Device device) const {
  PackedWeight w = *this;
  w.qweight = qweight.to(device);
  w.scales = scales.to(device);
  w.zeros = zeros.to(device);
  if (perm.defined()) w.perm = perm.to(device);
  return w;
}

std::string unsupported_reason(int bits, int64_t in_features, int64_t group_size) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    return "the packed kernels take 2, 3, 4 or 8 bits, not " + std::to_string(bits);
  if (in_features <= 0 || in_features % 32 != 0)
    return "in_features " + std::to_string(in_features) + " is not a positive multiple of 32";
  if (group_size != in_features && group_size % 32 != 0)
    return "group size " + std::to_string(group_size) + " is not a multiple of 32";
  return {};
}

PackedWeight pack_weight(const at::Tensor& codes, const at::Tensor& scales, const at::Tensor& zeros, int bits,
                         int64_t group_size, const at::Tensor& g_idx) {
  if (!codes.defined() || codes.dim() != 2) bad_pack("codes must be a 2-D [out, in] tensor");
  const int64_t out = codes.size(0), in = codes.size(1);
  if (group_size <= 0) bad_pack("group_size must be positive");
  const int64_t group = std::min(group_size, in);
  if (auto why = unsupported_reason(bits, in, group); !why.empty()) bad_pack(why);
  const int64_t groups = (in + group - 1) / group;
  if (!scales.defined() || scales.sizes() != at::IntArrayRef({out, groups}))
    bad_pack("scales must be [" + std::to_string(out) + ", " + std::to_string(groups) + "]");
  if (!zeros.defined() || zeros.sizes() != at::IntArrayRef({out, groups}))
    bad_pack("zeros must be [" + std::to_string(out) + ", " + std::to_string(groups) + "]");

  auto c = codes.to(at::kCPU, at::kByte).contiguous();
  if (c.numel() && c.max().item<int64_t>() >= (int64_t{1} << bits))
    bad_pack("a code does not fit in " + std::to_string(bits) + " bits");
  auto z = zeros.to(at::kCPU, at::kInt);
  if (z.numel() && (z.min().item<int64_t>() < 0 || z.max().item<int64_t>() >= (int64_t{1} << bits)))
    bad_pack("a zero point does not fit in " + std::to_string(bits) + " bits");

  PackedWeight w;
  w.bits = bits;
  w.group_size = group;
  w.in_features = in;
  w.out_features = out;
  if (g_idx.defined()) {
    if (g_idx.dim() != 1 || g_idx.size(0) != in) bad_pack("g_idx must be [" + std::to_string(in) + "]");
    auto order = at::argsort(g_idx.to(at::kCPU, at::kLong), /*stable=*/true);
    auto sorted = g_idx.to(at::kCPU, at::kLong).index_select(0, order);
    // Sorted by group, column j must belong to group j / group_size, or a chunk
    // would mix groups: act-order checkpoints (GPTQ desc_act) satisfy this.
    auto expected = at::arange(in, at::kLong).div(group, "floor");
    if (!at::equal(sorted, expected)) bad_pack("g_idx does not assign exactly group_size columns to each group");
    if (!at::equal(order, at::arange(in, at::kLong))) {
      w.perm = order;
      c = c.index_select(1, order).contiguous();
    }
  }
  w.qweight = at::empty({out, in / 32 * bits}, at::kInt);
  const uint8_t* src = c.data_ptr<uint8_t>();
  auto* dst = reinterpret_cast<uint32_t*>(w.qweight.data_ptr<int32_t>());
  const int64_t chunks = in / 32;
  for (int64_t r = 0; r < out; ++r)
    for (int64_t k = 0; k < chunks; ++k) pack_chunk(src + r * in + k * 32, bits, dst + (r * chunks + k) * bits);
  w.scales = scales.to(at::kCPU, at::kHalf).contiguous();
  w.zeros = (z + 1024).to(at::kHalf).contiguous();
  return w;
}

UnpackedWeight unpack_weight(const PackedWeight& w) {
  auto q = w.qweight.to(at::kCPU).contiguous();
  auto codes = at::empty({w.out_features, w.in_features}, at::kByte);
  const auto* src = reinterpret_cast<const uint32_t*>(q.data_ptr<int32_t>());
  uint8_t* dst = codes.data_ptr<uint8_t>();
  const int64_t chunks = w.chunks();
  for (int64_t r = 0; r < w.out_features; ++r)
    for (int64_t k = 0; k < chunks; ++k)
      unpack_chunk(src + (r * chunks + k) * w.bits, w.bits, dst + r * w.in_features + k * 32);
  if (w.perm.defined()) {
    auto original = at::empty_like(codes);
    original.index_copy_(1, w.perm.to(at::kCPU), codes);
    codes = original;
  }
  return {codes, w.scales.to(at::kCPU, at::kFloat), (w.zeros.to(at::kCPU, at::kFloat) - 1024).round().to(at::kInt)};
}

}  // namespace qs::kernels

#pragma once
// A checkpoint's tensors written as Hugging Face transformers writes them: one
// model.safetensors when they fit in one shard, else numbered shards with
// model.safetensors.index.json naming each tensor's shard.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/io/safetensors.h"

namespace qs::io {

// transformers' default max_shard_size ("5GB").
inline constexpr uint64_t kDefaultShardBytes = 5'000'000'000;

// Writes `tensors`, in order, into `dir`: model.safetensors when their bytes
// fit in `max_shard_bytes`, else model-00001-of-0000N.safetensors shards of at
// most that many bytes (a larger tensor alone in its shard) and the index
// ({"metadata": {"total_size"}, "weight_map"}), each shard built a tensor at a
// time. Then removes what an earlier write left in the other layout (a
// model.safetensors, an index, shards of another count), so a loader finds
// only these. Returns the bytes written to the safetensors files.
uint64_t write_sharded_safetensors(const std::filesystem::path& dir, const std::vector<PendingTensor>& tensors,
                                   const std::map<std::string, std::string>& metadata,
                                   uint64_t max_shard_bytes = kDefaultShardBytes);

}  // namespace qs::io

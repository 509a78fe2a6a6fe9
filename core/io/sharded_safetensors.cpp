#include "core/io/sharded_safetensors.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"
#include "core/io/small_files.h"

namespace qs::io {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSingle = "model.safetensors";
constexpr const char* kIndex = "model.safetensors.index.json";

std::string shard_name(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return buf;
}

// Files of the layout not written now: the single file, the index, or shards
// whose names are not among `keep`.
void remove_stale(const fs::path& dir, bool sharded, const std::vector<std::string>& keep) {
  static const std::regex shard(R"(model-\d{5}-of-\d{5}\.safetensors)");
  std::error_code ec;
  if (sharded) {
    fs::remove(dir / kSingle, ec);
  } else {
    fs::remove(dir / kIndex, ec);
  }
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (std::regex_match(name, shard) && std::find(keep.begin(), keep.end(), name) == keep.end())
      fs::remove(e.path(), ec);
  }
}

}  // namespace

uint64_t write_sharded_safetensors(const fs::path& dir, const std::vector<PendingTensor>& tensors,
                                   const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes) {
  if (max_shard_bytes == 0) throw ArgumentError("write_sharded_safetensors: a shard must hold at least one byte");
  std::vector<std::vector<PendingTensor>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const auto& t : tensors) {
    const uint64_t n = data_bytes(t);
    if (!shards.back().empty() && in_shard + n > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(t);
    in_shard += n;
    total += n;
  }
  if (shards.size() == 1) {
    write_safetensors(dir / kSingle, tensors, metadata);
    remove_stale(dir, false, {});
    return fs::file_size(dir / kSingle);
  }
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  std::vector<std::string> names;
  uint64_t written = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    names.push_back(shard_name(i, shards.size()));
    write_safetensors(dir / names.back(), shards[i], metadata);
    written += fs::file_size(dir / names.back());
    for (const auto& t : shards[i]) weight_map[t.name] = names.back();
  }
  const nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_file_atomically(dir / kIndex, index.dump(2) + "\n");
  remove_stale(dir, true, names);
  return written;
}

}  // namespace qs::io

#include "core/io/json_error.h"
#include "core/io/safetensors_set.h"

#include <nlohmann/json.hpp>

#include <set>

#include "core/error.h"
#include "core/io/small_files.h"

namespace qs::io {
namespace fs = std::filesystem;

SafetensorsSet::SafetensorsSet(const std::vector<fs::path>& files, std::string source)
    : source_(source.empty() && !files.empty() ? files.front().string() : std::move(source)) {
  files_.reserve(files.size());
  for (const auto& f : files) {
    files_.emplace_back(f);
    for (const auto& e : files_.back().entries())
      if (!file_index_.emplace(e.name, files_.size() - 1).second)
        throw FormatError(f.string(), "tensor '" + e.name + "'",
                          "appears in two shards (also in " + files_[file_index_[e.name]].path().string() + ")");
  }
}

SafetensorsSet SafetensorsSet::of_directory(const fs::path& dir) {
  const fs::path index = dir / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index, ec)) return SafetensorsSet(index_shards(index), index.string());
  return SafetensorsSet({dir / "model.safetensors"});
}

const SafetensorsFile* SafetensorsSet::file_of(const std::string& name) const {
  const auto it = file_index_.find(name);
  return it == file_index_.end() ? nullptr : &files_[it->second];
}

std::vector<fs::path> index_shards(const fs::path& index) {
  const std::string file = index.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_small_file(index));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(file, "index", std::string("invalid JSON: ") + e.what(), io::json_error_offset(e));
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw FormatError(file, "weight_map", "missing or not an object");
  std::set<std::string> names;
  for (const auto& [tensor, shard] : j["weight_map"].items()) {
    if (!shard.is_string()) throw FormatError(file, "weight_map." + tensor, "not a file name");
    const auto name = shard.get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      throw FormatError(file, "weight_map." + tensor, "shard '" + name + "' is not a plain file name");
    names.insert(name);
  }
  std::vector<fs::path> out;
  for (const auto& n : names) out.push_back(index.parent_path() / n);
  return out;
}

}  // namespace qs::io

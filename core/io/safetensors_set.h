#pragma once
// The safetensors files of one checkpoint read as one: a single file, or the
// shards a model.safetensors.index.json names (as HF transformers and
// sharded_safetensors.h write them). Tensor names are unique across the set.

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/io/safetensors.h"

namespace qs::io {

class SafetensorsSet {
 public:
  // Opens every file; throws qs::FormatError naming the file and tensor when
  // a name appears in two of them, and what SafetensorsFile throws.
  // `source` names the set in errors; empty: the first file.
  explicit SafetensorsSet(const std::vector<std::filesystem::path>& files, std::string source = {});

  // dir/model.safetensors.index.json's shards when the index exists, else
  // dir/model.safetensors.
  static SafetensorsSet of_directory(const std::filesystem::path& dir);

  const std::vector<SafetensorsFile>& files() const { return files_; }
  // What an error about the set as a whole names: the index, or the one file.
  const std::string& source() const { return source_; }
  // The file holding `name`, or nullptr.
  const SafetensorsFile* file_of(const std::string& name) const;

 private:
  std::string source_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> file_index_;
};

// The shard files an index names ({"weight_map": {"tensor": "shard file"}}),
// each once, beside the index. Throws qs::IoError / qs::FormatError naming the
// index and the field (a shard name with a path in it included).
std::vector<std::filesystem::path> index_shards(const std::filesystem::path& index);

}  // namespace qs::io

#pragma once
// safetensors (Hugging Face) reader and writer. The reader maps the file and
// validates the JSON header completely before any tensor is touched; tensors
// are handed out as copies (load) or as views of the mapping (view).

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qs::io {

class MappedFile;

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as in the file: "F32", "F16", "BF16", "I32", ...
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // absolute offset in the file
  uint64_t nbytes = 0;
};

class SafetensorsFile {
 public:
  // Throws qs::IoError when unreadable, qs::FormatError naming the file and the
  // header field (tensor name, "dtype", "shape", "data_offsets") when invalid.
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&&) noexcept;

  const std::filesystem::path& path() const;
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsEntry* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // An owning CPU tensor with the stored dtype and shape (the file's pages
  // under it are released). Throws qs::FormatError when the name is absent.
  torch::Tensor load(const std::string& name) const;
  // The same tensor as bytes of the mapping (mapped_tensor.h), which it keeps
  // open; a copy when the file places it off its element alignment.
  torch::Tensor view(const std::string& name) const;

 private:
  const SafetensorsEntry& entry(const std::string& name) const;

  std::shared_ptr<const MappedFile> file_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Maps a torch dtype to the safetensors name and back; throws qs::ArgumentError
// / returns false for dtypes the format does not have.
std::string safetensors_dtype_name(torch::ScalarType t);
bool safetensors_dtype_from_name(const std::string& name, torch::ScalarType* out, size_t* elem_size);

// Writes tensors (any device, made contiguous on the CPU) in the order given,
// through a temporary file renamed into place so a crash leaves no half file.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// A tensor declared before it is built: the header needs every name, dtype and
// shape first, and a writer that builds each tensor only when its bytes are
// due holds one at a time however large the file.
struct PendingTensor {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  std::function<torch::Tensor()> build;  // a tensor of that dtype and shape, on any device
};
// A tensor that exists already, as a PendingTensor.
PendingTensor pending(std::string name, torch::Tensor t);
// The bytes its data takes in the file.
uint64_t data_bytes(const PendingTensor& t);

// As above, building each tensor when it is written and dropping it after.
// Throws qs::Error when a build gives another dtype or shape than declared.
void write_safetensors(const std::filesystem::path& path, const std::vector<PendingTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace qs::io

#pragma once
// Tensors that are bytes of a memory-mapped file, in the file's dtype: a
// checkpoint of any size opens without reading its weights, and a weight costs
// memory only while something computes with it.

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

namespace qs::io {

class MappedFile;

// A CPU tensor over `shape` elements of `type` at `offset`, zero-copy; it keeps
// the mapping alive. The caller checks the range against the file and names
// the file and field when it does not fit; a range outside the file or an
// unaligned offset here is a bug, asserted. The mapping is read-only:
// compute from the tensor, never in place on it.
torch::Tensor mapped_tensor(std::shared_ptr<const MappedFile> file, uint64_t offset, std::vector<int64_t> shape,
                            torch::ScalarType type);

// Whether `t` is (a view of) a tensor made by mapped_tensor.
bool is_mapped(const torch::Tensor& t);

// Drops the resident pages under a mapped tensor (MappedFile::release); a
// no-op for any other tensor.
void release_mapped_pages(const torch::Tensor& t);

// The tensor's bytes written to a new file in `dir`, mapped and unlinked: a
// mapped tensor equal to `t` whose pages the system can drop and read again,
// and whose file goes when the last view of it does. What a long run keeps of
// finished work (a block's codes) then leaves the resident set. Throws
// qs::IoError naming `dir` when the file cannot be written (a full disk).
torch::Tensor spill_to_file(const torch::Tensor& t, const std::filesystem::path& dir);
// How the spill files' names begin: a process killed between writing one and
// unlinking it leaves such a file, which whoever owns `dir` may remove.
inline constexpr const char* kSpillFilePrefix = "spill-";

}  // namespace qs::io

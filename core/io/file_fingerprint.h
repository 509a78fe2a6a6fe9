#pragma once
// A content fingerprint of a model file or checkpoint directory, stored in
// projects so that reopening one says when its model changed. Files up to
// 64 MiB are hashed whole; larger ones by their size, their first and last
// 4 MiB (where safetensors and GGUF keep their headers) and 64 evenly spaced
// 256 KiB samples, so a 100 GB checkpoint is fingerprinted in well under a
// second. That catches a replaced, re-exported or re-quantized file; it can
// miss an edit confined to a few unsampled bytes, which is the price of not
// reading the whole model on every open.

#include <filesystem>
#include <string>

namespace qs::io {

// "qsfp1:<16 hex digits>". A directory is fingerprinted over its config.json,
// *.safetensors, *.gguf and *.index.json files in name order. Throws
// qs::IoError naming the file when it cannot be read.
std::string file_fingerprint(const std::filesystem::path& path);

}  // namespace qs::io

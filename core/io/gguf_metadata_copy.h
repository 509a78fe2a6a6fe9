#pragma once
// Copies GGUF key/values from a file into a writer, keeping each value's type,
// e.g. a model's tokenizer.* metadata into a tokenizer-only GGUF.

#include <string>

#include "core/io/gguf_file.h"
#include "core/io/gguf_writer.h"

namespace qs::io {

// Every key starting with `prefix`, in file order. Returns how many.
int copy_gguf_metadata(const GgufFile& from, const std::string& prefix, GgufWriter& to);

}  // namespace qs::io

#pragma once
// The model families a GGUF holds, as llama.cpp names and describes them: the
// architecture names, and each family's metadata beyond Llama's (Gemma's
// options, experts, Phi-3's window and LongRoPE factor tensors), read into a
// ModelConfig and written back from one. Reader and exporter share this file
// so that what one writes the other reads.

#include <string>
#include <vector>

#include "core/io/gguf_file.h"
#include "core/io/gguf_writer.h"
#include "core/model/model_config.h"

namespace qs::checkpoint {

// The HF model_type of llama.cpp architecture `arch`; throws qs::ConfigError
// naming `source`'s general.architecture and the supported ones otherwise.
std::string gguf_model_type(const std::string& source, const std::string& arch);

// The llama.cpp architecture a model is exported as; throws
// qs::ArgumentError saying what GGUF export cannot write for it.
std::string gguf_export_arch(const model::ModelConfig& c);

// Sets what llama.cpp knows of family `arch` beyond Llama's layout: its
// metadata keys where present, the values llama.cpp assumes otherwise.
void read_gguf_family_options(const io::GgufFile& f, const std::string& arch, model::ModelConfig& c);

// Writes the family's keys (and Phi-3's rope factor tensors) for `arch`. Returns a note for each value llama.cpp
// would not assume for this model, written as a key that read_gguf_family_options
// and transformers read but a llama.cpp build may ignore.
std::vector<std::string> write_gguf_family_options(const model::ModelConfig& c, const std::string& arch,
                                                   io::GgufWriter& w);

}  // namespace qs::checkpoint

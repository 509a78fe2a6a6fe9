#include "core/checkpoint/quantscope_checkpoint.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/checkpoint/block_tensors.h"
#include "core/checkpoint/hf_config.h"
#include "core/checkpoint/tokenizer_files.h"
#include "core/error.h"
#include "core/io/atomic_directory.h"
#include "core/io/safetensors_set.h"
#include "core/io/sharded_safetensors.h"
#include "core/io/small_files.h"
#include "core/quant/quantized_linear.h"

namespace qs::checkpoint {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

constexpr const char* kMetaFile = "quantscope.json";

}  // namespace

void save_quantscope_checkpoint(const model::Decoder& decoder, const Provenance& provenance, const fs::path& dir,
                                uint64_t max_shard_bytes) {
  // Written beside `dir` and swapped in whole: a save stopped at any point
  // leaves an earlier checkpoint there intact.
  io::AtomicDirectory staged(dir);
  const fs::path& out = staged.path();
  const auto& c = decoder.config();
  NamedTensors tensors;
  auto add = [&](const std::string& name, const torch::Tensor& t) { tensors.push_back(io::pending(name, t)); };
  add("model.embed_tokens.weight", decoder.embed_weight());
  add("model.norm.weight", decoder.final_norm_weight());
  if (!c.tie_word_embeddings) add("lm_head.weight", decoder.lm_head_weight());

  ojson linears = ojson::object();
  for (int64_t l = 0; l < decoder.num_layers(); ++l) append_block_tensors(decoder, l, provenance, tensors, linears);
  io::write_file_atomically(out / "config.json", hf_config_to_json(c, hf_dtype_name(decoder.dtype())));
  io::write_sharded_safetensors(out, tensors, {{"format", "pt"}, {"quantscope", "1"}}, max_shard_bytes);
  if (!provenance.source_model.empty()) copy_tokenizer_files(provenance.source_model, out);

  ojson meta = {{"format", "quantscope"},
                {"format_version", kQuantscopeFormatVersion},
                {"source_model", recorded_path(provenance.source_model)},
                {"source_fingerprint", fingerprint_to_record(provenance)},
                {"dtype", hf_dtype_name(decoder.dtype())},
                {"linears", linears}};
  try {
    meta["run"] = ojson::parse(provenance.run_json);
  } catch (const nlohmann::json::exception& e) {
    throw ArgumentError(std::string("save_quantscope_checkpoint: run_json is not JSON: ") + e.what());
  }
  io::write_file_atomically(out / kMetaFile, meta.dump(2) + "\n");
  staged.commit();
}

bool is_quantscope_checkpoint(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kMetaFile, ec);
}

namespace {

// quantscope.json, checked as far as every reader needs: format, version, linears.
ojson read_meta(const fs::path& meta_path) {
  ojson meta = io::read_versioned_json(meta_path, "quantscope", kQuantscopeFormatVersion);
  if (!meta.contains("linears") || !meta["linears"].is_object())
    throw FormatError(meta_path.string(), "linears", "missing or not an object");
  return meta;
}

}  // namespace

Provenance read_quantscope_provenance(const fs::path& dir) {
  return provenance_fields(read_meta(dir / kMetaFile), (dir / kMetaFile).string());
}

model::ModelWeights load_quantscope_checkpoint(const fs::path& dir) {
  const fs::path meta_path = dir / kMetaFile;
  const std::string meta_file = meta_path.string();
  const ojson meta = read_meta(meta_path);

  model::ModelWeights w;
  w.source = dir;
  w.source_format = "quantscope";
  w.config = read_hf_config(dir / "config.json");
  const auto st = io::SafetensorsSet::of_directory(dir);
  std::set<std::string> used;
  for (auto& [name, q] : read_quantized_linears(meta["linears"], st, meta_file, used)) {
    w.source_dtypes[name + ".weight"] = "int" + std::to_string(q.spec.bits);
    w.quantized[name] = std::make_shared<const quant::QuantizedLinear>(std::move(q));
  }
  for (const auto& file : st.files())
    for (const auto& entry : file.entries()) {
      if (used.count(entry.name)) continue;
      const auto dot = entry.name.rfind('.');
      if (dot != std::string::npos && w.quantized.count(entry.name.substr(0, dot)) == 0 &&
          (entry.name.substr(dot) == ".qweight" || entry.name.substr(dot) == ".scales" ||
           entry.name.substr(dot) == ".qzeros"))
        throw FormatError(file.path().string(), "tensor '" + entry.name + "'",
                          "quantized tensor without an entry in " + meta_file);
      w.source_dtypes[entry.name] = entry.dtype;
      w.tensors[entry.name] = file.view(entry.name);
    }
  return w;
}

}  // namespace qs::checkpoint

#include "core/checkpoint/model_loader.h"

#include "core/checkpoint/gguf_model.h"
#include "core/checkpoint/hf_config.h"
#include "core/checkpoint/packed_checkpoint.h"
#include "core/checkpoint/peft_adapter_reader.h"
#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/error.h"
#include "core/io/safetensors_set.h"
#include "core/model/architecture.h"
#include "core/quant/quantized_linear.h"

namespace qs::checkpoint {
namespace {

namespace fs = std::filesystem;

template <class Map>
void rename_keys(Map& m, std::string (*logical_name)(const std::string&)) {
  Map out;
  for (auto& [name, value] : m) out.emplace(logical_name(name), std::move(value));
  m = std::move(out);
}

// A multimodal checkpoint's language model under the names of a language
// model checkpoint ("language_model.model.layers.0..." and, as transformers 5
// writes them, "model.language_model.layers.0..." become "model.layers.0...");
// the rest (vision tower, projector) is counted and dropped.
void take_language_model(model::ModelWeights& w) {
  static const std::pair<const char*, const char*> kPrefixes[] = {{"language_model.model.", "model."},
                                                                  {"model.language_model.", "model."},
                                                                  {"language_model.lm_head.", "lm_head."},
                                                                  {"lm_head.", "lm_head."}};
  std::map<std::string, torch::Tensor> tensors;
  std::map<std::string, std::string> dtypes;
  for (auto& [name, t] : w.tensors) {
    bool kept = false;
    for (const auto& [from, to] : kPrefixes)
      if (name.rfind(from, 0) == 0) {
        const auto renamed = to + name.substr(std::string(from).size());
        dtypes[renamed] = w.source_dtypes[name];
        tensors[renamed] = std::move(t);
        kept = true;
        break;
      }
    if (kept) continue;
    auto module = name.substr(0, name.find('.'));
    if (module == "model") module = name.substr(0, name.find('.', 6));  // model.vision_tower
    ++w.left_alone[module];
  }
  w.tensors = std::move(tensors);
  w.source_dtypes = std::move(dtypes);
}

// The checkpoint's names of the family's own (Mixtral's block_sparse_moe.*) replaced by the decoder's.
void to_logical_names(model::ModelWeights& w, std::string (*logical_name)(const std::string&)) {
  rename_keys(w.tensors, logical_name);
  rename_keys(w.deferred, logical_name);
  rename_keys(w.quantized, logical_name);
  rename_keys(w.source_dtypes, logical_name);
}

model::ModelWeights load_safetensors_model(const fs::path& dir, const std::vector<fs::path>& files) {
  model::ModelWeights w;
  w.source = dir;
  w.source_format = "safetensors";
  w.config = read_hf_config(dir / "config.json");
  const io::SafetensorsSet set(files);
  for (const auto& st : set.files()) {
    for (const auto& e : st.entries()) {
      // Every tensor stays bytes of the mapped file in its stored dtype until a
      // block computes with it (packed codes included: read_packed_linears
      // keeps them as views where the format's words are QuantScope's packing).
      w.source_dtypes[e.name] = e.dtype;
      w.tensors[e.name] = st.view(e.name);
    }
  }
  if (!w.config.multimodal_wrapper.empty()) take_language_model(w);
  if (has_quantization_config(dir / "config.json")) read_packed_linears(dir / "config.json", w);
  if (const auto* arch = model::find_architecture(w.config.architecture)) {
    if (arch->logical_name) to_logical_names(w, arch->logical_name);
    if (arch->split_fused) arch->split_fused(w);
  }
  return w;
}

// PyTorch's own format is a pickle, and unpickling runs whatever code the file names.
std::string refuse_pickle(const std::string& file) {
  return "holds " + file +
         ", PyTorch's pickled format, which QuantScope never loads (unpickling a file can run code it "
         "carries); convert the checkpoint to safetensors (transformers' save_pretrained writes them) and open that";
}

model::ModelWeights load_base(const fs::path& path) {
  if (!fs::exists(path)) throw IoError(path.string(), "no such file or directory");
  if (fs::is_regular_file(path)) {
    if (path.extension() == ".gguf") return load_gguf_model(path);
    if (path.extension() == ".safetensors") {
      auto w = load_safetensors_model(path.parent_path(), {path});
      w.source = path;
      return w;
    }
    if (const auto ext = path.extension(); ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".ckpt")
      throw IoError(path.string(), refuse_pickle(path.filename().string()));
    throw IoError(path.string(), "not a checkpoint (expected a .gguf or .safetensors file, or a directory)");
  }
  if (!fs::exists(path / "config.json")) throw IoError(path.string(), "directory has no config.json");
  if (is_quantscope_checkpoint(path)) return load_quantscope_checkpoint(path);
  if (fs::exists(path / "model.safetensors.index.json"))
    return load_safetensors_model(path, io::index_shards(path / "model.safetensors.index.json"));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(path))
    if (e.path().extension() == ".safetensors") files.push_back(e.path());
  if (files.empty()) {
    for (const char* pickled : {"pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "consolidated.00.pth"})
      if (fs::exists(path / pickled)) throw IoError(path.string(), refuse_pickle(pickled));
    throw IoError(path.string(), "directory has no *.safetensors file");
  }
  std::sort(files.begin(), files.end());
  return load_safetensors_model(path, files);
}

}  // namespace

model::ModelWeights load_model(const fs::path& path) {
  auto w = load_base(path);
  if (const auto adapter = adapter_beside(path); !adapter.empty()) read_peft_adapter(adapter, w);
  return w;
}

std::string left_alone_summary(const model::ModelWeights& w) {
  if (w.config.multimodal_wrapper.empty()) return {};
  std::string out = "the language model of " + w.config.multimodal_wrapper;
  std::string parts;
  for (const auto& [module, n] : w.left_alone)
    parts += (parts.empty() ? "" : ", ") + module + " (" + std::to_string(n) + (n == 1 ? " tensor)" : " tensors)");
  return out + (parts.empty() ? "" : "; left alone: " + parts);
}

int64_t parameter_count(const model::ModelWeights& w) {
  int64_t n = 0;
  for (const auto& [name, t] : w.tensors) n += t.numel();
  for (const auto& [name, d] : w.deferred) n += c10::multiply_integers(d.shape);
  for (const auto& [name, q] : w.quantized)
    n += q->in_features * q->out_features + (q->bias.defined() ? q->out_features : 0);
  return n;
}

}  // namespace qs::checkpoint

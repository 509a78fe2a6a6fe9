#include "core/checkpoint/packed_export.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "core/checkpoint/checkpoint_format.h"
#include "core/checkpoint/export_biases.h"
#include "core/checkpoint/gguf_export.h"
#include "core/checkpoint/hf_config.h"
#include "core/checkpoint/peft_adapter.h"
#include "core/checkpoint/tokenizer_files.h"
#include "core/error.h"
#include "core/io/atomic_directory.h"
#include "core/io/mapped_tensor.h"
#include "core/io/safetensors.h"
#include "core/io/sharded_safetensors.h"
#include "core/io/small_files.h"
#include "core/model/architecture.h"
#include "core/model/quantized_linear_op.h"
#include "core/quant/row_stack.h"

namespace qs::checkpoint {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

// The tensors `format` writes for one linear, declared by building them once
// and built again when written (a linear's tensors are built together and
// handed out one by one), so the export holds one linear's at a time.
void add_linear_tensors(const CheckpointFormat& format, const std::string& name,
                        std::shared_ptr<const quant::QuantizedLinear> q, torch::ScalarType dtype,
                        std::vector<io::PendingTensor>& out) {
  // Codes mapped from an opened checkpoint leave memory once repacked.
  const auto build = [&format, name, q, dtype](TensorList& out) {
    format.add_linear(name, *q, dtype, out);
    io::release_mapped_pages(q->packed_codes.defined() ? q->packed_codes : q->codes);
  };
  TensorList probe;
  build(probe);
  auto built = std::make_shared<TensorList>();
  for (size_t i = 0; i < probe.size(); ++i) {
    const auto& [tensor_name, t] = probe[i];
    out.push_back({tensor_name, t.scalar_type(), t.sizes().vec(), [build, built, i] {
                     if (built->size() <= i || !(*built)[i].second.defined()) {
                       built->clear();
                       build(*built);
                     }
                     return std::exchange((*built)[i].second, torch::Tensor());
                   }});
  }
}
std::unique_ptr<CheckpointFormat> make_format(Format f) {
  switch (f) {
    case Format::CompressedTensors:
      return make_compressed_tensors_format();
    case Format::Gptq:
      return make_gptq_format();
    case Format::GptqV2:
      return make_gptq_v2_format();
    case Format::Awq:
      return make_awq_format();
    case Format::Gguf:
    case Format::FakeQuant:
      break;
  }
  QS_ASSERT(false, "no safetensors layout for this export format");
}

std::string loading_hint(Format f) {
  switch (f) {
    case Format::CompressedTensors:
      return "HF transformers (with `compressed-tensors` installed) and vLLM load this directory as it is:\n"
             "`AutoModelForCausalLM.from_pretrained(dir)`, `vllm serve dir`.";
    case Format::Gptq:
      return "HF transformers (with `gptqmodel` installed), GPTQModel and vLLM load this directory as it is.";
    case Format::GptqV2:
      return "GPTQModel, and HF transformers with `gptqmodel` installed, load this directory as it is "
             "(checkpoint_format gptq_v2: zero points stored as they are).";
    case Format::Awq:
      return "HF transformers (with an AWQ kernel package installed) and vLLM load this directory as it is.";
    case Format::Gguf:
      return "llama.cpp runs `model.gguf` as it is: `llama-cli -m model.gguf`, `llama-perplexity -m model.gguf -f "
             "TEXT`.";
    case Format::FakeQuant:
      return "Fake-quantized: every quantized linear is stored as the dense weight it computes with (dequantized, "
             "its transform and low-rank branch folded in), so anything that loads the FP model loads this one "
             "(`AutoModelForCausalLM.from_pretrained(dir)`, evaluation harnesses, other methods' code).\n"
             "It computes what the quantized model computes, up to the rounding of the stored dtype, and saves no "
             "memory.";
  }
  return {};
}

constexpr std::string_view kCardTitle = "# Quantized with QuantScope";

std::string card(Format f, const ExportReport& r, const std::map<std::string, int>& specs, const json& run) {
  std::ostringstream s;
  s << kCardTitle << "\n\n"
    << "Format: **" << format_name(f) << "**. " << r.quantized_linears << " linear layers "
    << (f == Format::FakeQuant ? "dequantized" : "packed");
  if (!r.kept_fp.empty()) s << ", " << r.kept_fp.size() << " kept in floating point";
  s << ".\n\n| setting | layers |\n|---|---|\n";
  for (const auto& [spec, count] : specs) s << "| " << spec << " | " << count << " |\n";
  s << "\n";
  if (run.is_object() && !run.empty()) {
    if (run.contains("method")) s << "Method: " << run["method"].dump() << "\n\n";
    if (run.contains("calibration")) s << "Calibration: `" << run["calibration"].dump() << "`\n\n";
    if (run.contains("eval") && run["eval"].contains("ppl"))
      s << "Perplexity measured by QuantScope: " << run["eval"]["ppl"].dump() << " (FP "
        << run["eval"].value("ppl_fp", json(nullptr)).dump() << ", " << run["eval"].value("protocol", "")
        << " protocol, " << run["eval"].value("ctx", json(nullptr)).dump() << " tokens per window, text "
        << run["eval"].value("text", "") << ")\n\n";
    json shown = run;
    shown.erase("blocks");
    s << "<details><summary>Run</summary>\n\n```json\n" << shown.dump(2) << "\n```\n</details>\n\n";
  }
  s << loading_hint(f) << "\n";
  if (r.adapters > 0)
    s << "\n`adapter/` holds the low-rank side branches of " << r.adapters
      << " layers as a PEFT LoRA adapter (scaling 1, float32): `PeftModel.from_pretrained(model, dir + \"/adapter\")`"
      << (f == Format::Gguf ? "; llama.cpp's convert_lora_to_gguf.py turns it into a GGUF adapter" : "")
      << ". `quantscope-cli eval` reads it with the base.\n";
  return s.str();
}

}  // namespace

Format parse_format(const std::string& name) {
  if (name == "compressed-tensors") return Format::CompressedTensors;
  if (name == "gptq") return Format::Gptq;
  if (name == "gptq-v2") return Format::GptqV2;
  if (name == "awq") return Format::Awq;
  if (name == "gguf") return Format::Gguf;
  if (name == "fake-quant") return Format::FakeQuant;
  throw ArgumentError("unknown export format '" + name +
                      "' (compressed-tensors, gptq, gptq-v2, awq, gguf, fake-quant)");
}

std::string format_name(Format f) {
  if (f == Format::Gguf) return "gguf";
  if (f == Format::FakeQuant) return "fake-quant";
  return make_format(f)->name();
}

bool holds_export(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "README.md", ec)) return false;
  const std::string first = io::read_small_file(dir / "README.md").substr(0, kCardTitle.size());
  return first == kCardTitle;
}

namespace {

// A linear as the checkpoint stores it: one logical linear, or several fused
// (Phi-3's qkv_proj holds q, k and v), named as the family names it.
struct StoredModule {
  std::string name;
  std::vector<model::LinearRole> parts;
};

std::vector<StoredModule> stored_modules(const model::ModelConfig& c, int64_t layer) {
  std::vector<StoredModule> out;
  std::set<model::LinearRole> fused;
  const auto* arch = model::find_architecture(c.architecture);
  QS_ASSERT(arch, "a decoder's architecture is registered");
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  const auto roles = model::block_linear_roles(c, layer);
  for (auto role : roles) {
    if (fused.count(role)) continue;
    const std::string role_name = model::linear_role_name(role);
    bool placed = false;
    for (const auto& [module, parts] : arch->fused_linears) {
      if (std::find(parts.begin(), parts.end(), role_name) == parts.end()) continue;
      StoredModule m{p + std::string(module), {}};
      for (auto part : parts)
        for (auto r : roles)
          if (model::linear_role_name(r) == part) m.parts.push_back(r), fused.insert(r);
      out.push_back(std::move(m));
      placed = true;
    }
    if (!placed) out.push_back({model::linear_name(layer, role), {role}});
  }
  return out;
}

// The parts' biases joined, zeros for a part without one; undefined when none has one.
torch::Tensor module_bias(const ExportBiases& biases, int64_t layer, const StoredModule& m) {
  std::vector<torch::Tensor> parts;
  bool any = false;
  for (auto role : m.parts) {
    parts.push_back(biases.bias(layer, role));
    any = any || parts.back().defined();
  }
  if (!any) return {};
  if (parts.size() == 1) return parts.front();
  return torch::cat(parts, 0);
}

// Records and kept names under the stored modules' names: fused parts
// quantized alike become one record; parts all kept stay kept, under the fused name.
void fuse_stored_modules(const model::ModelConfig& c, int64_t layers, QuantizedMap& quantized,
                         std::vector<std::string>& kept_fp) {
  for (int64_t l = 0; l < layers; ++l)
    for (const auto& m : stored_modules(c, l)) {
      if (m.parts.size() == 1) continue;
      std::vector<std::shared_ptr<const quant::QuantizedLinear>> records;
      std::vector<std::string> names;
      for (auto role : m.parts) {
        names.push_back(model::linear_name(l, role));
        if (auto it = quantized.find(names.back()); it != quantized.end()) records.push_back(it->second);
      }
      if (!records.empty() && records.size() != names.size())
        throw ArgumentError("export: " + m.name + " is stored fused, and only some of its parts are quantized; "
                            "quantize all of them, or none, to export");
      for (const auto& n : names) {
        quantized.erase(n);
        kept_fp.erase(std::remove(kept_fp.begin(), kept_fp.end(), n), kept_fp.end());
      }
      if (records.empty())
        kept_fp.push_back(m.name);
      else
        quantized[m.name] = std::make_shared<const quant::QuantizedLinear>(quant::stack_rows(records, "export: " + m.name));
    }
}

}  // namespace

ExportReport export_checkpoint(const model::Decoder& decoder, const ExportOptions& options, const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw IoError(dir.string(), "exists and is not a directory");
  if (!options.tokenizer_source.empty()) {
    const auto& src = options.tokenizer_source;
    const fs::path src_dir = fs::is_directory(src, ec) ? src : src.parent_path();
    if (fs::exists(dir, ec) && fs::equivalent(dir, src_dir.empty() ? fs::path(".") : src_dir, ec))
      throw ArgumentError("export: " + dir.string() + " is the directory of the model being exported (" +
                          src.string() + "); writing there would replace the files it is read from");
  }
  json run;
  try {
    run = json::parse(options.provenance.run_json);
  } catch (const nlohmann::json::exception& e) {
    throw ArgumentError(std::string("export: run_json is not JSON: ") + e.what());
  }
  QuantizedMap quantized;
  std::vector<std::string> kept_fp;
  for (int64_t l = 0; l < decoder.num_layers(); ++l)
    for (auto role : decoder.linear_roles(l)) {
      const auto name = model::linear_name(l, role);
      const auto* qop = dynamic_cast<const model::QuantizedLinearOp*>(decoder.linear(l, role).get());
      if (qop)
        quantized[name] = std::make_shared<const quant::QuantizedLinear>(qop->record()->to(torch::kCPU));
      else
        kept_fp.push_back(name);
    }
  // The packed tensors hold the smoothing scales folded in, not the scales;
  // the provenance keeps them so the stored weights can be compared with the FP model's.
  auto provenance = options.provenance;
  provenance.checkpoint_file = options.format == Format::Gguf ? "model.gguf" : "";
  for (const auto& [name, q] : quantized)
    if (q->input_scale.defined()) provenance.input_scales[name] = q->input_scale;
  // Everything is written beside `dir` and swapped in at the end: an export
  // stopped at any point leaves an earlier one whole, and nothing of it
  // (an adapter, provenance a fake-quant export has none of) outlives it.
  io::AtomicDirectory staged(dir);
  const fs::path& out = staged.path();
  auto write_adapter = [&](ExportReport& report) {
    report.adapters = write_peft_adapter(quantized, fs::absolute(dir).string(), out / "adapter");
  };
  if (options.format == Format::Gguf) {
    const auto g = export_gguf(decoder, options.tokenizer_source, dir.filename().string(), out / "model.gguf");
    ExportReport report;
    report.quantized_linears = g.quantized_linears;
    report.kept_fp = g.kept_fp;
    report.bytes = g.bytes;
    report.notes = g.notes;
    report.quantization_config = json(g.tensor_types).dump();
    write_adapter(report);
    std::map<std::string, int> types(g.tensor_types.begin(), g.tensor_types.end());
    io::write_file_atomically(out / "README.md", card(options.format, report, types, run));
    write_provenance(provenance, out);
    staged.commit();
    return report;
  }
  fuse_stored_modules(decoder.config(), decoder.num_layers(), quantized, kept_fp);
  // From here on every name is the checkpoint's (Mixtral's block_sparse_moe.experts.3.w1).
  const auto stored = [&decoder](const std::string& name) { return model::stored_name(decoder.config(), name); };
  {
    QuantizedMap renamed;
    for (auto& [name, q] : quantized) renamed.emplace(stored(name), std::move(q));
    quantized = std::move(renamed);
    for (auto& name : kept_fp) name = stored(name);
  }
  const bool fake_quant = options.format == Format::FakeQuant;
  const auto format = fake_quant ? nullptr : make_format(options.format);
  const auto dtype_text = hf_dtype_name(options.dtype);
  if (quantized.empty()) throw ArgumentError("export: the model has no quantized linear layer (quantize it first)");
  if (format) format->check(quantized, kept_fp);

  const ExportBiases biases(decoder);
  const auto& c = biases.config();
  // Every tensor is built when its bytes are written, so an export holds one
  // tensor (one linear's, for a packed format) at a time.
  std::vector<io::PendingTensor> tensors;
  auto add_fp = [&](const std::string& name, std::vector<int64_t> shape, std::function<torch::Tensor()> make) {
    tensors.push_back({name, options.dtype, std::move(shape), [make = std::move(make), dtype = options.dtype] {
                         const auto source = make();
                         auto t = source.to(torch::kCPU).to(dtype).contiguous();
                         if (!t.is_same(source)) io::release_mapped_pages(source);  // an opened checkpoint's
                         return t;
                       }});
  };
  auto add_existing = [&](const std::string& name, const torch::Tensor& t) {
    add_fp(name, t.sizes().vec(), [t] { return t; });
  };
  const int64_t H = c.hidden_size;
  add_fp("model.embed_tokens.weight", {c.vocab_size, H}, [&decoder] { return decoder.embed_weight(); });
  add_existing("model.norm.weight", decoder.final_norm_weight());
  if (!c.tie_word_embeddings)
    add_fp("lm_head.weight", {c.vocab_size, H}, [&decoder] { return decoder.lm_head_weight(); });
  std::map<std::string, int> specs;
  for (int64_t l = 0; l < decoder.num_layers(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const auto& [name, t] : decoder.stored_block_tensors(l)) add_existing(stored(name), t);
    for (const auto& m : stored_modules(c, l)) {
      const auto name = stored(m.name);
      const auto bias = module_bias(biases, l, m);
      if (auto it = quantized.find(name); it != quantized.end()) {
        const auto q = it->second;
        if (format) {
          add_linear_tensors(*format, name, q, options.dtype, tensors);
          if (bias.defined() && !q->bias.defined()) add_existing(name + ".bias", bias);
        } else {
          add_fp(name + ".weight", {q->out_features, q->in_features}, [q] { return q->effective_weight(); });
          if (bias.defined()) add_existing(name + ".bias", bias);
        }
        ++specs[q->spec.label()];
        continue;
      }
      std::vector<std::shared_ptr<const model::LinearOp>> ops;
      int64_t rows = 0;
      for (auto role : m.parts) {
        ops.push_back(decoder.linear(l, role));
        rows += ops.back()->out_features();
      }
      add_fp(name + ".weight", {rows, ops.front()->in_features()}, [ops] {
        std::vector<torch::Tensor> parts;
        for (const auto& op : ops) {
          parts.push_back(op->dense_weight());
          op->release();  // a streamed model's block need not stay built
        }
        return parts.size() == 1 ? parts.front() : torch::cat(parts, 0);
      });
      if (bias.defined()) add_existing(name + ".bias", bias);
      ++specs["kept in " + dtype_text];
    }
  }

  ExportReport report;
  report.quantized_linears = static_cast<int64_t>(quantized.size());
  report.kept_fp = kept_fp;
  // A router or shared-expert gate is a linear to the loaders (nn.Linear in
  // transformers, a Linear in vLLM), and one a "Linear" target would otherwise cover.
  auto not_quantized = kept_fp;
  for (int64_t l = 0; l < decoder.num_layers(); ++l)
    for (const auto& [name, t] : decoder.stored_block_tensors(l))
      if (t.dim() == 2) not_quantized.push_back(stored(name.substr(0, name.size() - std::string(".weight").size())));
  const auto qconfig = format ? format->quantization_config(quantized, not_quantized) : json(nullptr);
  report.quantization_config = qconfig.dump();

  report.bytes = io::write_sharded_safetensors(out, tensors, {{"format", "pt"}}, options.max_shard_bytes);
  if (!options.tokenizer_source.empty()) copy_tokenizer_files(options.tokenizer_source, out);
  if (options.format == Format::Gptq || options.format == Format::GptqV2)
    io::write_file_atomically(out / "quantize_config.json", qconfig.dump(2) + "\n");
  if (!fake_quant) {  // a fake-quant export has its side branches folded in
    write_adapter(report);
    write_provenance(provenance, out);
  }
  io::write_file_atomically(out / "README.md", card(options.format, report, specs, run));
  auto config = json::parse(hf_config_to_json(c, dtype_text));
  if (format) config["quantization_config"] = qconfig;
  io::write_file_atomically(out / "config.json", config.dump(2) + "\n");
  staged.commit();
  return report;
}

}  // namespace qs::checkpoint

#include "core/checkpoint/gguf_export.h"

#include <optional>

#include "core/checkpoint/checkpoint_format.h"
#include "core/checkpoint/export_biases.h"
#include "core/checkpoint/ggml_blocks.h"
#include "core/checkpoint/gguf_families.h"
#include "core/checkpoint/gguf_tensor_map.h"
#include "core/error.h"
#include "core/io/gguf_file.h"
#include "core/io/gguf_metadata_copy.h"
#include "core/io/gguf_writer.h"
#include "core/model/quantized_linear_op.h"
#include "core/text/gguf_tokenizer_writer.h"

namespace qs::checkpoint {
namespace fs = std::filesystem;
using io::GgmlType;

namespace {

struct Encoded {
  io::GgmlType type;
  std::vector<uint8_t> data;
};

struct PendingLinear {
  io::GgmlType type;
  quant::QuantizedLinear record;
};

bool zeros_all(const quant::QuantizedLinear& q, int64_t value) { return q.zeros.eq(value).all().item<bool>(); }

io::GgmlType ggml_type_for(const std::string& name, const quant::QuantizedLinear& q) {
  refuse_transform(name, q, "GGUF");
  if (q.g_idx.defined() && !is_trivial_group_index(q.g_idx, q.spec.group_size))
    throw ArgumentError(name + " uses act-order groups, which ggml blocks cannot hold");
  const bool blocks_fit = q.in_features % kGgmlBlock == 0 && q.spec.group_size % kGgmlBlock == 0;
  if (blocks_fit && q.spec.bits == 4 && q.spec.symmetric && zeros_all(q, 8)) return io::GgmlType::Q4_0;
  if (blocks_fit && q.spec.bits == 4 && !q.spec.symmetric) return io::GgmlType::Q4_1;
  if (blocks_fit && q.spec.bits == 8 && q.spec.symmetric && zeros_all(q, 128)) return io::GgmlType::Q8_0;
  throw ArgumentError(name + " is " + q.spec.label() +
                      "; GGUF holds 4-bit (Q4_0 symmetric, Q4_1 asymmetric) and 8-bit symmetric (Q8_0) layers "
                      "whose group is a multiple of 32");
}

// Block parameters [rows, in/32] from the record's group parameters.
torch::Tensor per_block(const torch::Tensor& per_group, const quant::QuantizedLinear& q) {
  const auto group_of_block =
      torch::div(torch::arange(q.in_features / kGgmlBlock, torch::kInt64) * kGgmlBlock, q.spec.group_size, "floor");
  return per_group.index_select(1, group_of_block);
}

Encoded encode_linear(const quant::QuantizedLinear& q, io::GgmlType type, int64_t permute_heads) {
  auto rows = [&](torch::Tensor t) { return permute_heads > 0 ? permute_rows(t, permute_heads) : t; };
  const auto codes = rows(q.unpacked_codes());
  const auto d = rows(per_block(q.scales, q));
  switch (type) {
    case io::GgmlType::Q4_0:
      return {type, encode_q4_0(codes, d)};
    case io::GgmlType::Q4_1: {
      const auto m = rows(per_block(-q.scales * q.zeros.to(torch::kFloat32), q));
      return {type, encode_q4_1(codes, d, m)};
    }
    case io::GgmlType::Q8_0:
      return {type, encode_q8_0((codes.to(torch::kInt16) - 128).to(torch::kInt8), d)};
    default:
      break;
  }
  QS_ASSERT(false, "unexpected ggml type for a quantized linear");
}

std::vector<int64_t> ggml_ne(const std::vector<int64_t>& torch_shape) {
  return {torch_shape.rbegin(), torch_shape.rend()};
}

// Norms, biases and routers stay F32 as llama.cpp's converter keeps them;
// other matrices go F16.
Encoded encode_dense(const torch::Tensor& v, bool f32) {
  if (f32 || v.dim() == 1) return {io::GgmlType::F32, encode_f32(v)};
  return {io::GgmlType::F16, encode_f16(v)};
}

// A GGUF tensor joining several linears by rows (Phi-3's attn_qkv, an MoE's
// stacked experts): ggml blocks never cross a row, so the parts' encodings
// concatenate, provided every part is stored alike.
Encoded encode_joined(const GgufTensorName& t, const std::map<std::string, PendingLinear>& pending,
                      const std::map<std::string, torch::Tensor>& dense) {
  std::optional<Encoded> out;
  std::string first;
  for (const auto& part : t.parts) {
    Encoded enc;
    if (auto e = pending.find(part.hf); e != pending.end()) {
      enc = encode_linear(e->second.record, e->second.type, 0);
    } else {
      const auto d = dense.find(part.hf);
      QS_ASSERT(d != dense.end(), "tensor without a source: " + part.hf);
      enc = encode_dense(d->second.to(torch::kCPU).to(torch::kFloat32), t.f32);
    }
    if (!out) {
      out = std::move(enc);
      first = part.hf;
      continue;
    }
    if (enc.type != out->type)
      throw ArgumentError("GGUF export: " + t.gguf + " holds " + first + " and " + part.hf + " in one tensor, stored " +
                          io::ggml_type_name(out->type) + " and " + io::ggml_type_name(enc.type) +
                          "; quantize them alike (the same bits, group and symmetry, or both kept in FP)");
    out->data.insert(out->data.end(), enc.data.begin(), enc.data.end());
  }
  return std::move(*out);
}

// The tokenizer.* metadata of a GGUF (the model's, or the tokenizer.gguf a
// checkpoint of one holds) is copied as it is; otherwise the HF tokenizer.json
// beside the model is converted.
std::vector<std::string> add_tokenizer(const fs::path& source, int64_t vocab_size, io::GgufWriter& w) {
  std::error_code ec;
  const fs::path dir = fs::is_directory(source, ec) ? source : source.parent_path();
  fs::path gguf;
  if (fs::is_regular_file(source, ec) && source.extension() == ".gguf")
    gguf = source;
  else if (fs::is_regular_file(dir / "tokenizer.gguf", ec))
    gguf = dir / "tokenizer.gguf";
  if (!gguf.empty()) {
    const io::GgufFile tok(gguf);
    if (io::copy_gguf_metadata(tok, "tokenizer.", w) == 0)
      throw FormatError(tok.path().string(), "tokenizer.*", "the GGUF has no tokenizer metadata to copy");
    return {};
  }
  if (fs::is_regular_file(dir / "tokenizer.json", ec))
    return text::add_gguf_tokenizer(dir / "tokenizer.json", vocab_size, w);
  throw IoError(source.string(),
                "GGUF export needs the model's tokenizer: a GGUF's tokenizer metadata, or a tokenizer.json beside "
                "the model");
}

void write_hparams(const model::ModelConfig& c, const std::string& arch, const std::string& name,
                   io::GgmlType file_type, io::GgufWriter& w) {
  // llama.cpp's llama_ftype: the dominant type of the linears.
  const uint32_t ftype = file_type == io::GgmlType::Q4_0   ? 2
                         : file_type == io::GgmlType::Q4_1 ? 3
                         : file_type == io::GgmlType::Q8_0 ? 7
                                                           : 1;
  w.add_string("general.architecture", arch);
  w.add_string("general.name", name);
  w.add_uint32("general.file_type", ftype);
  w.add_string("general.quantized_by", "QuantScope");
  const std::string p = arch + ".";
  w.add_uint32(p + "context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.add_uint32(p + "embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.add_uint32(p + "block_count", static_cast<uint32_t>(c.num_layers));
  w.add_uint32(p + "feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.add_uint32(p + "attention.head_count", static_cast<uint32_t>(c.num_heads));
  w.add_uint32(p + "attention.head_count_kv", static_cast<uint32_t>(c.num_kv_heads));
  w.add_uint32(p + "attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.add_uint32(p + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.add_uint32(p + "rope.dimension_count", static_cast<uint32_t>(c.rotary_dim()));
  w.add_float32(p + "attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.add_float32(p + "rope.freq_base", static_cast<float>(c.rope_theta));
  w.add_uint32(p + "vocab_size", static_cast<uint32_t>(c.vocab_size));
  if (c.rope_scaling.type == "linear") {
    w.add_string(p + "rope.scaling.type", "linear");
    w.add_float32(p + "rope.scaling.factor", static_cast<float>(c.rope_scaling.factor));
  }
}

}  // namespace

GgufExportReport export_gguf(const model::Decoder& decoder, const fs::path& tokenizer_source, const std::string& name,
                             const fs::path& file) {
  const std::string arch = gguf_export_arch(decoder.config());
  const ExportBiases biases(decoder);
  const auto& c = biases.config();
  GgufExportReport report;
  // Every layer is checked (and encoded) before anything is written.
  std::map<std::string, PendingLinear> pending;  // by HF weight name
  std::map<std::string, int> linear_types;
  std::map<std::string, torch::Tensor> dense;
  for (int64_t l = 0; l < decoder.num_layers(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const auto& [name, norm] : decoder.stored_block_tensors(l)) dense[name] = norm;
    for (auto role : decoder.linear_roles(l)) {
      const auto lname = model::linear_name(l, role);
      const auto op = decoder.linear(l, role);
      if (const auto b = biases.bias(l, role); b.defined()) dense[lname + ".bias"] = b;
      const auto* qop = dynamic_cast<const model::QuantizedLinearOp*>(op.get());
      if (!qop) {
        dense[lname + ".weight"] = op->dense_weight();
        report.kept_fp.push_back(lname);
        continue;
      }
      auto q = qop->record()->to(torch::kCPU);
      const auto type = ggml_type_for(lname, q);
      pending.emplace(lname + ".weight", PendingLinear{type, std::move(q)});
      ++report.quantized_linears;
    }
  }
  dense["model.embed_tokens.weight"] = decoder.embed_weight();
  dense["model.norm.weight"] = decoder.final_norm_weight();
  if (!c.tie_word_embeddings) dense["lm_head.weight"] = decoder.lm_head_weight();

  io::GgmlType dominant = io::GgmlType::F16;
  int most = 0;
  for (const auto& [n, e] : pending)
    if (++linear_types[io::ggml_type_name(e.type)] > most) {
      most = linear_types[io::ggml_type_name(e.type)];
      dominant = e.type;
    }

  io::GgufWriter w;
  write_hparams(c, arch, name, dominant, w);
  report.notes = write_gguf_family_options(c, arch, w);
  for (auto& note : add_tokenizer(tokenizer_source, c.vocab_size, w)) report.notes.push_back(std::move(note));
  // As llama.cpp's converter writes it: without it transformers' GGUF reader
  // takes the family's default (Phi-3's 32000, past a small vocabulary).
  if (c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size && !w.has_key("tokenizer.ggml.padding_token_id"))
    w.add_uint32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(c.pad_token_id));

  for (const auto& t : gguf_tensor_map(c)) {
    if (!t.parts.empty()) {
      auto enc = encode_joined(t, pending, dense);
      ++report.tensor_types[io::ggml_type_name(enc.type)];
      w.add_tensor(t.gguf, enc.type, ggml_ne(t.shape), std::move(enc.data));
      continue;
    }
    if (auto e = pending.find(t.hf); e != pending.end()) {
      const auto& q = e->second.record;
      auto enc = encode_linear(q, e->second.type, t.permute_heads);
      w.add_tensor(t.gguf, enc.type, {q.in_features, q.out_features}, std::move(enc.data));
      ++report.tensor_types[io::ggml_type_name(enc.type)];
      continue;
    }
    auto d = dense.find(t.hf);
    if (d == dense.end()) {
      QS_ASSERT(!t.required, "tensor without a source: " + t.hf);
      continue;
    }
    auto v = d->second.to(torch::kCPU).to(torch::kFloat32).reshape(t.shape);
    if (t.added != 0.0) v = v + t.added;
    if (t.permute_heads > 0) v = permute_rows(v, t.permute_heads);
    auto enc = encode_dense(v, t.f32);
    w.add_tensor(t.gguf, enc.type, ggml_ne(t.shape), std::move(enc.data));
    ++report.tensor_types[io::ggml_type_name(enc.type)];
  }
  std::error_code ec;
  if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);
  w.write(file);
  report.bytes = fs::file_size(file);
  return report;
}

}  // namespace qs::checkpoint

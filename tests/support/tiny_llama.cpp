#include "tests/support/tiny_llama.h"

#include <fstream>

#include "core/checkpoint/hf_config.h"
#include "core/io/safetensors.h"
#include "core/model/linear_role.h"
#include "core/text/byte_level_bpe.h"

namespace qs::test {

model::ModelConfig tiny_config() {
  model::ModelConfig c;
  c.architecture = "llama";
  c.vocab_size = 101;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 256;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.torch_dtype = "float32";
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  return c;
}

model::ModelWeights make_tiny_llama(const model::ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  model::ModelWeights w;
  w.config = c;
  w.source = "tiny-llama";
  w.source_format = "memory";
  auto rnd = [](std::vector<int64_t> shape) { return torch::randn(shape) * 0.2; };
  auto norm = [](int64_t n) { return 1.0 + 0.1 * torch::randn({n}); };
  const int64_t H = c.hidden_size;
  const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  w.tensors["model.embed_tokens.weight"] = rnd({c.vocab_size, H});
  w.tensors["model.norm.weight"] = norm(H);
  if (!c.tie_word_embeddings) w.tensors["lm_head.weight"] = rnd({c.vocab_size, H});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    w.tensors[p + "input_layernorm.weight"] = norm(H);
    w.tensors[p + "post_attention_layernorm.weight"] = norm(H);
    for (auto role : model::block_linear_roles(c, l)) {
      const auto [out, in] = model::linear_shape(c, role);
      w.tensors[model::linear_name(l, role) + ".weight"] = rnd({out, in});
    }
    if (c.moe(l)) {
      w.tensors[p + "mlp.gate.weight"] = rnd({c.num_experts, H});
      if (c.shared_expert_intermediate_size > 0) w.tensors[p + "mlp.shared_expert_gate.weight"] = rnd({1, H});
    }
    if (c.attention_bias) {
      w.tensors[p + "self_attn.q_proj.bias"] = rnd({q});
      w.tensors[p + "self_attn.k_proj.bias"] = rnd({kv});
      w.tensors[p + "self_attn.v_proj.bias"] = rnd({kv});
    }
  }
  for (const auto& [name, t] : w.tensors) w.source_dtypes[name] = "F32";
  return w;
}

void write_hf_checkpoint(const model::ModelWeights& w, const std::filesystem::path& dir, torch::ScalarType dtype) {
  std::filesystem::create_directories(dir);
  const char* label = dtype == torch::kBFloat16 ? "bfloat16" : dtype == torch::kFloat16 ? "float16" : "float32";
  std::ofstream(dir / "config.json") << checkpoint::hf_config_to_json(w.config, label);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [name, t] : w.tensors) tensors.emplace_back(name, t.is_floating_point() ? t.to(dtype) : t);
  io::write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
}

void write_byte_tokenizer(const std::filesystem::path& dir) {
  std::string vocab;
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = text::ByteLevelBpe::byte_to_code_point(static_cast<uint8_t>(b));
    if (b) vocab.push_back(',');
    vocab.push_back('"');
    if (cp == '"' || cp == '\\') vocab.push_back('\\');
    if (cp < 0x80) {
      vocab.push_back(static_cast<char>(cp));
    } else {
      vocab.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      vocab.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    vocab += "\":" + std::to_string(b);
  }
  std::ofstream(dir / "tokenizer.json")
      << R"({"version":"1.0","added_tokens":[],"normalizer":null,)"
      << R"("pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},)"
      << R"("post_processor":null,"decoder":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},)"
      << R"("model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,)"
      << R"("end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":{)" << vocab
      << "},\"merges\":[]}}";
}

}  // namespace qs::test

#include "core/checkpoint/peft_adapter.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/io/small_files.h"

namespace qs::checkpoint {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

bool has_branch(const quant::QuantizedLinear& q) { return q.lora_a.defined() && q.lora_b.defined(); }

}  // namespace

int64_t count_side_branches(const QuantizedMap& quantized) {
  int64_t n = 0;
  for (const auto& [name, q] : quantized) n += has_branch(*q) ? 1 : 0;
  return n;
}

int64_t write_peft_adapter(const QuantizedMap& quantized, const std::string& base_model, const fs::path& dir) {
  TensorList tensors;
  std::map<int64_t, int64_t> rank_counts;
  std::vector<std::string> targets;
  json ranks = json::object();
  for (const auto& [name, q] : quantized) {
    if (!has_branch(*q)) continue;
    const int64_t r = q->lora_a.size(0);
    ++rank_counts[r];
    targets.push_back(name);
    ranks[name] = r;
    const std::string key = "base_model.model." + name;
    tensors.emplace_back(key + ".lora_A.weight", q->lora_a.to(torch::kCPU, torch::kFloat32).contiguous());
    tensors.emplace_back(key + ".lora_B.weight", q->lora_b.to(torch::kCPU, torch::kFloat32).contiguous());
  }
  if (targets.empty()) return 0;
  // The most common rank is the default; the others go to the patterns.
  int64_t rank = 0, most = 0;
  for (const auto& [r, n] : rank_counts)
    if (n > most) rank = r, most = n;
  json rank_pattern = json::object(), alpha_pattern = json::object();
  for (const auto& [name, r] : ranks.items())
    if (r.get<int64_t>() != rank) rank_pattern[name] = r, alpha_pattern[name] = r;

  json config;
  config["peft_type"] = "LORA";
  config["task_type"] = "CAUSAL_LM";
  config["base_model_name_or_path"] = base_model;
  config["r"] = rank;
  config["lora_alpha"] = rank;
  config["rank_pattern"] = rank_pattern;
  config["alpha_pattern"] = alpha_pattern;
  config["target_modules"] = targets;
  config["lora_dropout"] = 0.0;
  config["bias"] = "none";
  config["fan_in_fan_out"] = false;
  config["use_rslora"] = false;
  config["use_dora"] = false;
  config["inference_mode"] = true;

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError(dir.string(), "cannot create the adapter directory: " + ec.message());
  io::write_safetensors(dir / "adapter_model.safetensors", tensors, {{"format", "pt"}});
  io::write_file_atomically(dir / "adapter_config.json", config.dump(2) + "\n");
  return static_cast<int64_t>(targets.size());
}

}  // namespace qs::checkpoint

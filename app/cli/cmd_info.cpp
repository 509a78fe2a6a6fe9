#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/provenance.h"
#include "core/error.h"
#include "core/io/run_record.h"
#include "core/model/config_description.h"

namespace qs::cli {

int run_info(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {});
  if (args.positionals().size() != 1) throw ArgumentError("usage: quantscope-cli info MODEL");
  const auto w = checkpoint::load_model(args.positionals()[0]);
  const auto& c = w.config;
  std::map<std::string, int64_t> dtype_counts;
  for (const auto& [name, dtype] : w.source_dtypes) ++dtype_counts[dtype];
  const int64_t params = checkpoint::parameter_count(w);

  std::fprintf(stderr,
               "model         %s (%s)\n"
               "architecture  %s, %lld layers, hidden %lld, MLP %lld\n"
               "attention     %lld heads, %lld KV heads, head_dim %lld, rope_theta %g%s\n"
               "vocabulary    %lld tokens, %s embeddings\n"
               "parameters    %.1f M\n",
               w.source.string().c_str(), w.source_format.c_str(), c.architecture.c_str(),
               static_cast<long long>(c.num_layers), static_cast<long long>(c.hidden_size),
               static_cast<long long>(c.intermediate_size), static_cast<long long>(c.num_heads),
               static_cast<long long>(c.num_kv_heads), static_cast<long long>(c.head_dim), c.rope_theta,
               c.rope_scaling.type.empty() ? "" : (", " + c.rope_scaling.type + " scaling").c_str(),
               static_cast<long long>(c.vocab_size), c.tie_word_embeddings ? "tied" : "separate",
               static_cast<double>(params) / 1e6);
  std::string dtypes;
  for (const auto& [d, n] : dtype_counts) dtypes += (dtypes.empty() ? "" : ", ") + d + " x" + std::to_string(n);
  std::fprintf(stderr, "stored dtypes %s\n", dtypes.c_str());
  // What a quantized checkpoint records of how it was made.
  const auto provenance = checkpoint::read_provenance(w.source);
  std::map<std::string, int64_t> methods;
  for (const auto& [name, l] : provenance.linears) ++methods[l.method];
  const std::string fp_problem = provenance.source_model.empty()
                                     ? std::string()
                                     : checkpoint::recorded_fp_model_problem(w.source.string(), provenance);
  if (!provenance.source_model.empty())
    std::fprintf(stderr, "quantized from %s%s\n", provenance.source_model.string().c_str(),
                 fp_problem.empty() ? "" : (" (" + fp_problem + ")").c_str());
  std::vector<std::string> refinements;
  for (const auto& r : io::run_record(provenance.run_json).refinements)
    refinements.push_back(r.method.empty() ? "?" : r.method);
  if (!methods.empty()) {
    std::string list;
    for (const auto& [m, n] : methods) list += (list.empty() ? "" : ", ") + m + " x" + std::to_string(n);
    for (const auto& r : refinements) list += ", then " + r;
    std::fprintf(stderr, "methods       %s\n", list.c_str());
  }

  nlohmann::json j = {{"model", w.source.string()},
                      {"format", w.source_format},
                      {"architecture", c.architecture},
                      {"layers", c.num_layers},
                      {"hidden_size", c.hidden_size},
                      {"intermediate_size", c.intermediate_size},
                      {"heads", c.num_heads},
                      {"kv_heads", c.num_kv_heads},
                      {"head_dim", c.head_dim},
                      {"vocab_size", c.vocab_size},
                      {"tied_embeddings", c.tie_word_embeddings},
                      {"rope_theta", c.rope_theta},
                      {"parameters", params},
                      {"dtypes", dtype_counts}};
  const auto options = model::describe_family_options(c);
  if (!options.empty()) {
    auto& o = j["family_options"] = nlohmann::json::object();
    std::fprintf(stderr, "family options\n");
    for (const auto& [label, value] : options) {
      std::fprintf(stderr, "  %s: %s\n", label.c_str(), value.c_str());
      o[label] = value;
    }
  }
  if (const auto part = checkpoint::left_alone_summary(w); !part.empty()) {
    std::fprintf(stderr, "opened        %s\n", part.c_str());
    j["opened_part"] = part;
  }
  if (!provenance.source_model.empty()) j["quantized_from"] = provenance.source_model.string();
  if (!fp_problem.empty()) j["quantized_from_problem"] = fp_problem;
  if (!methods.empty()) j["methods"] = methods;
  if (!refinements.empty()) j["refinements"] = refinements;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace qs::cli

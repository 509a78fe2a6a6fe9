#include "core/model/quantized_linear_op.h"
#include "core/pipeline/pipeline.h"

#include <algorithm>
#include <chrono>
#include <map>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/analysis/layer_analysis.h"
#include "core/error.h"
#include "core/io/mapped_tensor.h"
#include "core/methods/method_registry.h"
#include "core/number_format.h"
#include "core/methods/block_context.h"
#include "core/methods/model_context.h"
#include "core/pipeline/refinement_run.h"
#include "core/pipeline/run_journal.h"

namespace qs::pipeline {

using methods::BlockContext;
using methods::LinearSlot;
using methods::map_batches;

namespace {

using model::LinearRole;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ‖out − ref‖² / ‖ref‖², in float32.
double relative_mse(const torch::Tensor& out, const torch::Tensor& ref) {
  const auto r = ref.to(torch::kFloat32);
  return (out.to(torch::kFloat32) - r).pow(2).sum().item<double>() / std::max(1e-30, r.pow(2).sum().item<double>());
}

// Linears of one block that share a method and its parameters run in one call.
struct MethodCall {
  const quant::Method* method;
  quant::MethodParams params;
  std::vector<LinearRole> roles;
  std::map<LinearRole, quant::QuantSpec> specs;
};

std::string params_key(const quant::MethodParams& p) {
  std::string key;
  for (const auto& [k, v] : p.values()) key += k + "=" + quant::to_string(v) + ";";
  return key;
}

std::vector<MethodCall> plan_block(int64_t layer, const std::map<LinearRole, LayerChoice>& choices) {
  std::vector<MethodCall> calls;
  std::map<std::string, size_t> index;
  for (const auto& [role, c] : choices) {
    if (c.keep_fp()) continue;
    const auto& m = methods::method_or_throw(c.method, model::linear_name(layer, role));
    if (role.expert != model::LinearRole::kNoExpert && !m.handles_experts())
      throw ArgumentError(model::linear_name(layer, role) + ": " + c.method +
                          " folds scales into the norm in front of the MLP, which an MoE block's router reads as "
                          "well, and does not quantize experts; give 'mlp.experts' and 'mlp.shared_expert' "
                          "another method (gptq, rtn, awq, lwc) in the layers config");
    const auto key = c.method + "|" + params_key(c.params);
    auto [it, fresh] = index.emplace(key, calls.size());
    if (fresh) calls.push_back({&m, c.params, {}, {}});
    calls[it->second].roles.push_back(role);
    calls[it->second].specs[role] = c.spec;
  }
  std::stable_sort(calls.begin(), calls.end(),
                   [](const MethodCall& a, const MethodCall& b) { return a.method->stage() < b.method->stage(); });
  return calls;
}

struct ErrorSums {
  double err = 0.0;
  double ref = 0.0;
};

// Linears that compose the same refinement with the same parameters are
// refined together, in one call.
struct RefinementCall {
  const quant::Refinement* refinement;
  quant::MethodParams params;
  std::vector<LinearSlot> slots;
};

std::vector<RefinementCall> plan_refinements(const std::vector<std::map<LinearRole, LayerChoice>>& choices) {
  std::vector<RefinementCall> calls;
  std::map<std::string, size_t> index;
  for (size_t l = 0; l < choices.size(); ++l)
    for (const auto& [role, c] : choices[l]) {
      if (!c.refined()) continue;
      const auto& r = methods::refinement_or_throw(c.then, model::linear_name(static_cast<int64_t>(l), role));
      auto [it, fresh] = index.emplace(c.then + "|" + params_key(c.then_params), calls.size());
      if (fresh) calls.push_back({&r, c.then_params, {}});
      calls[it->second].slots.push_back({static_cast<int64_t>(l), role});
    }
  return calls;
}

// Each block allocates and frees activations of a few sizes; glibc keeps the
// freed pieces in its arenas, and over 30 blocks that grows the resident set
// by gigabytes. Handing them back after each block keeps the peak at one block's.
void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}


// Moves the codes of block `layer`'s records to disk, packed: each record is
// replaced, in the results and the decoder alike, by one whose codes are a
// mapped file.
void spill_block_codes(model::Decoder& decoder, int64_t layer, std::vector<LayerResult>& layers,
                       const std::filesystem::path& dir) {
  for (auto& lr : layers) {
    if (lr.layer != layer || !lr.record || io::is_mapped(lr.record->packed_codes)) continue;
    const auto* op = dynamic_cast<const model::QuantizedLinearOp*>(decoder.linear(layer, lr.role).get());
    if (!op || op->record() != lr.record) continue;
    auto q = lr.record->with_packed_codes();
    q.packed_codes = io::spill_to_file(q.packed_codes, dir);
    lr.record = std::make_shared<const quant::QuantizedLinear>(std::move(q));
    decoder.set_linear(layer, lr.role,
                       std::make_shared<model::QuantizedLinearOp>(lr.record, decoder.device(), decoder.dtype()));
  }
}

// Tokens of x the router of block `layer` sends to each expert.
std::vector<int64_t> count_expert_tokens(model::Decoder& decoder, int64_t layer, const torch::Tensor& x, int64_t batch,
                                         const Feedback& feedback) {
  const int64_t experts = decoder.config().num_experts;
  auto counts = torch::zeros({experts}, torch::kLong);
  for (int64_t i = 0; i < x.size(0); i += batch) {
    feedback.check_cancelled();
    const auto chosen = decoder.expert_choices(layer, x.narrow(0, i, std::min(batch, x.size(0) - i)));
    counts += torch::bincount(chosen.flatten().to(torch::kCPU), {}, experts);
  }
  return {counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + experts};
}

void log_expert_tokens(const model::ModelConfig& c, const BlockResult& br, bool all_experts, Feedback& feedback) {
  const auto [lo, hi] = std::minmax_element(br.expert_tokens.begin(), br.expert_tokens.end());
  std::string line = "block " + std::to_string(br.layer) + ": calibration tokens per expert " + std::to_string(*lo) +
                     " to " + std::to_string(*hi);
  const auto starved = starved_experts(br, c.hidden_size);
  if (!starved.empty()) {
    std::string list;
    for (size_t i = 0; i < starved.size() && i < 8; ++i)
      list += (i ? ", " : "") + std::to_string(starved[i]) + " (" +
              std::to_string(br.expert_tokens[static_cast<size_t>(starved[i])]) + ")";
    if (starved.size() > 8) list += ", ...";
    line += "; " + std::to_string(starved.size()) + " below their " + std::to_string(c.hidden_size) +
            " inputs: " + list +
            (all_experts ? ", their statistics taken over every token"
                         : ", whose Hessians are rank-deficient (more calibration, or route every token through "
                           "every expert for statistics)");
  }
  feedback.log(line);
}

// Routes every token through every expert for as long as it lives.
class AllExpertsRouting {
 public:
  AllExpertsRouting(model::Decoder& decoder, bool on) : decoder_(decoder), was_(decoder.route_all_experts()) {
    decoder.set_route_all_experts(on || was_);
  }
  ~AllExpertsRouting() { decoder_.set_route_all_experts(was_); }
  AllExpertsRouting(const AllExpertsRouting&) = delete;
  AllExpertsRouting& operator=(const AllExpertsRouting&) = delete;

 private:
  model::Decoder& decoder_;
  bool was_;
};

}  // namespace

std::vector<int64_t> starved_experts(const BlockResult& r, int64_t inputs) {
  std::vector<int64_t> out;
  for (size_t e = 0; e < r.expert_tokens.size(); ++e)
    if (r.expert_tokens[e] < inputs) out.push_back(static_cast<int64_t>(e));
  return out;
}

PipelineResult run_pipeline(model::Decoder& decoder, const text::CalibrationSet& calibration, const QuantPlan& plan,
                            const PipelineOptions& options, Feedback& feedback) {
  torch::NoGradGuard no_grad;
  const int64_t layers = decoder.num_layers();
  // Validate the whole plan before touching anything.
  std::vector<std::map<LinearRole, LayerChoice>> choices(static_cast<size_t>(layers));
  bool carry_fp = false;  // some method fits the FP model's own block outputs
  for (int64_t l = 0; l < layers; ++l) {
    for (auto role : decoder.linear_roles(l)) {
      auto c = plan.choice_for(model::linear_name(l, role));
      if (!c.keep_fp()) c.spec.validate(model::linear_name(l, role));
      choices[static_cast<size_t>(l)].emplace(role, std::move(c));
    }
    for (const auto& call : plan_block(l, choices[static_cast<size_t>(l)]))
      carry_fp = carry_fp || call.method->uses_fp_trajectory(call.params);
  }
  if (calibration.samples() == 0) throw ArgumentError("pipeline: the calibration set is empty");
  const auto refinements = plan_refinements(choices);
  RunJournal* journal = options.journal;
  auto spill_dir = options.spill_dir;
  const JournalBlocks finished = journal ? journal->read(decoder) : JournalBlocks{};
  const auto first = static_cast<int64_t>(finished.states.size());

  std::vector<model::BlockState> saved;
  for (int64_t l = 0; l < layers; ++l) saved.push_back(decoder.block_state(l));
  const auto t_start = Clock::now();
  const AllExpertsRouting routing(decoder, options.route_all_experts);
  PipelineResult result;
  try {
    const int64_t batch = std::max<int64_t>(1, options.batch);
    const auto ids = calibration.ids.to(decoder.device());
    const auto fp_hidden = refinements.empty() ? torch::Tensor() : fp_last_hidden(decoder, ids, batch, feedback);
    std::vector<torch::Tensor> parts;
    for (int64_t i = 0; i < ids.size(0); i += batch)
      parts.push_back(decoder.embed(ids.narrow(0, i, std::min(batch, ids.size(0) - i))));
    auto x = torch::cat(parts, 0);
    parts.clear();
    torch::Tensor x_fp = carry_fp ? x : torch::Tensor();
    feedback.progress("quantize", 0, layers);
    for (int64_t l = 0; l < first; ++l) {
      // What the interrupted run held after this block: its outputs on the
      // FP trajectory from the FP block, on the quantized one from the block
      // as recorded.
      const auto run = [&](const torch::Tensor& b) { return decoder.run_block(l, b); };
      if (carry_fp) x_fp = map_batches(x_fp, batch, feedback, run);
      decoder.restore_block_state(l, finished.states[static_cast<size_t>(l)]);
      x = map_batches(x, batch, feedback, run);
      for (const auto& finished_layer : finished.layers) {
        if (finished_layer.layer != l) continue;
        auto lr = finished_layer;
        lr.choice = choices[static_cast<size_t>(l)].at(lr.role);
        result.layers.push_back(std::move(lr));
      }
      const auto& br = finished.blocks[static_cast<size_t>(l)];
      result.blocks.push_back(br);
      feedback.log("block " + std::to_string(l) + ": taken from the journal " + journal->dir().string() +
                   ", output rel. MSE " + format_number("%.3e", br.output_rel_mse));
      release_free_memory();
      if (options.on_block) options.on_block(br);
      feedback.progress("quantize", l + 1, layers);
    }
    for (int64_t l = first; l < layers; ++l) {
      feedback.check_cancelled();
      const auto t_block = Clock::now();
      BlockResult br;
      if (decoder.config().moe(l)) {
        br.layer = l;
        br.expert_tokens = count_expert_tokens(decoder, l, x, batch, feedback);
        log_expert_tokens(decoder.config(), br, decoder.route_all_experts(), feedback);
      }
      BlockContext ctx(decoder, l, x, batch, feedback, x_fp);
      for (auto& call : plan_block(l, choices[static_cast<size_t>(l)])) {
        ctx.begin_method(call.roles, call.specs);
        call.method->quantize_block(ctx, call.params);
        for (auto r : call.roles)
          if (!ctx.is_quantized(r))
            throw Error("method " + call.method->name() + " did not quantize " + model::linear_name(l, r));
      }

      // Metrics, and the quantized outputs that feed the next block.
      const auto targets = ctx.targets();
      const int64_t metric_rows = options.metric_sequences > 0 ? options.metric_sequences : x.size(0);
      int64_t rows_seen = 0;  // sequences before the current batch
      std::map<LinearRole, ErrorSums> sums;
      std::map<LinearRole, analysis::ChannelStats> input_stats;
      std::map<LinearRole, std::pair<torch::Tensor, torch::Tensor>> refs;
      for (const auto& [r, c] : ctx.committed())
        refs[r] = {
            c.reference_weight.to(decoder.device(), decoder.dtype()),
            c.reference_bias.defined() ? c.reference_bias.to(decoder.device(), decoder.dtype()) : c.reference_bias};
      const auto hook = decoder.add_linear_hook(
          [&](const model::LinearSite& site, const torch::Tensor& in, const torch::Tensor& out) {
            auto it = refs.find(site.role);
            const int64_t rows = std::min(in.size(0), metric_rows - rows_seen);
            if (site.layer != l || it == refs.end() || rows <= 0) return;
            if (options.analyses) input_stats[site.role].add(in.narrow(0, 0, rows));
            auto ref = torch::linear(in.narrow(0, 0, rows), it->second.first, it->second.second).to(torch::kFloat32);
            sums[site.role].err += (out.narrow(0, 0, rows).to(torch::kFloat32) - ref).pow(2).sum().item<double>();
            sums[site.role].ref += ref.pow(2).sum().item<double>();
          });
      torch::Tensor outputs;
      try {
        // A block left in FP computes what its targets already hold.
        if (!ctx.modified()) {
          outputs = targets;
        } else {
          outputs = ctx.map_batches(x, [&](const torch::Tensor& b) {
            auto out = decoder.run_block(l, b);
            rows_seen += b.size(0);
            return out;
          });
        }
      } catch (...) {
        decoder.remove_hook(hook);
        throw;
      }
      decoder.remove_hook(hook);

      br.layer = l;
      br.output_mse = (outputs.to(torch::kFloat32) - targets.to(torch::kFloat32)).pow(2).mean().item<double>();
      br.output_rel_mse = relative_mse(outputs, targets);
      const auto roles = decoder.linear_roles(l);
      for (auto role : roles) {
        LayerResult lr;
        lr.name = model::linear_name(l, role);
        lr.layer = l;
        lr.role = role;
        lr.choice = choices[static_cast<size_t>(l)].at(role);
        if (auto it = ctx.committed().find(role); it != ctx.committed().end()) {
          lr.record = it->second.record;
          lr.seconds = it->second.seconds;
          lr.weight_mse = (it->second.reference_weight.to(torch::kCPU) - lr.record->effective_weight())
                              .pow(2)
                              .mean()
                              .item<double>();
          const auto& s = sums[role];
          lr.output_rel_mse = s.err / std::max(1e-30, s.ref);
          if (options.analyses)
            lr.analyses = analysis::analyze_layer(it->second.reference_weight, *lr.record, input_stats[role]);
        }
        result.layers.push_back(std::move(lr));
      }
      br.seconds = since(t_block);
      // A training loss (an epoch mean under moving parameters) only
      // approximates what the next block inherits.
      if (carry_fp) br.fp_rel_mse = relative_mse(outputs, ctx.fp_targets());
      result.blocks.push_back(br);
      if (journal) {
        const auto block_layers = result.layers.end() - static_cast<std::ptrdiff_t>(roles.size());
        // The journal is a safety net: a full disk stops it, not the run.
        try {
          journal->record(decoder, br, std::vector<LayerResult>(block_layers, result.layers.end()));
        } catch (const IoError& e) {
          feedback.log("the run journal stops at block " + std::to_string(l) + " (" + e.what() +
                       "); the run goes on, and should it be cut short, it goes on from block " +
                       std::to_string(journal->finished_blocks()));
          journal = nullptr;
        }
      }
      const std::string accumulated =
          carry_fp ? ", against the FP model's own output " + format_number("%.3e", br.fp_rel_mse) : "";
      feedback.log("block " + std::to_string(l) + ": output rel. MSE " + format_number("%.3e", br.output_rel_mse) +
                   accumulated + ", " + format_number("%.1f", br.seconds) + " s");
      if (carry_fp) x_fp = ctx.fp_targets();
      x = outputs;
      // The FP linears are kept to restore the block should the run fail;
      // they build their weights again if they are ever used.
      for (const auto& op : saved[static_cast<size_t>(l)].linears) op->release();
      if (!spill_dir.empty()) {
        try {
          spill_block_codes(decoder, l, result.layers, spill_dir);
        } catch (const IoError& e) {
          feedback.log("the codes of finished blocks stay in memory from block " + std::to_string(l) + " on (" +
                       e.what() + ")");
          spill_dir.clear();
        }
      }
      release_free_memory();
      if (options.on_block) options.on_block(br);
      feedback.progress("quantize", l + 1, layers);
    }
    for (size_t i = 0; i < refinements.size(); ++i) {
      const auto& call = refinements[i];
      auto run = run_refinement(decoder, ids, fp_hidden, *call.refinement, call.params, call.slots, feedback,
                                journal ? journal->refinement_state_file(i) : std::filesystem::path());
      for (auto& lr : result.layers)
        if (auto it = run.committed.find({lr.layer, lr.role}); it != run.committed.end()) lr.record = it->second;
      result.refinements.push_back(std::move(run.result));
      release_free_memory();
    }
  } catch (...) {
    for (int64_t l = 0; l < layers; ++l) decoder.restore_block_state(l, saved[static_cast<size_t>(l)]);
    throw;
  }
  result.seconds = since(t_start);
  return result;
}

}  // namespace qs::pipeline

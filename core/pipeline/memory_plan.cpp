#include "core/pipeline/memory_plan.h"

#include <algorithm>
#include <vector>

#include "core/methods/method_registry.h"
#include "core/methods/shared_inputs.h"
#include "core/model/decoder.h"
#include "core/number_format.h"

namespace qs::pipeline {
namespace {

struct LinearShape {
  int64_t out, in;
};

// The block with the most linears: an MoE block where the model has one.
int64_t largest_block(const model::ModelConfig& c) {
  for (int64_t l = 0; l < c.num_layers; ++l)
    if (c.moe(l)) return l;
  return 0;
}

std::vector<LinearShape> linear_shapes(const model::ModelConfig& c, int64_t layer) {
  std::vector<LinearShape> out;
  for (auto role : model::block_linear_roles(c, layer)) {
    const auto [o, i] = model::linear_shape(c, role);
    out.push_back({o, i});
  }
  return out;
}

std::vector<LinearShape> linear_shapes(const model::ModelConfig& c) { return linear_shapes(c, largest_block(c)); }

// Parameters of every block's linears together. Blocks are of two kinds,
// dense and MoE, each counted once: a config's layers times its experts can
// be large before any tensor has been checked.
int64_t linear_params(const model::ModelConfig& c) {
  const auto params = [&](int64_t layer) {
    int64_t n = 0;
    for (const auto& s : linear_shapes(c, layer)) n += s.out * s.in;
    return n;
  };
  int64_t moe_blocks = 0;
  for (int64_t l = 0; l < c.num_layers; ++l) moe_blocks += c.moe(l) ? 1 : 0;
  const int64_t dense_layer = [&] {
    for (int64_t l = 0; l < c.num_layers; ++l)
      if (!c.moe(l)) return l;
    return int64_t{-1};
  }();
  return (moe_blocks > 0 ? moe_blocks * params(largest_block(c)) : 0) +
         (dense_layer >= 0 ? (c.num_layers - moe_blocks) * params(dense_layer) : 0);
}

// Per token, the widths of what the MLP holds between its products: a dense
// MLP's gate, up and product; an MoE block's for each chosen expert and the
// shared one.
int64_t mlp_intermediates(const model::ModelConfig& c) {
  if (c.num_experts == 0) return 3 * c.intermediate_size;
  return std::max(3 * c.intermediate_size,
                  3 * (c.experts_per_token * c.expert_intermediate_size + c.shared_expert_intermediate_size));
}

// GPTQ's working set beside one batch (default: every linear in one stage).
// While the block's inputs are captured: a float32 Hessian per distinct input
// (q/k/v share one, each MLP's gate/up another; an MoE block has one per
// expert). While a linear is solved: the Hessians still waiting for later
// linears, a copy of its own when a later linear reads it too, the factor of
// H⁻¹ beside it, and its weight in float32 and codes.
struct GptqBytes {
  int64_t capture, solve;
};

GptqBytes gptq_bytes(const model::ModelConfig& c) {
  const auto roles = model::block_linear_roles(c, largest_block(c));
  const auto shapes = linear_shapes(c);
  auto square = [](int64_t n) { return n * n * 4; };
  // Each distinct input's reader that owns its Hessian, and the last linear reading it.
  std::vector<size_t> owner(roles.size()), last(roles.size());
  int64_t capture = 0;
  for (size_t r = 0; r < roles.size(); ++r) {
    const auto o = methods::input_owner(roles[r], roles);
    owner[r] = static_cast<size_t>(std::find(roles.begin(), roles.end(), o) - roles.begin());
    if (owner[r] == r) capture += square(shapes[r].in);
    last[owner[r]] = r;
  }
  int64_t solve = 0;
  for (size_t r = 0; r < roles.size(); ++r) {
    int64_t waiting = 0;
    for (size_t k = 0; k < roles.size(); ++k)
      if (owner[k] == k && last[k] >= r) waiting += square(shapes[k].in);
    const bool read_later = last[owner[r]] > r;
    const int64_t own = square(shapes[r].in) * (read_later ? 2 : 1);
    solve = std::max(solve, waiting + own + shapes[r].out * shapes[r].in * (4 + 2));
  }
  return {capture, solve};
}

// RTN and AWQ hold float32 copies of one linear's weight while they search and
// round; AWQ also the inputs of the module it scales (the MLP's: N×L×hidden,
// twice), and its candidates' outputs on them.
int64_t one_linear_bytes(const model::ModelConfig& c) {
  int64_t worst = 0;
  for (const auto& s : linear_shapes(c)) worst = std::max(worst, s.out * s.in * 4);
  return 3 * worst;
}

// AWQ's captures in an MoE block: each expert keeps the rows routed to it,
// top-k copies of the MLP's input and of the experts' intermediates (one more
// of each for a shared expert), beside the MLP's whole input and a
// candidate's outputs on it.
int64_t awq_moe_bytes(const model::ModelConfig& c, int64_t tokens, int64_t element) {
  const bool shared = c.shared_expert_intermediate_size > 0;
  const int64_t inputs = (c.experts_per_token + (shared ? 1 : 0) + 2) * c.hidden_size;
  const int64_t intermediates = c.experts_per_token * c.expert_intermediate_size + c.shared_expert_intermediate_size;
  return tokens * (inputs + intermediates) * element;
}

// Where no fused attention kernel applies (soft-capped scores, or a window
// shorter than the sequence), a layer materialises its scores for one
// sequence of T tokens: the product, its capped copy and the float32
// probabilities, [heads, T, T] each. 0 where the fused kernel runs.
int64_t materialised_scores_bytes(const model::ModelConfig& c, int64_t T) {
  bool masked = c.attn_logit_softcapping > 0.0;
  for (int64_t l = 0; l < c.num_layers && !masked; ++l) masked = c.sliding(l) && T > c.sliding_window;
  return masked ? 3 * c.num_heads * T * T * 4 : 0;
}

// On a GPU run, host items are counted apart from the device's.
void add_item(MemoryPlan& p, bool gpu, std::string what, int64_t bytes, bool on_host) {
  MemoryItem item{std::move(what), 0, 0};
  (gpu && on_host ? item.host_bytes : item.device_bytes) = bytes;
  p.items.push_back(std::move(item));
}

// Every item can be live at once, so each peak is a sum; on a CPU run the
// host's is the device's.
void add_peaks(MemoryPlan& p, bool gpu) {
  for (const auto& item : p.items) {
    p.device_peak += item.device_bytes;
    p.host_peak += item.host_bytes;
  }
  if (!gpu) p.host_peak = p.device_peak;
}

double gib(int64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); }

}  // namespace

MemoryPlan plan_memory(const MemoryPlanRequest& r) {
  const auto& c = r.config;
  const int64_t e = static_cast<int64_t>(c10::elementSize(r.dtype));
  const int64_t block = model::block_weight_bytes(c, r.dtype);
  const int64_t blocks = r.resident_blocks == 0 ? c.num_layers : std::min<int64_t>(r.resident_blocks, c.num_layers);
  const int64_t tokens = r.nsamples * r.seqlen;
  const int64_t batch_tokens = std::min(r.batch, r.nsamples) * r.seqlen;
  const bool gpu = r.device.is_cuda();
  const auto& method = methods::method_or_throw(r.method, "memory plan");
  const bool carries_fp = method.uses_fp_trajectory(quant::MethodParams(method.param_specs()));
  int64_t params = 0;  // of the largest block
  for (const auto& s : linear_shapes(c)) params += s.out * s.in;

  MemoryPlan p;
  auto add = [&](std::string what, int64_t bytes, bool on_host) { add_item(p, gpu, std::move(what), bytes, on_host); };
  // GPTQ's phases of a block do not overlap: capturing the inputs (a batch's
  // intermediates and the Hessians), solving (one linear's matrices), then the
  // outputs (the quantized block built dense and a batch). A streamed block's
  // quantized copy exists only in the last, so the phases are planned by
  // their largest; every block resident keeps all quantized copies anyway.
  const bool phased = r.method == "gptq";
  const bool streamed = r.resident_blocks != 0;
  if (phased && streamed)
    add("weights: " + std::to_string(blocks) + " FP block(s)", blocks * block, false);
  else
    add("weights: " + std::to_string(blocks) + " FP block(s) and their quantized copies", 2 * blocks * block, false);
  // Streamed, the embedding is read a row at a time from the file; resident,
  // it and an untied head are converted to the compute dtype.
  const int64_t vocab = c.vocab_size * c.hidden_size * e * (c.tie_word_embeddings ? 1 : 2);
  if (r.resident_blocks == 0) add("embedding and head in the compute dtype", vocab, false);
  const size_t method_first = p.items.size();
  const int64_t hidden_copies = carries_fp ? 3 : 2;
  add("calibration activations: inputs, targets" + std::string(carries_fp ? ", FP trajectory" : ""),
      hidden_copies * tokens * c.hidden_size * e, false);
  const int64_t batch_bytes = batch_tokens * (mlp_intermediates(c) + 4 * c.hidden_size) * e;
  if (phased) {
    const auto g = gptq_bytes(c);
    const int64_t capture = batch_bytes + g.capture, output = batch_bytes + (streamed ? block : 0);
    const int64_t largest = std::max({capture, g.solve, output});
    const char* which = largest == g.solve   ? "solving one linear (its Hessian and the factor of H⁻¹, float32)"
                        : largest == capture ? "capturing inputs (a batch's intermediates and the Hessians)"
                                             : "the outputs (the quantized block and a batch)";
    add(std::string("GPTQ's largest phase of a block: ") + which, largest, false);
  } else {
    add("one batch through a block (MLP intermediates)", batch_bytes, false);
  }
  if (const int64_t scores = materialised_scores_bytes(c, r.seqlen); scores > 0)
    add("one batch's attention scores, materialised (soft-capping, or a window shorter than the sequence)",
        std::min(r.batch, r.nsamples) * scores, false);
  if (r.method == "rtn" || r.method == "awq") {
    add(r.method + ": one linear's float32 copies", one_linear_bytes(c), false);
    if (r.method == "awq" && c.num_experts > 0) {
      add("AWQ: the experts' routed inputs, the MLP's input and a candidate's outputs", awq_moe_bytes(c, tokens, e),
          false);
      // The scale in front of the experts is scored with all of them quantized at once.
      const int64_t gate_up_rows = 2 * (c.num_experts * c.expert_intermediate_size + c.shared_expert_intermediate_size);
      add("AWQ: every expert's gate and up in float32 while their scale is searched (weights and a candidate)",
          2 * gate_up_rows * c.hidden_size * 4, false);
    } else if (r.method == "awq")
      add("AWQ: the MLP's inputs and a candidate's outputs", 2 * tokens * c.intermediate_size * e, false);
  } else if (!phased) {
    p.modeled = false;
    p.note = r.method + "'s training state (autograd over a block, optimizer moments) is not in this plan";
  }
  if (r.eval_ctx > 0) {
    // Perplexity windows run before and after the blocks (in the workbench
    // also between them), never while one is quantized: they add to the peak
    // only what they hold beyond the calibration state and the method's
    // (float32 logits and their log-softmax, and any materialised scores).
    int64_t method = 0;
    for (size_t i = method_first; i < p.items.size(); ++i) method += p.items[i].device_bytes;
    int64_t eval = 2 * r.eval_ctx * c.vocab_size * 4 + materialised_scores_bytes(c, r.eval_ctx);
    if (streamed) {
      const int64_t stored = c.torch_dtype == "float32" ? 4 : 2;
      eval += std::min(model::kHeadChunkRows, c.vocab_size) * c.hidden_size * e + c.vocab_size * c.hidden_size * stored;
    }
    add("perplexity windows of " + std::to_string(r.eval_ctx) + " tokens (logits, log-softmax" +
            (streamed ? ", the head converted in chunks from its stored pages" : "") +
            "): what they hold beyond the method's working set, which they do not overlap",
        std::max<int64_t>(0, eval - method), false);
  }
  add(r.spill_codes ? "codes of finished blocks: spilled to disk, one block's resident" : "codes of finished blocks",
      r.spill_codes ? params : linear_params(c), true);
  add("runtime (libtorch and its kernels)", kRuntimeBytes, true);
  add_peaks(p, gpu);
  return p;
}

MemoryPlan plan_refinement_memory(const RefinementPlanRequest& r) {
  const auto& c = r.config;
  const int64_t e = static_cast<int64_t>(c10::elementSize(r.dtype));
  const int64_t block = model::block_weight_bytes(c, r.dtype);
  const bool streamed = r.resident_blocks != 0 && r.resident_blocks < c.num_layers;
  const int64_t blocks = streamed ? r.resident_blocks : c.num_layers;
  const bool gpu = r.device.is_cuda();
  const int64_t T = r.seqlen, H = c.hidden_size;
  MemoryPlan p;
  auto add = [&](std::string what, int64_t bytes, bool on_host) { add_item(p, gpu, std::move(what), bytes, on_host); };
  add("weights: " + std::to_string(blocks) + " quantized and " + std::to_string(blocks) + " FP block(s) built",
      2 * blocks * block, false);
  const int64_t vocab = c.vocab_size * H * e;
  if (streamed) {
    add("the head in the compute dtype, kept for the backward", vocab, false);
    // Converted from the mapped file each step: its pages are resident until
    // the conversion ends.
    const int64_t stored = c.torch_dtype == "float32" ? 4 : 2;
    add("the head's stored pages while it is converted", c.vocab_size * H * stored, false);
  } else
    add("embedding and head in the compute dtype, both models", 2 * vocab * (c.tie_word_embeddings ? 1 : 2), false);
  add("FP model's last hidden states (the targets)", r.nsamples * T * H * e, false);
  // Per block and sequence, what autograd keeps: the norms' and projections'
  // inputs and outputs, the MLP's three intermediates, and attention's output.
  // Materialised attention also keeps its probabilities for the backward.
  const int64_t scores = materialised_scores_bytes(c, T);
  const int64_t graph = T * (mlp_intermediates(c) + 8 * H + 2 * c.num_heads * c.head_dim) * e +
                        (scores > 0 ? c.num_heads * T * T * e : 0);
  if (scores > 0) add("one block's attention scores while it runs (soft-capping, or a window)", scores, false);
  if (streamed)
    add("one sequence: every block's input, and one block's graph", c.num_layers * T * H * e + graph, false);
  else
    add("one sequence: the graph through every block", c.num_layers * graph, false);
  add("logits (in chunks, then joined), their log-softmax and its gradient (float32)", 4 * T * c.vocab_size * 4, false);
  int64_t adapter = 0;
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (const auto& s : linear_shapes(c, l)) adapter += std::min({r.rank, s.in, s.out}) * (s.in + s.out);
  add("adapters: weights, gradients, best copies and Adam's two moments (float32)", 5 * 4 * adapter, false);
  add("runtime (libtorch and its kernels)", kRuntimeBytes, true);
  add_peaks(p, gpu);
  return p;
}

bool fits(const MemoryPlan& p, torch::Device device, int64_t device_available, int64_t host_available) {
  if (!p.modeled) return true;
  const bool device_short = device_available >= 0 && p.device_peak > device_available;
  const bool host_short = device.is_cuda() && host_available >= 0 && p.host_peak > host_available;
  return !device_short && !host_short;
}

std::string describe(const MemoryPlan& p, torch::Device device, int64_t device_available, int64_t host_available) {
  const bool gpu = device.is_cuda();
  std::string out;
  for (const auto& item : p.items) {
    const int64_t b = item.device_bytes + item.host_bytes;
    out += "  " + format_number("%7.2f", gib(b)) + " GiB  " + (gpu ? (item.host_bytes ? "host    " : "device  ") : "") +
           item.what + "\n";
  }
  auto peak = [](const char* where, int64_t need, int64_t have) {
    return std::string(where) + " peak " + format_number("%.2f", gib(need)) + " GiB" +
           (have >= 0 ? " of " + format_number("%.2f", gib(have)) + " GiB available" : std::string()) + "\n";
  };
  if (gpu) {
    out += peak("device", p.device_peak, device_available);
    out += peak("host", p.host_peak, host_available);
  } else {
    out += peak("host", p.host_peak, host_available);
  }
  if (!p.modeled) out += "not modeled: " + p.note + "\n";
  return out;
}

}  // namespace qs::pipeline

#pragma once
// The decoder of every family in architecture.h, in libtorch: embedding,
// RMSNorm, RoPE, grouped-query attention with a causal (or sliding-window)
// mask, gated MLP or a Mixture of Experts of them, tied or separate lm_head, and the options by which the
// families differ (ModelConfig): per-head q/k norms, (1 + w) norms, norms
// around the attention's and MLP's outputs, scaled embeddings, soft-capped
// scores and logits, a second RoPE base for sliding layers. fp32 on CPU;
// fp16/bf16 on CUDA.
//
// The quantization pipeline drives it block by block (embed, run_block,
// head) and observes it through hooks: per-linear and per-block input and
// output. Every linear sits behind a LinearOp that can be swapped.

#include <torch/torch.h>

#include <array>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/model/linear_op.h"
#include "core/model/linear_role.h"
#include "core/model/model_config.h"
#include "core/model/model_weights.h"
#include "core/model/rope.h"

namespace qs::model {

struct LinearSite {
  int64_t layer;
  LinearRole role;
  const std::string& name;
  // An expert's input holds only the tokens routed to it, [tokens, in];
  // every other linear's is [batch, T, in].
};
using LinearHook = std::function<void(const LinearSite&, const torch::Tensor& input, const torch::Tensor& output)>;
using BlockHook = std::function<void(int64_t layer, const torch::Tensor& input, const torch::Tensor& output)>;
using HookId = int64_t;

// The two RMSNorms of a block that feed linears, into which methods fold
// scales: in front of the attention (HF's input_layernorm) and in front of the
// MLP (post_attention_layernorm; Gemma's pre_feedforward_layernorm).
enum class NormRole { Input, PostAttention };

// "model.layers.3.post_attention_layernorm.weight": the HF name of a block's norm.
std::string norm_name(const ModelConfig& c, int64_t layer, NormRole role);
// The factor a stored norm weight multiplies by: w, or Gemma's 1 + w (float32).
torch::Tensor norm_factor(const ModelConfig& c, const torch::Tensor& stored);

// What a quantization job may change in one block: its norms (as the
// checkpoint stores them) and linears. Tensors are replaced, never modified
// in place, so a saved state restores the block exactly.
struct BlockState {
  torch::Tensor input_norm;
  torch::Tensor post_attention_norm;
  std::vector<std::shared_ptr<const LinearOp>> linears;  // in block_linear_roles order
  torch::Tensor router;                                  // an MoE block's, as stored
  torch::Tensor shared_expert_gate;                      // Qwen2-MoE's, as stored
};

// Rows of a vocabulary-sized matrix converted at a time when it is not stored
// in the compute dtype: 16Ki rows of a 4096-wide float32 head are 256 MiB.
inline constexpr int64_t kHeadChunkRows = 16384;

// Bytes of one block's linear weights in `dtype`: what a resident block holds.
int64_t block_weight_bytes(const ModelConfig& c, torch::ScalarType dtype);

// The weights stay where the checkpoint holds them (bytes of a mapped file, in
// the stored dtype) until a block runs: its linears then build their weights on
// the device in the compute dtype. By default every block stays resident once
// built; with a resident-block limit the decoder keeps only the blocks used most
// recently and releases the others (LinearOp::release), so a model larger than
// memory runs one block at a time; the embedding and the head then stay in
// their stored dtype too, and the head converts rows at a time.
class Decoder {
 public:
  // Throws qs::FormatError naming the checkpoint and tensor when one is missing
  // or has the wrong shape.
  Decoder(const ModelWeights& weights, torch::Device device, torch::ScalarType dtype);

  const ModelConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }
  int64_t num_layers() const { return static_cast<int64_t>(blocks_.size()); }

  // How many blocks keep their built weights; 0: all of them, and the
  // embedding and head in the compute dtype as well.
  void set_resident_blocks(int64_t blocks);
  int64_t resident_blocks() const { return resident_limit_; }

  // Whole model: ids [B, T] (int64, any device) → logits [B, T, V] in float32.
  torch::Tensor forward(const torch::Tensor& ids);
  // Logits only for positions [from, T): the perplexity protocols score part of
  // each window, and the lm_head is the largest matmul of small models.
  torch::Tensor forward_tail(const torch::Tensor& ids, int64_t from);

  // The pieces, for block-by-block work. hidden: [B, T, hidden_size].
  torch::Tensor embed(const torch::Tensor& ids) const;
  torch::Tensor run_block(int64_t layer, const torch::Tensor& hidden);
  torch::Tensor head(const torch::Tensor& hidden) const;  // final norm + lm_head, float32
  // The final norm alone, in the model's dtype.
  torch::Tensor final_hidden(const torch::Tensor& hidden) const;
  // lm_head applied to final_hidden's output, in its dtype (autograd flows
  // through `normed`).
  torch::Tensor logits(const torch::Tensor& normed) const;
  // ids [B, T] through every block and the final norm: the "last hidden
  // state" HF's LlamaModel returns, which RILQ fits. Keeps the caller's grad mode.
  torch::Tensor last_hidden(const torch::Tensor& ids);

  // Sub-modules of a block, for methods that score one module at a time.
  // `normed` is the output of the norm in front of the module.
  torch::Tensor apply_norm(int64_t layer, NormRole role, const torch::Tensor& x) const;
  torch::Tensor run_attention(int64_t layer, const torch::Tensor& normed);
  torch::Tensor run_mlp(int64_t layer, const torch::Tensor& normed) const;

  // The linears of block `layer` (block_linear_roles).
  std::vector<LinearRole> linear_roles(int64_t layer) const { return block_linear_roles(config_, layer); }
  std::shared_ptr<const LinearOp> linear(int64_t layer, LinearRole role) const;
  void set_linear(int64_t layer, LinearRole role, std::shared_ptr<const LinearOp> op);
  // The factor the norm multiplies by (Gemma's 1 + w), which methods scale.
  torch::Tensor norm_weight(int64_t layer, NormRole role) const;
  // Sets that factor. Throws qs::ArgumentError when the shape differs;
  // converts to the model's dtype.
  void set_norm_weight(int64_t layer, NormRole role, const torch::Tensor& weight);
  // "model.layers.3.post_attention_layernorm.weight": the norm's HF name.
  std::string norm_name(int64_t layer, NormRole role) const;
  // Every tensor of block `layer` outside its linears (its norms, the
  // family's extra ones too, and an MoE block's router and shared-expert
  // gate) under its logical HF name, as a checkpoint stores it.
  std::vector<std::pair<std::string, torch::Tensor>> stored_block_tensors(int64_t layer) const;
  BlockState block_state(int64_t layer) const;
  void restore_block_state(int64_t layer, const BlockState& state);

  // The tensors outside the blocks, for writing the model back out (the
  // embedding and the head in their stored dtype; a streamed GGUF's decoded
  // for the caller alone; the final norm as stored).
  torch::Tensor embed_weight() const;
  const torch::Tensor& final_norm_weight() const { return final_norm_; }
  torch::Tensor lm_head_weight() const;

  // The experts block `layer`'s router picks for each token of `hidden`
  // [B, T, hidden]: int64 [B·T, top-k], on the decoder's device. Runs the
  // block's attention (its hooks too) and router, not its experts.
  torch::Tensor expert_choices(int64_t layer, const torch::Tensor& hidden);
  // An MoE block's router weight [experts, hidden] as stored, or undefined.
  torch::Tensor router_weight(int64_t layer) const;
  // Qwen2-MoE's shared-expert gate [1, hidden] as stored, or undefined.
  torch::Tensor shared_expert_gate(int64_t layer) const;
  // Replaces both (AWQ scales their input columns as it scales the experts'):
  // converted to the model's dtype. Throws qs::ArgumentError when a shape
  // differs from the block's.
  void set_router(int64_t layer, const torch::Tensor& router, const torch::Tensor& shared_expert_gate);
  // What block `layer`'s MLP reads for `hidden` [B, T, hidden]: the
  // attention's residual through the norm in front of the MLP. Runs the
  // attention and its hooks.
  torch::Tensor mlp_input(int64_t layer, const torch::Tensor& hidden);
  // llm-compressor's remedy for experts the calibration tokens rarely reach:
  // every expert runs on every token, so its hooks see them all, while the
  // block's output still combines only the router's top-k choices.
  void set_route_all_experts(bool all) { route_all_experts_ = all; }
  bool route_all_experts() const { return route_all_experts_; }

  HookId add_linear_hook(LinearHook hook);
  HookId add_block_hook(BlockHook hook);
  void remove_hook(HookId id);

 private:
  struct Block {
    // Norms as stored (Gemma's w, not 1 + w); the last four undefined where
    // the family has none.
    torch::Tensor input_norm;
    torch::Tensor post_attention_norm;
    torch::Tensor q_norm, k_norm;                    // over each head
    torch::Tensor attention_out_norm, mlp_out_norm;  // sandwich norms
    std::vector<LinearRole> roles;                   // block_linear_roles order
    std::vector<std::shared_ptr<const LinearOp>> linears;
    std::vector<std::string> names;
    torch::Tensor router;              // MoE: [experts, hidden]
    torch::Tensor shared_expert_gate;  // Qwen2-MoE: [1, hidden]
    // Input transforms of linears reading one input (q, k, v; gate, up) that
    // are distinct tensors with equal values, found when the linears were
    // installed, so a forward recognises them without comparing values.
    std::vector<std::pair<torch::Tensor, torch::Tensor>> equal_transforms;
    bool same_transform(const torch::Tensor& a, const torch::Tensor& b) const;
  };
  // The input transform the previous linear reading the same input applied,
  // and its result.
  struct SharedInput {
    torch::Tensor transform;
    torch::Tensor transformed;
  };

  static void match_transforms(Block& b);
  // Marks `layer` used last and releases the least recently used blocks past the limit.
  void touch(int64_t layer) const;
  void evict_beyond_limit() const;
  // Builds the embedding and head for the current residency, once. Streamed,
  // deferred rows stay undefined there and are decoded a few at a time.
  void place_vocab_matrices() const;
  // The embeddings of `ids` from deferred rows: each distinct token's row decoded once.
  torch::Tensor embed_deferred(const torch::Tensor& ids) const;
  torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w) const;
  torch::Tensor unscaled_logits(const torch::Tensor& normed) const;  // before any soft-cap
  // Scores of a layer that needs more than a causal mask (a window, a soft-cap).
  torch::Tensor masked_attention(int64_t layer, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                 double scale) const;
  torch::Tensor apply_linear(int64_t layer, const Block& b, LinearRole role, const torch::Tensor& x,
                             SharedInput* shared = nullptr) const;
  torch::Tensor attention(int64_t layer, const Block& b, const torch::Tensor& x);
  // A gated MLP: the dense one, or expert `expert` of an MoE block.
  torch::Tensor mlp(int64_t layer, const Block& b, const torch::Tensor& x,
                    int32_t expert = LinearRole::kNoExpert) const;
  torch::Tensor experts(int64_t layer, const Block& b, const torch::Tensor& x) const;
  // hidden + the attention's output: the residual stream the MLP adds to.
  torch::Tensor attention_residual(int64_t layer, const Block& b, const torch::Tensor& hidden);
  // A float32 softmax over every expert and its top k, rescaled where the family does.
  std::pair<torch::Tensor, torch::Tensor> route(const Block& b, const torch::Tensor& flat) const;
  size_t slot(int64_t layer, LinearRole role) const;

  ModelConfig config_;
  torch::Device device_;
  torch::ScalarType dtype_;
  torch::Tensor embed_stored_;    // as the checkpoint holds them, or undefined where
  torch::Tensor lm_head_stored_;  // they are deferred rows (a GGUF's) in these:
  DeferredTensor embed_rows_;
  DeferredTensor lm_head_rows_;
  bool head_tied_ = false;  // the head is the embedding
  // Those, or their compute-dtype copies when every block stays resident;
  // built at first use, so a residency chosen after construction converts
  // nothing it does not keep.
  mutable torch::Tensor embed_tokens_;
  torch::Tensor final_norm_;
  mutable torch::Tensor lm_head_;
  mutable bool vocab_placed_ = false;
  std::vector<Block> blocks_;
  std::optional<RotaryTable> rope_;          // built once the shapes have been checked
  std::optional<RotaryTable> sliding_rope_;  // sliding layers' own base (Gemma 3)
  int64_t resident_limit_ = 0;
  bool route_all_experts_ = false;
  mutable std::list<int64_t> resident_;  // most recently used first
  HookId next_hook_id_ = 1;
  std::map<HookId, LinearHook> linear_hooks_;
  std::map<HookId, BlockHook> block_hooks_;
};

}  // namespace qs::model

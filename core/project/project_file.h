#pragma once
// The `.qsproj` project file (HDF5), schema version 1:
//   /                  @schema_version, @writer
//   /model             @path @fingerprint @architecture @num_layers
//     modified/<hf name>   tensors the run changed outside the linears
//   /settings          @calibration_text @nsamples @seqlen @seed @eval_text
//                      @eval_protocol @eval_ctx @eval_limit @device @dtype @plan_json
//   /layers/<name>     @method @bits @group_size @symmetric @clip_ratio
//                      [@weight_mse @output_rel_mse @seconds]
//     params           one typed attribute per hyper-parameter
//     quantized        @in_features @out_features, qweight (codes packed by
//                      quant/packing), scales, zeros, [g_idx bias input_scale
//                      transform lora_a lora_b]; a transform an earlier record
//                      holds too (AffineQuant's norm matrices) is a hard link to
//                      that record's dataset
//     analysis/<key>   float32 datasets for the inspector
//   /results           @ppl_fp @ppl_quantized, perplexity_curve [n, 2],
//     blocks/          layer output_mse output_rel_mse seconds (columns)
//     kernels/         batch out_features in_features bits group_size fp16_us packed_us gbps
// Files use HDF5 1.10's formats (checksummed metadata and chunk indexes;
// fletcher32 on every dataset). Saving writes a temporary sibling and renames it over the target, so a crash
// mid-save leaves the previous project intact. Loading validates every shape
// and type and throws qs::FormatError naming the file and the object path.

#include <filesystem>
#include <functional>

#include "core/project/project.h"

namespace qs::project {

// Called after each layer is written (done, total); may throw to abort, which
// leaves the previous file untouched.
using SaveProgress = std::function<void(int64_t done, int64_t total)>;

void save_project(const Project& project, const std::filesystem::path& file, const SaveProgress& progress = {});

// Projects written by older schema versions are migrated on load; a newer
// version is refused with a message saying so.
Project load_project(const std::filesystem::path& file);

}  // namespace qs::project

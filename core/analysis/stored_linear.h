#pragma once
// A linear stored quantized in a checkpoint, against the FP model it was
// quantized from. Activation smoothing (AWQ) folds a per-channel scale s into
// the op before a linear (a norm, or the previous linear's rows), so the
// stored codes quantize diag(1/s_out)·W·diag(s_in), and the FP weight is
// compared in that frame. QuantScope checkpoints and projects record s_in of
// every scaled linear (QuantizedLinear::input_scale); a packed export's
// tensors cannot, so its provenance records them beside it (`recorded`, by
// module name). Without either, s_in is recovered where it is exact (a norm's
// weight, FP over stored) and the comparison refused where it is not.

#include <torch/torch.h>

#include <map>
#include <string>

#include "core/model/model_weights.h"

namespace qs::analysis {

struct StoredFrame {
  torch::Tensor fp_weight;  // float32 [out, in] in the stored record's frame; undefined when not comparable
  std::string why_not;      // when undefined: what the checkpoint does not say
};

// `name`: a module name quantized in `checkpoint` ("model.layers.3.mlp.up_proj").
// Throws qs::FormatError naming the FP model's source when it lacks the linear.
StoredFrame fp_weight_in_stored_frame(const model::ModelWeights& checkpoint, const model::ModelWeights& fp,
                                      const std::string& name,
                                      const std::map<std::string, torch::Tensor>& recorded = {});

}  // namespace qs::analysis

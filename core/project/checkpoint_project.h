#pragma once
// A quantized checkpoint (QuantScope's or a packed export) seen as a project
// over the FP model it was quantized from, so the workbench can refine, save
// and export it like a run of its own: each linear's record, method,
// parameters and metrics from its provenance, the norms that differ from the
// FP model's as modified tensors, and the run's default grid as the plan, with
// its refinement when the checkpoint had one.

#include <string>

#include "core/checkpoint/provenance.h"
#include "core/model/model_weights.h"
#include "core/project/project.h"

namespace qs::project {

// `checkpoint` as checkpoint::load_model read it, `provenance` what it records (a
// linear it does not name gets the method "unknown"). Throws ConfigError
// naming the field in which the two models differ in shape.
Project project_of_checkpoint(const model::ModelWeights& checkpoint, const checkpoint::Provenance& provenance,
                              const model::ModelWeights& fp, const std::string& fp_path);

}  // namespace qs::project

#include "core/methods/model_context.h"

#include "core/error.h"
#include "core/model/quantized_linear_op.h"

namespace qs::methods {

namespace {

const model::QuantizedLinearOp* quantized_op(const model::Decoder& decoder, const LinearSlot& s) {
  return dynamic_cast<const model::QuantizedLinearOp*>(decoder.linear(s.layer, s.role).get());
}

}  // namespace

ModelContext::ModelContext(model::Decoder& decoder, torch::Tensor ids, torch::Tensor fp_hidden,
                           std::vector<LinearSlot> slots, Feedback& feedback)
    : decoder_(decoder),
      ids_(std::move(ids)),
      fp_hidden_(std::move(fp_hidden)),
      slots_(std::move(slots)),
      feedback_(feedback) {
  for (const auto& s : slots_)
    if (!quantized_op(decoder_, s))
      throw ArgumentError("refinement: " + model::linear_name(s.layer, s.role) + " is not quantized");
}

std::shared_ptr<const quant::QuantizedLinear> ModelContext::record(const LinearSlot& slot) const {
  const auto* op = quantized_op(decoder_, slot);
  if (!op) throw ArgumentError("refinement: " + model::linear_name(slot.layer, slot.role) + " is not quantized");
  return op->record();
}

void ModelContext::commit(const LinearSlot& slot, quant::QuantizedLinear q) {
  q.validate("refinement", model::linear_name(slot.layer, slot.role));
  auto record = std::make_shared<const quant::QuantizedLinear>(std::move(q));
  decoder_.set_linear(slot.layer, slot.role,
                      std::make_shared<model::QuantizedLinearOp>(record, decoder_.device(), decoder_.dtype()));
  committed_[slot] = std::move(record);
}

}  // namespace qs::methods

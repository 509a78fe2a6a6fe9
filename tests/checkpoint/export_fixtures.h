#pragma once
// Shared helpers of the export tests: a decoder linear's quantized record,
// and a JSON file as written.

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/model/decoder.h"
#include "core/model/quantized_linear_op.h"
#include "core/quant/quantized_linear.h"

namespace qs::test {

// nullptr when the linear is not quantized.
inline std::shared_ptr<const quant::QuantizedLinear> record(const model::Decoder& d, int64_t l, model::LinearRole r) {
  const auto* op = dynamic_cast<const model::QuantizedLinearOp*>(d.linear(l, r).get());
  return op ? op->record() : nullptr;
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

}  // namespace qs::test

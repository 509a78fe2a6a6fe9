#pragma once
// The tokenizer of the model the user opened and the calibration sample the
// method panel asks for: what both a run and a comparison start from.

#include <QString>
#include <memory>

#include "core/text/calibration_set.h"
#include "core/text/tokenizer.h"
#include "widgets/method_panel.h"

namespace qs::app {

struct CalibrationSource {
  std::shared_ptr<const text::Tokenizer> tokenizer;
  text::CalibrationSet calibration;
};

// Throws qs::Error naming the tokenizer or text file when one cannot be read.
CalibrationSource load_calibration(const QString& model_path, const widgets::RunSettings& settings);

}  // namespace qs::app

#include "app/gui/calibration_source.h"

#include <filesystem>

#include "core/text/text_file.h"

namespace qs::app {

CalibrationSource load_calibration(const QString& model_path, const widgets::RunSettings& settings) {
  std::shared_ptr<const text::Tokenizer> tokenizer = text::load_tokenizer_for_model(model_path.toStdString());
  const auto path = settings.calibration_path.toStdString();
  auto calibration =
      text::sample_calibration(tokenizer->encode(text::read_text_file(path)), settings.nsamples, settings.seqlen, 0, path);
  return {std::move(tokenizer), std::move(calibration)};
}

}  // namespace qs::app

#pragma once
// The model and calibration text the CLI tests run the built binary on.

#include <QFile>
#include <QString>

#include "tests/support/tiny_llama.h"

namespace qs::test {

// A tiny bf16 Llama with a byte-level tokenizer (260 ids) in `model_dir`, and
// `line` written `lines` times to `calib_file`. False when the text cannot be written.
inline bool write_cli_fixture(const QString& model_dir, const QString& calib_file, const char* line, int lines) {
  auto c = tiny_config();
  c.vocab_size = 260;
  write_hf_checkpoint(make_tiny_llama(c, 3), model_dir.toStdString(), torch::kBFloat16);
  write_byte_tokenizer(model_dir.toStdString());
  QFile text(calib_file);
  if (!text.open(QIODevice::WriteOnly)) return false;
  for (int i = 0; i < lines; ++i) text.write(line);
  return true;
}

}  // namespace qs::test

#pragma once
// The tiny model the workbench's tests open: a random Llama with a byte-level
// tokenizer and a text to calibrate and evaluate on, and run settings that
// finish on it in well under a second.

#include <QDir>
#include <QFile>
#include <QString>

#include "tests/support/tiny_llama.h"
#include "widgets/method_panel.h"

namespace qs::test {

inline QString write_gui_model(const QString& dir) {
  QDir().mkpath(dir);
  auto c = tiny_config();
  c.vocab_size = 260;
  write_hf_checkpoint(make_tiny_llama(c, 4), dir.toStdString());
  write_byte_tokenizer(dir.toStdString());
  QFile text(QDir(dir).filePath("calib.txt"));
  if (text.open(QIODevice::WriteOnly))
    for (int i = 0; i < 40; ++i) text.write("The quick brown fox jumps over the lazy dog, line by line.\n");
  return dir;
}

inline widgets::RunSettings gui_run_settings(const QString& method, const QString& dir) {
  widgets::RunSettings s;
  s.method = method;
  s.bits = 3;
  s.group = 32;
  s.calibration_path = QDir(dir).filePath("calib.txt");
  s.nsamples = 4;
  s.seqlen = 32;
  s.eval_path = s.calibration_path;
  s.eval_windows = 2;
  s.eval_ctx = 16;
  return s;
}

}  // namespace qs::test

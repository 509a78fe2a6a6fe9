#pragma once
// Named method settings: the built-in ones (resources/presets, compiled into
// the app) and the user's own (Save Preset… in the method dock, one JSON file
// each under the app's data directory). The format is a --layers-config
// "default" entry with a name and a description:
//   {"name": "...", "description": "...", "method": "gptq", "bits": 4,
//    "group": 128, "symmetric": false, "params": {"act_order": true},
//    "then": {"method": "rilq", "params": {"rank": 32}}}   ("then" optional)

#include <QString>
#include <QVector>

#include "widgets/method_panel.h"

namespace qs::app {

struct Preset {
  QString name;
  QString description;
  widgets::LayerSetting setting;
  QString then;  // refinement after the method; empty: none
  QVariantMap then_params;
  QString path;  // the file it came from (":/presets/..." for built-ins)
  bool builtin = false;
};

// Throws qs::ConfigError naming `path` and the field when the file is not a
// valid preset (unknown method, parameter of the wrong type, bad grid).
Preset parse_preset(const QByteArray& json, const QString& path);
QByteArray preset_json(const Preset& preset);

QString user_preset_dir();
// Built-ins first, then the user's, each by name; a user file that does not
// parse is skipped and its error returned in `problems`.
QVector<Preset> load_presets(QStringList* problems = nullptr);
// Writes the preset to user_preset_dir() under a file name made from its
// name; returns the path. Throws qs::IoError when it cannot be written.
QString save_user_preset(const Preset& preset);

}  // namespace qs::app

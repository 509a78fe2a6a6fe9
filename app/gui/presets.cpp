#include "app/gui/presets.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QSaveFile>
#include <QStandardPaths>
#include <nlohmann/json.hpp>

#include "app/gui/method_infos.h"
#include "core/error.h"
#include "core/pipeline/quant_plan.h"
#include "core/quant/param_json.h"

// Resources of a static library are only linked in when something names them.
static void init_preset_resources() { Q_INIT_RESOURCE(presets); }

namespace qs::app {
namespace {

using json = nlohmann::json;

QVariant param_variant(const json& v, const std::string& source, const std::string& field) {
  if (auto p = quant::param_from_json(v)) return to_variant(*p);
  throw ConfigError(source, field, "must be a boolean, number or string");
}

template <typename T>
T field_or(const json& j, const char* key, T fallback, const std::string& source) {
  if (!j.contains(key)) return fallback;
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw ConfigError(source, key, "has the wrong type");
  }
}

}  // namespace

Preset parse_preset(const QByteArray& text, const QString& path) {
  const std::string source = path.toStdString();
  const auto j = json::parse(text.constData(), text.constData() + text.size(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw FormatError(source, "preset", "not a JSON object");
  Preset p;
  p.path = path;
  p.name = QString::fromStdString(field_or<std::string>(j, "name", "", source));
  if (p.name.isEmpty()) throw ConfigError(source, "name", "is missing or empty");
  p.description = QString::fromStdString(field_or<std::string>(j, "description", "", source));
  auto& s = p.setting;
  s.method = QString::fromStdString(field_or<std::string>(j, "method", "", source));
  s.bits = field_or<int>(j, "bits", 4, source);
  s.group = field_or<int64_t>(j, "group", 128, source);
  s.symmetric = field_or<bool>(j, "symmetric", false, source);
  if (j.contains("params")) {
    if (!j["params"].is_object()) throw ConfigError(source, "params", "must be an object");
    for (const auto& [key, value] : j["params"].items())
      s.params.insert(QString::fromStdString(key), param_variant(value, source, "params." + key));
  }
  if (j.contains("then")) {
    const auto& t = j["then"];
    if (!t.is_object() || !t.contains("method") || !t["method"].is_string())
      throw ConfigError(source, "then", "must be {\"method\": NAME, \"params\": {...}}");
    p.then = QString::fromStdString(t["method"].get<std::string>());
    if (t.contains("params")) {
      if (!t["params"].is_object()) throw ConfigError(source, "then.params", "must be an object");
      for (const auto& [key, value] : t["params"].items())
        p.then_params.insert(QString::fromStdString(key), param_variant(value, source, "then.params." + key));
    }
  }
  // The core checks the method, the grid, the refinement and every parameter's name and type.
  auto choice = choice_of(s, source);
  set_then(choice, p.then, p.then_params, source);
  return p;
}

namespace {

json params_json(const QVariantMap& values) {
  json out = json::object();
  for (auto it = values.begin(); it != values.end(); ++it)
    out[it.key().toStdString()] = quant::param_to_json<json>(to_param(*it));
  return out;
}

}  // namespace

QByteArray preset_json(const Preset& p) {
  json j = {{"name", p.name.toStdString()},
            {"description", p.description.toStdString()},
            {"method", p.setting.method.toStdString()},
            {"bits", p.setting.bits},
            {"group", p.setting.group},
            {"symmetric", p.setting.symmetric},
            {"params", params_json(p.setting.params)}};
  if (!p.then.isEmpty()) j["then"] = {{"method", p.then.toStdString()}, {"params", params_json(p.then_params)}};
  return QByteArray::fromStdString(j.dump(2) + "\n");
}

QString user_preset_dir() {
  return QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)).filePath("presets");
}

QVector<Preset> load_presets(QStringList* problems) {
  QVector<Preset> out;
  auto read_dir = [&](const QString& dir, bool builtin) {
    const auto files = QDir(dir).entryInfoList({"*.json"}, QDir::Files, QDir::Name);
    for (const auto& f : files) {
      QFile in(f.absoluteFilePath());
      try {
        if (!in.open(QIODevice::ReadOnly)) throw IoError(f.absoluteFilePath().toStdString(), "cannot be read");
        auto p = parse_preset(in.readAll(), f.absoluteFilePath());
        p.builtin = builtin;
        out.append(std::move(p));
      } catch (const Error& e) {
        if (problems) problems->append(QString::fromUtf8(e.what()));
      }
    }
  };
  init_preset_resources();
  read_dir(QStringLiteral(":/presets"), true);
  read_dir(user_preset_dir(), false);
  return out;
}

QString save_user_preset(const Preset& preset) {
  QDir().mkpath(user_preset_dir());
  QString stem = preset.name.toLower();
  stem.replace(QRegularExpression(QStringLiteral("[^a-z0-9]+")), QStringLiteral("-"));
  stem.remove(QRegularExpression(QStringLiteral("^-+|-+$")));
  const QString path = QDir(user_preset_dir()).filePath((stem.isEmpty() ? QStringLiteral("preset") : stem) + ".json");
  QSaveFile out(path);
  if (!out.open(QIODevice::WriteOnly) || out.write(preset_json(preset)) < 0 || !out.commit())
    throw IoError(path.toStdString(), "could not write the preset");
  return path;
}

}  // namespace qs::app

#pragma once
// The method dock: method selector with that method's typed hyper-parameters
// (defaults and tooltips from the method), the grid (bits, group,
// symmetric), the refinement run over the whole quantized model after it
// ("then", with its own parameters), calibration and live-evaluation
// settings, and Run / Cancel.
// Draws the method descriptions it is handed; knows nothing of core/.

#include <QMap>
#include <QVariant>
#include <QVector>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace qs::widgets {

class ParamForm;

struct ParamInfo {
  QString name;
  QVariant default_value;  // bool, qlonglong, double or QString
  QString help;
  double min = 0;
  double max = 0;
  QStringList choices;  // QString parameters only; empty: free text
};

struct MethodInfo {
  QString name;
  QString description;
  QVector<ParamInfo> params;
};

// A linear's own method and grid, overriding the panel's default for it.
struct LayerSetting {
  QString method;  // "fp16" keeps the linear unquantized
  int bits = 4;
  qint64 group = 128;  // 0: per channel
  bool symmetric = false;
  QVariantMap params;  // only those that differ from the method's defaults
  QString label() const;  // "gptq W4g128", "fp16"
  bool operator==(const LayerSetting&) const = default;
};

struct RunSettings {
  QString method;
  int bits = 4;
  qint64 group = 128;  // 0: per channel
  bool symmetric = false;
  QVariantMap params;  // only those that differ from the method's defaults
  QString then;             // refinement after the last block ("rilq"); empty: none
  QVariantMap then_params;  // only those that differ from the refinement's defaults
  QString calibration_path;
  int nsamples = 32;
  int seqlen = 512;
  QString eval_path;  // empty: no live perplexity
  int eval_windows = 4;
  int eval_ctx = 128;
  QMap<QString, LayerSetting> layers;  // per-linear overrides by full name
};

class MethodPanel : public QWidget {
  Q_OBJECT
 public:
  explicit MethodPanel(QWidget* parent = nullptr);

  void set_methods(const QVector<MethodInfo>& methods);
  void set_refinements(const QVector<MethodInfo>& refinements);
  void set_settings(const RunSettings& s);
  // The method, grid and hyper-parameters as they stand (the calibration and
  // evaluation settings and the per-layer overrides are not part of it).
  RunSettings settings() const;
  LayerSetting layer_setting() const;
  // While running, Run is disabled and Cancel enabled.
  void set_running(bool running);
  // Run needs a model; without one the panel says so.
  void set_model_available(bool available);
  // Named settings offered at the top of the panel (their descriptions as tooltips).
  void set_presets(const QStringList& names, const QStringList& descriptions);
  int preset_count() const;

 Q_SIGNALS:
  void run_requested(const qs::widgets::RunSettings& settings);
  // The user asked to give the layers selected in the model tree the panel's
  // method and grid, or to put them back on the default.
  void apply_to_selection_requested();
  void reset_selection_requested();
  void preset_chosen(int index);
  void save_preset_requested();
  void cancel_requested();

 private:
  void show_params(int method_index);
  void show_refinement(int index);  // 0: none, i: refinements_[i - 1]
  void update_run_enabled();

  QVector<MethodInfo> methods_;
  QVector<MethodInfo> refinements_;
  QComboBox* preset_;
  QComboBox* method_;
  QLabel* description_;
  ParamForm* params_;
  QComboBox* then_;
  QLabel* then_description_;
  ParamForm* then_params_;
  QSpinBox* bits_;
  QComboBox* group_;
  QCheckBox* symmetric_;
  QLineEdit* calibration_;
  QSpinBox* nsamples_;
  QSpinBox* seqlen_;
  QLineEdit* eval_;
  QSpinBox* eval_windows_;
  QSpinBox* eval_ctx_;
  QPushButton* apply_;
  QPushButton* reset_;
  QPushButton* run_;
  QPushButton* cancel_;
  bool running_ = false;
  bool model_available_ = false;
};

}  // namespace qs::widgets

Q_DECLARE_METATYPE(qs::widgets::RunSettings)

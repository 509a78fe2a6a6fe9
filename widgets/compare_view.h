#pragma once
// Compare: several methods run on the selected linear alone, side by side —
// their output and weight errors in a table (with each one's ratio to the
// best) and the spectra of their input-weighted errors overlaid, so a
// researcher sees in seconds which method suits this layer and whether a
// low-rank correction would recover what is left. Draws what it is handed.

#include <QStringList>
#include <QVector>
#include <QWidget>

class QLabel;
class QListWidget;
class QPushButton;
class QTableWidget;

namespace qs::widgets {

class SpectrumPlot;

struct CompareEntry {
  QString label;  // "gptq W4g128"
  double output_rel_mse = 0;
  double weight_mse = 0;
  double seconds = 0;
  QVector<double> sv_error;         // singular values of W − Q(W)
  QVector<double> sv_scaled_error;  // of the error as the layer's inputs weigh it; may be empty
  double sv_error_energy = 0;        // Σσ² of the whole spectra when the values are their top only
  double sv_scaled_error_energy = 0;
};

class CompareView : public QWidget {
  Q_OBJECT
 public:
  explicit CompareView(QWidget* parent = nullptr);
  // The methods offered, and those ticked.
  void set_methods(const QStringList& names, const QStringList& checked);
  QStringList checked_methods() const;
  void set_layer(const QString& name);
  void set_running(const QString& what);
  void set_failed(const QString& message);
  void set_entries(const QVector<CompareEntry>& entries);

  int table_rows() const;
  SpectrumPlot* spectrum() const { return spectrum_; }
  QString status() const;

 Q_SIGNALS:
  void compare_requested(const QStringList& methods);
  void cancel_requested();

 private:
  QLabel* title_;
  QListWidget* methods_;
  QPushButton* compare_;
  QPushButton* cancel_;
  QLabel* status_;
  QTableWidget* table_;
  SpectrumPlot* spectrum_;
  QString layer_;
};

}  // namespace qs::widgets

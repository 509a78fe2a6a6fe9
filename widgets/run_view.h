#pragma once
// The run page: perplexity of the partly quantized model after each block
// (with the FP level as a dashed line) and each block's output error beside
// it, the loss curves of learned methods, a Mixture of Experts' calibration
// tokens per expert and block, progress and the run's log. Draws what it is
// handed.

#include <QMap>
#include <QVector>
#include <QWidget>
#include <limits>

class QCPColorMap;
class QCustomPlot;
class QLabel;
class QPlainTextEdit;
class QProgressBar;

namespace qs::widgets {

// What the run measured after one block: NaN where there is no live evaluation.
struct BlockPoint {
  int layer = 0;
  double output_rel_mse = 0;
  double ppl = 0;      // of the live slice, blocks 0..layer quantized
  double mean_kl = 0;  // KL(P_fp ‖ P_q) per token on the same slice, nats
  double p99_kl = 0;   // its 99th percentile over the slice's tokens
  // Against the FP model's own output at this depth; NaN where the run did
  // not follow the FP trajectory.
  double fp_rel_mse = std::numeric_limits<double>::quiet_NaN();
  // Mixture of Experts: calibration tokens the router sent to each expert of
  // the block; empty for a dense block. Experts below `starved_below` tokens
  // (their input width) have rank-deficient Hessians.
  QVector<double> expert_tokens;
  double starved_below = 0;
};

class RunView : public QWidget {
  Q_OBJECT
 public:
  explicit RunView(QWidget* parent = nullptr);

  // Clears everything for a run over `blocks` blocks. `refinement_only`: a
  // refinement over a model quantized before, whose curve starts at its last
  // block (the model as quantized) rather than at the FP model, so the plots
  // show that block and the one past it.
  void begin(int blocks, const QString& title, bool refinement_only = false);
  void set_fp_perplexity(double ppl);
  // A point with layer == blocks is the model after a whole-model refinement.
  void add_block(const BlockPoint& point);
  void add_loss_point(const QString& series, qint64 step, double loss);
  void append_log(const QString& line);
  void set_progress(qint64 done, qint64 total);
  void finish(const QString& status);

  QCustomPlot* perplexity_plot() const { return ppl_plot_; }
  QCustomPlot* loss_plot() const { return loss_plot_; }
  QCustomPlot* divergence_plot() const { return kl_plot_; }
  QCustomPlot* experts_plot() const { return experts_plot_; }
  // Calibration tokens of `expert` in `block`; NaN where none was reported.
  double expert_tokens(int block, int expert) const;
  int perplexity_points() const { return ppl_x_.size(); }
  int divergence_points() const;
  QString status() const;
  // What the perplexity plot's "export CSV" writes: the perplexity curve,
  // then the block errors, one table per measured series.
  QString perplexity_csv() const;

 private:
  void redraw_perplexity();
  QString loss_csv() const;
  QString divergence_csv() const;

  QLabel* title_;
  QProgressBar* progress_;
  QCustomPlot* ppl_plot_;
  QCustomPlot* kl_plot_;
  QCustomPlot* loss_plot_;
  QCustomPlot* experts_plot_;
  QCPColorMap* experts_map_;
  QPlainTextEdit* log_;
  void set_block_range(double lo, double hi);

  int blocks_ = 0;
  bool refinement_only_ = false;
  double fp_ppl_ = 0;
  QVector<double> ppl_x_, ppl_y_, mse_x_, mse_y_, fp_mse_x_, fp_mse_y_;
  int starved_ = 0;  // expert-blocks below their input width so far
  QMap<QString, int> loss_graphs_;  // series → graph index
};

}  // namespace qs::widgets

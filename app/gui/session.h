#pragma once
// The session the window holds: the project it was opened from or last saved
// to, whether it has unsaved results (the title's [*] marker and the prompt on
// close), and an autosave of unsaved results every few minutes to a side file
// written off the GUI thread. A side file left by a session that did not close
// cleanly is what the next start offers to recover.

#include <QObject>
#include <QStringList>
#include <memory>

#include "core/project/project.h"

class QThread;
class QTimer;

namespace qs::app {

class Session : public QObject {
  Q_OBJECT
 public:
  explicit Session(QObject* parent = nullptr);
  // Waits for an autosave in progress.
  ~Session() override;

  // A run finished: its results are the session's, not yet saved.
  void set_results(std::shared_ptr<const project::Project> results);
  // A project was opened from `path`: nothing unsaved.
  void set_opened(const QString& path);
  bool dirty() const { return dirty_; }
  QString path() const { return path_; }
  bool has_results() const { return results_ != nullptr; }
  // The results, as they are now, are in a file: saved or autosaved.
  bool results_in_a_file() const { return results_ && written_ == results_; }

  // Writes the results to `path` (through a temporary, so a failed save keeps
  // what was there); false with `error` set when it cannot.
  bool save(const QString& path, QString* error);
  // Starts writing unsaved results to this session's side file off the GUI
  // thread; nothing when nothing is unsaved. Asked while one is running, it
  // runs again when that one ends.
  void autosave();
  bool autosaving() const { return thread_ != nullptr; }
  QString autosave_path() const { return autosave_path_; }
  void set_autosave_minutes(int minutes);
  bool autosave_enabled() const;
  // The window closes cleanly: this session's side file and those it was
  // offered to recover from are removed.
  void close_cleanly();

  static QString autosave_dir();
  // Side files of sessions that did not close cleanly, newest first.
  static QStringList recoverable();
  // Remembered so close_cleanly removes them.
  void offered_recovery(const QStringList& files) { offered_ += files; }

 Q_SIGNALS:
  void dirty_changed(bool dirty);
  void autosaved(const QString& path);
  void autosave_failed(const QString& message);

 private:
  void set_dirty(bool dirty);
  void autosave_done();

  std::shared_ptr<const project::Project> results_;
  std::shared_ptr<const project::Project> written_;  // the results last saved or autosaved
  bool again_ = false;                               // autosave asked for during one
  QString path_;
  bool dirty_ = false;
  QString autosave_path_;
  QStringList offered_;
  QThread* thread_ = nullptr;
  QTimer* timer_;
};

}  // namespace qs::app

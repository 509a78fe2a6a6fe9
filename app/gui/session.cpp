#include "app/gui/session.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QMetaObject>
#include <QStandardPaths>
#include <QThread>
#include <QTimer>
#include <exception>
#include <utility>

#include "core/error.h"
#if QS_WITH_HDF5
#include "core/project/project_file.h"
#endif

namespace qs::app {
namespace {

constexpr int kDefaultAutosaveMinutes = 3;

void write_project(const project::Project& p, const QString& path) {
#if QS_WITH_HDF5
  project::save_project(p, path.toStdString());
#else
  Q_UNUSED(p);
  throw IoError(path.toStdString(), "this build of QuantScope has no HDF5 support, so it cannot write projects");
#endif
}

}  // namespace

Session::Session(QObject* parent) : QObject(parent), timer_(new QTimer(this)) {
  autosave_path_ = QDir(autosave_dir())
                       .filePath(QStringLiteral("session-%1-%2.qsproj")
                                     .arg(QDateTime::currentDateTime().toString("yyyyMMdd-hhmmss"))
                                     .arg(QCoreApplication::applicationPid()));
  connect(timer_, &QTimer::timeout, this, &Session::autosave);
  set_autosave_minutes(kDefaultAutosaveMinutes);
}

Session::~Session() {
  if (!thread_) return;
  thread_->wait();
  delete thread_;
}

void Session::set_results(std::shared_ptr<const project::Project> results) {
  results_ = std::move(results);
  set_dirty(true);
}

void Session::set_opened(const QString& path) {
  results_.reset();
  path_ = path;
  set_dirty(false);
}

bool Session::save(const QString& path, QString* error) {
  // An autosave in flight, or one queued behind it, would write the side
  // file again after the save removed it.
  again_ = false;
  autosave_done();
  try {
    if (results_) {
      write_project(*results_, path);
    } else if (path != path_) {
      // An opened project saved under a new name: the file as it is.
      if (path_.isEmpty()) throw ArgumentError("there is nothing to save yet: run a method first");
      const QString tmp = path + ".part";
      QFile::remove(tmp);
      if (!QFile::copy(path_, tmp) || !(QFile::remove(path), QFile::rename(tmp, path)))
        throw IoError(path.toStdString(), "could not copy " + path_.toStdString() + " there");
    }
  } catch (const std::exception& e) {
    if (error) *error = QString::fromUtf8(e.what());
    return false;
  }
  path_ = path;
  written_ = results_;
  set_dirty(false);
  QFile::remove(autosave_path_);
  return true;
}

void Session::autosave() {
  if (!dirty_ || !results_) return;
  if (thread_) {
    again_ = true;
    return;
  }
  QDir().mkpath(autosave_dir());
  const auto results = results_;
  const QString path = autosave_path_;
  thread_ = QThread::create([this, results, path] {
    QString message;
    try {
      write_project(*results, path);
    } catch (const std::exception& e) {
      message = QString::fromUtf8(e.what());
    }
    QMetaObject::invokeMethod(
        this,
        [this, path, message, results] {
          autosave_done();
          if (message.isEmpty()) written_ = results;
          if (std::exchange(again_, false)) autosave();
          if (message.isEmpty())
            Q_EMIT autosaved(path);
          else
            Q_EMIT autosave_failed(message);
        },
        Qt::QueuedConnection);
  });
  thread_->start();
}

void Session::autosave_done() {
  if (!thread_) return;
  thread_->wait();
  delete thread_;
  thread_ = nullptr;
}

void Session::set_autosave_minutes(int minutes) {
  if (minutes <= 0) {
    timer_->stop();
    return;
  }
  timer_->start(minutes * 60 * 1000);
}

bool Session::autosave_enabled() const { return timer_->isActive(); }

void Session::close_cleanly() {
  timer_->stop();
  autosave_done();
  QFile::remove(autosave_path_);
  for (const auto& f : offered_) QFile::remove(f);
}

QString Session::autosave_dir() {
  return QDir(QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation)).filePath("autosave");
}

QStringList Session::recoverable() {
  QStringList out;
  const auto files = QDir(autosave_dir()).entryInfoList({"session-*.qsproj"}, QDir::Files, QDir::Time);
  for (const auto& f : files) out.append(f.absoluteFilePath());
  return out;
}

void Session::set_dirty(bool dirty) {
  if (dirty == dirty_) return;
  dirty_ = dirty;
  Q_EMIT dirty_changed(dirty);
}

}  // namespace qs::app

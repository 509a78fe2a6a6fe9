#pragma once
// The built quantscope-cli run in a process, as a user runs it.

#include <QProcess>
#include <QString>
#include <QStringList>

namespace qs::test {

struct CliRun {
  int code = -1;  // -1: it crashed or did not finish
  QString out, err;
};

inline CliRun run_cli(const QStringList& args) {
  QProcess p;
  p.start(QS_CLI_PATH, args);
  CliRun r;
  if (!p.waitForFinished(120000)) {
    p.kill();
    r.err = "quantscope-cli did not finish: " + p.errorString();
    return r;
  }
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

}  // namespace qs::test

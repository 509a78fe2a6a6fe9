#include <sys/wait.h>
#include <unistd.h>

#include <QTemporaryDir>
#include <QTest>
#include <fstream>

#include "core/error.h"
#include "core/io/atomic_directory.h"
#include "core/io/atomic_file.h"
#include "tests/support/test_registry.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Entries of `dir` other than the target's own name.
QStringList siblings(const fs::path& dir, const std::string& target) {
  QStringList out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != target) out << QString::fromStdString(e.path().filename().string());
  out.sort();
  return out;
}

}  // namespace

class TestAtomicDirectory : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void commitReplacesTheWholeContent() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    const fs::path target = root / "export";
    write(target / "config.json", "old");
    write(target / "adapter" / "adapter_config.json", "old adapter");
    {
      io::AtomicDirectory staged(target);
      write(staged.path() / "config.json", "new");
      QCOMPARE(read(target / "config.json"), std::string("old"));  // nothing visible before commit
      staged.commit();
    }
    QCOMPARE(read(target / "config.json"), std::string("new"));
    QVERIFY(!fs::exists(target / "adapter"));  // nothing of the old content outlives it
    QCOMPARE(siblings(root, "export"), QStringList());
  }

  void intoAnAbsentTarget() {
    QTemporaryDir tmp;
    const fs::path target = fs::path(tmp.path().toStdString()) / "a" / "b";
    io::AtomicDirectory staged(target);
    write(staged.path() / "x", "1");
    staged.commit();
    QCOMPARE(read(target / "x"), std::string("1"));
  }

  void withoutCommitTheTargetStaysAsItWas() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    write(root / "ckpt" / "quantscope.json", "old");
    try {
      io::AtomicDirectory staged(root / "ckpt");
      write(staged.path() / "quantscope.json", "half");
      throw IoError("x", "disk full");
    } catch (const IoError&) {
    }
    QCOMPARE(read(root / "ckpt" / "quantscope.json"), std::string("old"));
    QCOMPARE(siblings(root, "ckpt"), QStringList());
  }

  // A writer killed before commit leaves its staging directory; the next
  // writer of the same target removes it, and only if its process is gone.
  void aKilledWritersStagingIsRemovedByTheNext() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    const fs::path dead = root / (".out.qs-staging-" + std::to_string(child));
    const fs::path alive = root / (".out.qs-staging-" + std::to_string(::getppid()));
    write(dead / "model.safetensors", "half");
    write(alive / "model.safetensors", "someone else's, still writing");
    write(root / ".other.qs-staging-1" / "x", "another target's");
    {
      io::AtomicDirectory staged(root / "out");
      QVERIFY(!fs::exists(dead));
      QVERIFY(fs::exists(alive));
      QVERIFY(fs::exists(root / ".other.qs-staging-1"));
    }
  }

  // The same for a single file's temporary (AtomicFile, save_project).
  void aKilledWritersTemporaryIsRemovedByTheNext() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    write(root / ("config.json.tmp-" + std::to_string(child)), "half");
    write(root / ("config.json.tmp-" + std::to_string(::getppid())), "being written");
    write(root / "config.json.tmp-notapid", "someone's file");
    {
      io::AtomicFile f(root / "config.json");
      f.write("{}", 2);
      f.commit();
    }
    QCOMPARE(siblings(root, "config.json"),
             QStringList({QString::fromStdString("config.json.tmp-" + std::to_string(::getppid())),
                          "config.json.tmp-notapid"}));
  }

  // Removing the old content does not follow a link out of it.
  void removeTreeDoesNotFollowLinks() {
    QTemporaryDir tmp;
    const fs::path root(tmp.path().toStdString());
    write(root / "keep" / "precious", "user data");
    write(root / "tree" / "sub" / "file", "x");
    fs::create_directory_symlink(root / "keep", root / "tree" / "link");
    QVERIFY(io::remove_tree(root / "tree"));
    QVERIFY(!fs::exists(root / "tree"));
    QCOMPARE(read(root / "keep" / "precious"), std::string("user data"));
    QVERIFY(io::remove_tree(root / "absent"));
  }
};

QS_REGISTER_TEST(TestAtomicDirectory);
#include "test_atomic_directory.moc"

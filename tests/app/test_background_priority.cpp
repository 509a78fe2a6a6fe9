#include <QTest>

#if defined(__linux__)
#include <sys/resource.h>
#include <unistd.h>

#include <thread>
#endif

#include "app/gui/background_priority.h"
#include "tests/support/test_registry.h"

using namespace qs;

class TestBackgroundPriority : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // A compute thread lowers itself once, the threads it starts afterwards (its
  // OpenMP team) inherit the lower priority, and the GUI thread keeps its own.
  void lowersTheCallingThreadAndWhatItStarts() {
#if defined(__linux__)
    const int gui = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    int lowered = 0, again = 0, child = 0;
    std::thread worker([&] {
      app::lower_current_thread_priority();
      lowered = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
      app::lower_current_thread_priority();
      again = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
      std::thread([&] { child = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); }).join();
    });
    worker.join();
    QCOMPARE(lowered, std::min(gui + 5, 19));
    QCOMPARE(again, lowered);
    QCOMPARE(child, lowered);
    QCOMPARE(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), gui);
#else
    QSKIP("thread priorities are lowered on Linux only");
#endif
  }
};

QS_REGISTER_TEST(TestBackgroundPriority);
#include "test_background_priority.moc"

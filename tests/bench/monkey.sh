#!/usr/bin/env bash
# The workbench's monkey test (tests/app/test_monkey.cpp) for SECONDS (default
# 600) with SEED (default 1), offscreen: random user actions, then the counts
# of each, the GUI thread's longest busy stretch and wall-time gap, and the
# threads left, as the test prints them. The whole log is kept in LOG
# (default /tmp/qs-monkey.log); a crash prints its last lines.
#
#   tests/bench/monkey.sh [SECONDS] [SEED] [BUILD_DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../packaging/common.sh"
BUILD="${3:-$QS_BUILD}"
LOG="${LOG:-/tmp/qs-monkey.log}"
SECONDS_RUN="${1:-600}"
status=0
# Qt Test aborts a test function after 5 minutes unless told otherwise (ms).
QS_MONKEY_SECONDS="$SECONDS_RUN" QS_MONKEY_SEED="${2:-1}" QS_TEST_CLASS=TestMonkey QT_QPA_PLATFORM=offscreen \
  QTEST_DISABLE_STACK_DUMP=1 QTEST_FUNCTION_TIMEOUT=$(((SECONDS_RUN + 300) * 1000)) "$BUILD/tests/test_app" -maxwarnings 0 \
  >"$LOG" 2>&1 || status=$?
grep -E "QINFO|FAIL|Loc:|Totals" "$LOG" || true
if [ "$status" != 0 ]; then
  echo "test_app ended with status $status; the end of $LOG:"
  grep -vE "propagateSizeHints" "$LOG" | tail -15
fi
exit "$status"

#!/usr/bin/env bash
# The workbench's monkey test (tests/app/test_monkey.cpp) for SECONDS (default
# 600) with SEED (default 1), offscreen: random user actions, then the counts
# of each, the GUI thread's longest busy stretch and wall-time gap, and the
# threads left, as the test prints them.
#
#   tests/bench/monkey.sh [SECONDS] [SEED] [BUILD_DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../packaging/common.sh"
BUILD="${3:-$QS_BUILD}"
QS_MONKEY_SECONDS="${1:-600}" QS_MONKEY_SEED="${2:-1}" QS_TEST_CLASS=TestMonkey QT_QPA_PLATFORM=offscreen \
  QTEST_DISABLE_STACK_DUMP=1 "$BUILD/tests/test_app" 2>&1 | grep -E "QINFO|FAIL|Loc:|Totals"

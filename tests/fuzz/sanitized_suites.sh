#!/usr/bin/env bash
# Runs the test suites the fuzz build compiles under ASan and UBSan (core's:
# QS_SANITIZED_SUITES in tests/CMakeLists.txt, and the project files' where
# HDF5 is found) through CTest in that build.
#
#   tests/fuzz/sanitized_suites.sh [FUZZ_BUILD]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-${QS_FUZZ_BUILD:-${QS_BUILD:-$ROOT/build}-fuzz}}"
if ! ls "$BUILD"/tests/test_* >/dev/null 2>&1; then
  echo "no test suites in $BUILD: build them with packaging/build-fuzz.sh" >&2
  # CTest counts 77 as skipped; packaging/test.sh builds them, so there it fails.
  [ "${QS_REQUIRE_REFERENCES:-0}" != 1 ] && exit 77
  exit 2
fi
exec ctest --test-dir "$BUILD" --output-on-failure --timeout 2400

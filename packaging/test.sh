#!/usr/bin/env bash
# The whole test suite: sets up what is missing, builds, fetches the demo
# model (tests that need it skip with a message when it cannot be had), runs CTest.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$QS_ROOT/packaging/setup-deps.sh"
"$QS_ROOT/packaging/build.sh"
"$QS_ROOT/packaging/fetch-demo-model.sh" || qs_log "demo model unavailable: its tests will skip"
"$QS_ROOT/packaging/make-hf-reference.sh" || qs_log "HF reference logits unavailable: that test will skip"
cd "$QS_BUILD"
QT_QPA_PLATFORM=offscreen ctest --output-on-failure --timeout 900 "$@"

#!/usr/bin/env bash
# The whole test suite: sets up what is missing, builds (and the fuzz
# targets under the sanitizers, whose corpora CTest replays), fetches the demo
# model and writes the references, runs CTest. Tests that need the demo model
# or a reference fail when it is missing here (QS_REQUIRE_REFERENCES); run
# alone, outside this script, they skip with a message.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$QS_ROOT/packaging/setup-deps.sh"
"$QS_ROOT/packaging/build.sh"
"$QS_ROOT/packaging/build-fuzz.sh"
"$QS_ROOT/packaging/fetch-demo-model.sh" || qs_log "demo model unavailable: its tests will fail"
"$QS_ROOT/packaging/make-hf-reference.sh" || qs_log "HF reference logits unavailable: that test will fail"
"$QS_ROOT/packaging/make-family-references.sh" || qs_log "family references unavailable: TestFamilies will fail"
"$QS_ROOT/packaging/make-gguf-reference.sh" || qs_log "gguf dequantization reference unavailable: TestGguf will fail"
export QS_REQUIRE_REFERENCES=1
cd "$QS_BUILD"
QT_QPA_PLATFORM=offscreen ctest --output-on-failure --timeout 900 "$@"

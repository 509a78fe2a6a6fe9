#!/usr/bin/env bash
# The main job: sets up what is missing, builds, fetches the demo model and
# opens it in the QuantScope workbench. Without a display (or without the GUI
# build) the CLI does the job instead: model summary and its perplexity on
# the WikiText-2 test text beside the checkout, or on the README otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$QS_ROOT/packaging/setup-deps.sh"
"$QS_ROOT/packaging/build.sh"
"$QS_ROOT/packaging/fetch-demo-model.sh"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$QS_BUILD/app/quantscope" ]; then
  exec "$QS_BUILD/app/quantscope" "$QS_DEMO_MODEL"
fi
qs_log "no display: running the CLI on the demo model"
"$QS_BUILD/app/quantscope-cli" info "$QS_DEMO_MODEL"
text="$QS_ROOT/../shared/data/wikitext2-test.raw"
[ -f "$text" ] || text="$QS_ROOT/README.md"
"$QS_BUILD/app/quantscope-cli" eval "$QS_DEMO_MODEL" --text "$text" --ctx 512 --limit-chunks 40

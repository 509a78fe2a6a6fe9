# Shared settings of the packaging scripts (sourced, not run).
# Everything large lives outside the build tree and is reused when present:
#   QS_CACHE   (~/.cache/quantscope)  venv with the PyPI torch wheel, demo model
#   QS_VENV    ($QS_CACHE/venv)       override to use another venv with torch
#   QS_BUILD   (<repo>/build)         CMake build directory
set -euo pipefail
QS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QS_CACHE="${QS_CACHE:-$HOME/.cache/quantscope}"
QS_VENV="${QS_VENV:-$QS_CACHE/venv}"
QS_BUILD="${QS_BUILD:-$QS_ROOT/build}"
QS_TORCH_VERSION="${QS_TORCH_VERSION:-2.11.0}"
QS_DEMO_MODEL="${QS_DEMO_MODEL:-$QS_CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
export QS_DEMO_MODEL
qs_log() { printf '\033[1m[quantscope]\033[0m %s\n' "$*" >&2; }

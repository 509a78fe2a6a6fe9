# Sourced by the benchmark venv set-ups.
# venv_has_pins PYTHON PKG=VERSION... [-- MODULE...]: whether PYTHON's
# environment has each package at its pinned version (a local "+cu130"-style
# suffix ignored) and imports each MODULE.
venv_has_pins() {
  local python="$1"
  shift
  "$python" - "$@" <<'PY' 2>/dev/null
import importlib
import sys
from importlib.metadata import version

args = sys.argv[1:]
pins, modules = (args[: args.index("--")], args[args.index("--") + 1 :]) if "--" in args else (args, [])
for pkg, ver in (a.split("=", 1) for a in pins):
    if version(pkg).split("+")[0] != ver:
        sys.exit(1)
for module in modules:
    importlib.import_module(module)
PY
}

#!/usr/bin/env bash
# Installs what QuantScope needs on Debian bookworm; idempotent, so it is safe
# to run before every build. Apt packages: Qt 6 (with Svg, for plot export), QCustomPlot (Qt 6 build),
# HDF5 C/C++, nlohmann-json, Xvfb, ccache, Ninja, clang with libFuzzer and the
# sanitizers (the fuzz build). libtorch: the PyPI torch
# wheel in a venv outside the build tree. The CUDA toolkit is used from
# /usr/local/cuda when present; nothing here installs it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

APT_PACKAGES=(build-essential cmake ninja-build ccache pkg-config python3-venv unzip
              qt6-base-dev qt6-svg-dev libqcustomplot-dev libhdf5-dev nlohmann-json3-dev
              xvfb xauth libgl1-mesa-dev clang libclang-rt-14-dev)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  qs_log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$QS_VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$QS_TORCH_VERSION')" 2>/dev/null; then
  qs_log "installing torch $QS_TORCH_VERSION from PyPI into $QS_VENV (large; pip's cache is reused)"
  python3 -m venv "$QS_VENV"
  "$QS_VENV/bin/pip" install -q --upgrade pip
  "$QS_VENV/bin/pip" install -q "torch==$QS_TORCH_VERSION"
fi
qs_log "dependencies ready (torch $("$QS_VENV/bin/python" -c 'import torch; print(torch.__version__)'))"

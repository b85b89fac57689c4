#!/usr/bin/env bash
# System packages the C++ harness (ascend310_infer/src/build.sh) needs on Debian/Ubuntu: cmake, g++, make,
# OpenCV headers; python3 and CA certificates for fetch_deps.py (it downloads the ONNX Runtime headers from the
# npm registry over HTTPS with Python's urllib: no Node.js or npm); and the Python development files (headers,
# libpython) of the Python that the embedded MindSpore backend (mindspore_python) is built against, when that
# Python is the system's. Installs only what is missing; needs root (or sudo) for apt-get. Exit 2 if something
# is missing and cannot be installed, naming it.
#
#   bash scripts/install_system_deps.sh      (PYTHON: the embedding Python, default the repo's .venv/bin/python)
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-}
[ -n "$PY" ] || { [ -x "$REPO_DIR/.venv/bin/python" ] && PY="$REPO_DIR/.venv/bin/python"; } || PY=python3

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
opencv_found=0
for config in /usr/lib/*/cmake/opencv4/OpenCVConfig.cmake /usr/lib/cmake/opencv4/OpenCVConfig.cmake; do
    [ -f "$config" ] && opencv_found=1
done
[ "$opencv_found" -eq 1 ] || missing+=(libopencv-dev)
command -v python3 >/dev/null 2>&1 || command -v "$PY" >/dev/null 2>&1 || missing+=(python3)
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
# Python.h and libpython of $PY (a pyenv or conda Python brings its own; Debian's python3 needs python3-dev).
if command -v "$PY" >/dev/null 2>&1 && ! "$PY" - <<'EOF' >/dev/null 2>&1
import os, sys, sysconfig
include = os.path.join(sysconfig.get_paths()["include"], "Python.h")
libdir = sysconfig.get_config_var("LIBDIR") or ""
ldlib = sysconfig.get_config_var("LDLIBRARY") or ""
sys.exit(0 if os.path.isfile(include) and os.path.exists(os.path.join(libdir, ldlib)) else 1)
EOF
then
    missing+=(python3-dev)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "error: the C++ harness needs ${missing[*]}: install with 'apt-get install ${missing[*]}' as root" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: the C++ harness needs ${missing[*]} and this system has no apt-get: install them by hand" >&2
    exit 2
fi
echo "[mindzoo] installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

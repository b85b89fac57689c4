#!/bin/bash
# Build the mindzoo ascend310_infer harness.
#
#   bash ascend310_infer/src/build.sh [onnxruntime|mindspore|mindspore_python]   (default: $BACKEND or onnxruntime)
#
# Prints the path of the built binary as its last line: ascend310_infer/build/<backend>/main (or $BUILD_DIR/main).
# Incremental: a second run only recompiles what changed.
#
# Needs cmake, a C++17 compiler, make and OpenCV (scripts/install_system_deps.sh installs them on Debian/Ubuntu:
# apt-get install cmake g++ make libopencv-dev), a Python 3 ($PYTHON, default: the repo's .venv/bin/python, else
# python3), plus:
#   onnxruntime       libonnxruntime: $ORT_LIBRARY, else $ORT_ROOT/lib, else the onnxruntime wheel of $PYTHON;
#                     C/C++ headers: $ORT_INCLUDE_DIR, else $ORT_ROOT/include, else fetched once by fetch_deps.py
#                     from the npm registry over HTTPS (package com.github.asus4.onnxruntime, a repackaging of
#                     the official ONNX Runtime release with its headers, MIT; no Node.js needed), checked
#                     against the registry's sha512 and the header checksums in onnxruntime_headers.sha256, and
#                     cached in ~/.cache/mindzoo/ ($MINDZOO_CACHE). ORT_ROOT may be an official
#                     onnxruntime-linux-x64-<ver> release dir (include/ + lib/).
#   mindspore         MindSpore's C++ API: $MINDSPORE_PATH (dir with include/api/model.h and lib/libmindspore.so
#                     or libmindspore-lite.so / libmindspore-extendrt_python.so), else the install dir of $PYTHON's
#                     mindspore package if it has include/api (Ascend packages do; the PyPI CPU wheel does not).
#                     MINDSPORE_PATH=$(python3 ascend310_infer/src/fetch_deps.py mindspore-lite) builds against
#                     the mindspore-lite 2.0.0 PyPI wheel (which cannot read MindSpore 2.10 MINDIR files).
#                     MS_LOAD=graph|path forces Serialization::Load + Model::Build(GraphCell) or
#                     Model::Build(path) (default auto: graph with libmindspore.so, path with MindSpore Lite).
#   mindspore_lite    the mindspore backend on MindSpore Lite: $MINDSPORE_PATH, else the mindspore-lite 2.0.0 wheel
#                     (fetch_deps.py mindspore-lite); also builds convert_lite (ONNX -> Lite model) when the
#                     package has lib/libmindspore_converter.so. Reads models from export.py --file_format=MINDIR_LITE.
#   mindspore_python  MindSpore's runtime through its Python API, embedded: the Python development files of
#                     $PYTHON (its headers and libpython), whose site-packages has mindspore and mindzoo.
# Exit status: 0 built, 1 compile error, 2 a prerequisite is missing (the message names it).
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INFER_DIR=$(cd "$SRC_DIR/.." && pwd)
REPO_DIR=$(cd "$INFER_DIR/.." && pwd)
BACKEND=${1:-${BACKEND:-onnxruntime}}
BUILD_DIR=${BUILD_DIR:-$INFER_DIR/build/$BACKEND}

missing() { echo "build.sh: error: $*" >&2; exit 2; }
log() { echo "build.sh: $*" >&2; }

case "$BACKEND" in
  onnxruntime|mindspore|mindspore_python|mindspore_lite) ;;
  *) missing "unknown backend '$BACKEND' (use onnxruntime, mindspore, mindspore_python or mindspore_lite)" ;;
esac

command -v cmake >/dev/null 2>&1 || missing "cmake not found: install it (apt-get install cmake)"

# One build at a time per checkout (parallel test workers, a quickstart next to a test run): the backends share
# the fetched packages in the cache and CMake's build trees are not safe to configure twice at once.
mkdir -p "$INFER_DIR/build"
exec 9>"$INFER_DIR/build/.lock"
command -v flock >/dev/null 2>&1 && flock 9
if ! command -v "${CXX:-c++}" >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1; then
  missing "no C++17 compiler found: install one (apt-get install g++)"
fi
command -v make >/dev/null 2>&1 || missing "make not found: install it (apt-get install make)"

# OpenCV: CMake's find_package needs OpenCVConfig.cmake (Debian's libopencv-dev ships it).
opencv_found() {
  [ -n "${OpenCV_DIR:-}" ] && [ -f "$OpenCV_DIR/OpenCVConfig.cmake" ] && return 0
  command -v pkg-config >/dev/null 2>&1 && pkg-config --exists opencv4 2>/dev/null && return 0
  local f
  for f in /usr/lib/*/cmake/opencv4/OpenCVConfig.cmake /usr/lib/cmake/opencv4/OpenCVConfig.cmake \
           /usr/local/lib/cmake/opencv4/OpenCVConfig.cmake /usr/local/lib/*/cmake/opencv4/OpenCVConfig.cmake \
           /usr/share/OpenCV/OpenCVConfig.cmake; do
    [ -f "$f" ] && return 0
  done
  return 1
}
opencv_found || missing "OpenCV development files not found (core, imgproc, imgcodecs): install them with" \
  "'apt-get install libopencv-dev', or set OpenCV_DIR to the directory containing OpenCVConfig.cmake"

if [ -n "${PYTHON:-}" ]; then
  :
elif [ -x "$REPO_DIR/.venv/bin/python" ]; then
  PYTHON="$REPO_DIR/.venv/bin/python"
else
  PYTHON=python3
fi
command -v "$PYTHON" >/dev/null 2>&1 || missing "Python not found ('$PYTHON'): install python3 or set PYTHON"

CMAKE_ARGS=(-DBACKEND="$BACKEND")
if [ "$BACKEND" = mindspore_lite ]; then
  # The mindspore backend built against MindSpore Lite (default: the mindspore-lite wheel from PyPI, fetched
  # once), plus convert_lite: what export.py --file_format=MINDIR_LITE and a Lite model's deployment use.
  if [ -z "${MINDSPORE_PATH:-}" ]; then
    MINDSPORE_PATH=$("$PYTHON" "$SRC_DIR/fetch_deps.py" mindspore-lite | tail -n 1) || exit 2
  fi
  MS_LOAD=path
  CMAKE_ARGS=(-DBACKEND=mindspore)
fi
[ -n "${OpenCV_DIR:-}" ] && CMAKE_ARGS+=(-DOpenCV_DIR="$OpenCV_DIR")

find_ort_library() {
  if [ -n "${ORT_LIBRARY:-}" ]; then
    [ -f "$ORT_LIBRARY" ] || missing "ORT_LIBRARY=$ORT_LIBRARY does not exist"
    echo "$ORT_LIBRARY"; return
  fi
  if [ -n "${ORT_ROOT:-}" ]; then
    local lib
    lib=$(ls "$ORT_ROOT"/lib/libonnxruntime.so.1.* 2>/dev/null | head -n 1 || true)
    [ -n "$lib" ] || lib=$(ls "$ORT_ROOT"/lib/libonnxruntime.so* 2>/dev/null | head -n 1 || true)
    [ -n "$lib" ] || missing "no libonnxruntime.so* in ORT_ROOT/lib ($ORT_ROOT/lib)"
    echo "$lib"; return
  fi
  local capi
  capi=$("$PYTHON" - <<'EOF' 2>/dev/null || true
import importlib.util, os
spec = importlib.util.find_spec("onnxruntime")
if spec and spec.submodule_search_locations:
    print(os.path.join(list(spec.submodule_search_locations)[0], "capi"))
EOF
)
  local lib=""
  [ -n "$capi" ] && lib=$(ls "$capi"/libonnxruntime.so.1.* 2>/dev/null | head -n 1 || true)
  [ -n "$lib" ] || missing "ONNX Runtime library not found: $PYTHON has no onnxruntime wheel with capi/libonnxruntime.so.1.*;" \
    "install it ('$PYTHON -m pip install onnxruntime'), or set ORT_LIBRARY=/path/to/libonnxruntime.so.1.x" \
    "or ORT_ROOT=<onnxruntime release dir with include/ and lib/>"
  echo "$lib"
}

fetch_ort_headers() {
  "$PYTHON" "$SRC_DIR/fetch_deps.py" onnxruntime-headers | tail -n 1
}

if [ "$BACKEND" = onnxruntime ]; then
  ORT_LIB=$(find_ort_library)
  if [ -n "${ORT_INCLUDE_DIR:-}" ]; then
    ORT_INC=$ORT_INCLUDE_DIR
  elif [ -n "${ORT_ROOT:-}" ]; then
    ORT_INC=$ORT_ROOT/include
    [ -f "$ORT_INC/onnxruntime_cxx_api.h" ] || [ ! -f "$ORT_INC/onnxruntime/onnxruntime_cxx_api.h" ] || ORT_INC=$ORT_INC/onnxruntime
  else
    ORT_INC=$(fetch_ort_headers) || exit 2
  fi
  [ -f "$ORT_INC/onnxruntime_cxx_api.h" ] || missing "ONNX Runtime headers not found: $ORT_INC/onnxruntime_cxx_api.h is missing"
  # Headers may be older than the library (its C API is backward compatible), never newer.
  header_api=$(sed -n 's/^#define ORT_API_VERSION \([0-9][0-9]*\).*/\1/p' "$ORT_INC/onnxruntime_c_api.h" | head -n 1)
  lib_api=$(basename "$ORT_LIB" | sed -n 's/^libonnxruntime\.so\.1\.\([0-9][0-9]*\).*/\1/p')
  if [ -n "$header_api" ] && [ -n "$lib_api" ] && [ "$header_api" -gt "$lib_api" ]; then
    missing "ONNX Runtime headers (API $header_api) are newer than the library $(basename "$ORT_LIB") (API $lib_api):" \
      "use headers of ONNX Runtime <= 1.$lib_api (ORT_INCLUDE_DIR) or a newer library (ORT_LIBRARY)"
  fi
  log "onnxruntime library $ORT_LIB (API ${lib_api:-?}), headers $ORT_INC (API ${header_api:-?})"
  CMAKE_ARGS+=(-DORT_INCLUDE_DIR="$ORT_INC" -DORT_LIBRARY="$ORT_LIB")
elif [ "$BACKEND" = mindspore_python ]; then
  PYTHON_ABS=$(command -v "$PYTHON")
  case "$PYTHON_ABS" in /*) ;; *) PYTHON_ABS="$(pwd)/$PYTHON_ABS" ;; esac
  "$PYTHON_ABS" -c "import mindspore" >/dev/null 2>&1 || \
    log "warning: $PYTHON_ABS cannot import mindspore; the harness will fail to load a model until it can"
  CMAKE_ARGS+=(-DPython3_EXECUTABLE="$PYTHON_ABS")
else
  if [ -z "${MINDSPORE_PATH:-}" ]; then
    MINDSPORE_PATH=$("$PYTHON" - <<'EOF' 2>/dev/null || true
import importlib.util
spec = importlib.util.find_spec("mindspore")
if spec and spec.submodule_search_locations:
    print(list(spec.submodule_search_locations)[0])
EOF
)
  fi
  if [ -z "$MINDSPORE_PATH" ] || [ ! -f "$MINDSPORE_PATH/include/api/model.h" ]; then
    missing "MindSpore C++ inference API not found: ${MINDSPORE_PATH:-<no mindspore package>}/include/api/model.h is missing." \
      "The mindspore PyPI CPU wheel does not ship it; on an Atlas host install the MindSpore Ascend package and set" \
      "MINDSPORE_PATH to the directory that contains include/api and lib/libmindspore.so"
  fi
  [ -f "$MINDSPORE_PATH/lib/libmindspore.so" ] || [ -f "$MINDSPORE_PATH/lib/libmindspore-lite.so" ] || \
    [ -f "$MINDSPORE_PATH/lib/libmindspore-extendrt_python.so" ] || \
    missing "none of libmindspore.so, libmindspore-lite.so, libmindspore-extendrt_python.so found in $MINDSPORE_PATH/lib"
  CMAKE_ARGS+=(-DMINDSPORE_PATH="$MINDSPORE_PATH" -DMS_LOAD="${MS_LOAD:-auto}")
fi

mkdir -p "$BUILD_DIR"
log "configuring $BUILD_DIR"
cmake -S "$SRC_DIR" -B "$BUILD_DIR" "${CMAKE_ARGS[@]}" >"$BUILD_DIR/configure.log" 2>&1 || {
  cat "$BUILD_DIR/configure.log" >&2
  missing "cmake configure failed (see the message above)"
}
JOBS=$(nproc 2>/dev/null || echo 2)
[ "$JOBS" -gt 2 ] && JOBS=2
log "compiling (-j$JOBS)"
if ! cmake --build "$BUILD_DIR" -j "$JOBS" >"$BUILD_DIR/build.log" 2>&1; then
  cat "$BUILD_DIR/build.log" >&2
  echo "build.sh: error: compilation failed (log: $BUILD_DIR/build.log)" >&2
  exit 1
fi
echo "$BUILD_DIR/main"

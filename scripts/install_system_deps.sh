#!/usr/bin/env bash
# System packages the C++ harness needs (Debian/Ubuntu): cmake, g++, make, OpenCV headers.
# Installs only what is missing; needs root (or sudo) for apt-get. Exit 2 if something is missing and
# cannot be installed, naming it.
set -euo pipefail

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
opencv_found=0
for config in /usr/lib/*/cmake/opencv4/OpenCVConfig.cmake /usr/lib/cmake/opencv4/OpenCVConfig.cmake; do
    [ -f "$config" ] && opencv_found=1
done
[ "$opencv_found" -eq 1 ] || missing+=(libopencv-dev)
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

#!/usr/bin/env bash
# The benchmark suite: `bash bench/run.sh [--quick] [--only SECTION[,...]] [--out FILE] [--threads N] [--estimate]`.
# A thin wrapper over `python -m bench` (see bench/__init__.py; `--help` lists the time-limit and budget options):
# makes sure .venv has mindzoo with the PyTorch extra and that the C++ harness can be built, then runs the suite.
# Results: bench/results/<date>-<host>-<cpu kind>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "test,torch"
bash scripts/install_system_deps.sh || echo "[bench] C++ harness prerequisites missing: its row will show the error" >&2
exec .venv/bin/python -m bench "$@"

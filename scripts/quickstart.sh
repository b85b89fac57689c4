#!/usr/bin/env bash
# The whole mission on CPU: install into .venv, build the demo dataset, train, evaluate, export MINDIR + ONNX,
# run the C++ harness and print the accuracy table. Arguments go to `python -m mindzoo.quickstart`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "test"
bash scripts/install_system_deps.sh
exec .venv/bin/python -m mindzoo.quickstart "$@"

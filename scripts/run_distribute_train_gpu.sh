#!/usr/bin/env bash
# GPU data-parallel training: run_distribute_train_msrun.sh with DEVICE_TARGET=GPU.
#   bash scripts/run_distribute_train_gpu.sh DATA_PATH [WORKER_NUM] [CONFIG_PATH] [--key=value ...]
# Same outputs and environment variables as run_distribute_train_msrun.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3 || { echo "error: no .venv and no python3 on PATH" >&2; exit 2; })"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m mindzoo.launch msrun-gpu "$@"

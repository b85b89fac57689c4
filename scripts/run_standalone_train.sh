#!/usr/bin/env bash
# Single-process training (train.py): outputs in output_dir (default ./output): checkpoints/, metrics.jsonl,
# train_rank0.log, config.yaml, curves.png.
#   bash scripts/run_standalone_train.sh DATA_PATH [CONFIG_PATH] [DEVICE_TARGET] [--key=value ...]
# Options after the positional arguments go to train.py. DRY_RUN=1 prints the train.py command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3 || { echo "error: no .venv and no python3 on PATH" >&2; exit 2; })"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m mindzoo.launch standalone "$@"

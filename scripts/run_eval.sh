#!/usr/bin/env bash
# Top-1/top-5 of a checkpoint (or every checkpoint in a directory) on DATA_PATH/val (or DATA_PATH itself):
# eval.py, writing eval_result.json to output_dir.
#   bash scripts/run_eval.sh DATA_PATH CKPT [CONFIG_PATH] [--key=value ...]
# Options after the positional arguments go to eval.py. DRY_RUN=1 prints the eval.py command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3 || { echo "error: no .venv and no python3 on PATH" >&2; exit 2; })"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m mindzoo.launch eval "$@"

#!/usr/bin/env bash
# Top-1/top-5 of a checkpoint (or every checkpoint in a directory) on DATA_PATH/val (or DATA_PATH itself):
# eval.py, writing eval_result.json to output_dir.
#   bash scripts/run_eval.sh DATA_PATH CKPT [CONFIG_PATH] [--key=value ...]
#   bash scripts/run_eval.sh DEVICE_ID DATA_PATH PRETRAINED_CKPT_PATH [PLATFORM] [--key=value ...]
# The second form is the ResNeXt152_64x4d README's: a first argument of digits only that is not a directory is
# DEVICE_ID (exported); PLATFORM is Ascend (default), GPU or CPU. Options after the positional arguments go to
# eval.py and win over the script's. DRY_RUN=1 prints the eval.py command; -h lists every option.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3 || { echo "error: no .venv and no python3 on PATH" >&2; exit 2; })"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m mindzoo.launch eval "$@"

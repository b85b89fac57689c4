#!/usr/bin/env bash
# Single-process training (train.py): outputs in output_dir (default ./output): checkpoints/, metrics.jsonl,
# train_rank0.log, config.yaml, curves.png.
#   bash scripts/run_standalone_train.sh DATA_PATH [CONFIG_PATH] [DEVICE_TARGET] [--key=value ...]
#   bash scripts/run_standalone_train.sh DEVICE_ID DATA_PATH [PRETRAINED_CKPT_PATH] [--key=value ...]
# The second form is the ResNeXt152_64x4d README's: a first argument of digits only that is not a directory is
# DEVICE_ID (exported; the device is Ascend and eval-while-train off, as its script runs it, unless an option
# says otherwise). DATA_PATH is the dataset root or its train/ folder. Options after the positional arguments go
# to train.py and win over the script's. DRY_RUN=1 prints the train.py command; -h lists every option.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3 || { echo "error: no .venv and no python3 on PATH" >&2; exit 2; })"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m mindzoo.launch standalone "$@"

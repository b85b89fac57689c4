#!/usr/bin/env bash
# Data-parallel training with MindSpore's msrun (scheduler + WORKER_NUM workers, no MPI): GPU, or CPU with
# mccl over 127.0.0.1. All ranks share output_dir (rank 0 writes checkpoints/ and metrics.jsonl, every rank
# train_rank<r>.log); msrun's worker_<r>.log and scheduler.log go to <output_dir>/msrun_log/. If a worker
# dies, the job fails within seconds, naming the rank and showing the end of its log.
#   bash scripts/run_distribute_train_msrun.sh DATA_PATH [WORKER_NUM] [CONFIG_PATH] [DEVICE_TARGET] [--key=value ...]
# WORKER_NUM defaults to 8; DEVICE_TARGET to the config's. Options after the positional arguments go to
# train.py. Environment: MASTER_PORT (default: a free port), MASTER_ADDR, LOCAL_WORKER_NUM and NODE_RANK
# (multi-node), DRY_RUN=1 (print the msrun command). Logic: src/mindzoo/launch/msrun.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3 || { echo "error: no .venv and no python3 on PATH" >&2; exit 2; })"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m mindzoo.launch msrun "$@"

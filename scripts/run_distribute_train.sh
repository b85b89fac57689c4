#!/usr/bin/env bash
# Ascend data-parallel training from an HCCL rank table: one train.py per device of THIS server, each in
# train_parallel<rank>/ (env.log, log.txt, output/), CPU cores split evenly (taskset); rank 0 writes the
# checkpoints (train_parallel0/output/checkpoints). If a rank dies the others are stopped and the job fails,
# naming the rank and showing the end of its log.
#   bash scripts/run_distribute_train.sh RANK_TABLE_FILE DATA_PATH [CONFIG_PATH] [RESUME_CKPT] [--key=value ...]
# Options after the positional arguments go to train.py. Environment: SERVER_ID=<server_id> (default: the
# server_id matching this host's addresses), DRY_RUN=1 (print each rank's environment and command),
# BIND_CORES=0 (no taskset). Logic and checks: src/mindzoo/launch/ranktable.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3 || { echo "error: no .venv and no python3 on PATH" >&2; exit 2; })"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m mindzoo.launch ranktable "$@"

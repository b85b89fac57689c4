#!/usr/bin/env bash
# Install what the tests need into .venv and run pytest. The default suite skips tests marked slow;
# `bash scripts/test.sh --runslow` runs everything. Extra arguments go to pytest; test paths may be given
# relative to the directory you call from (`cd scripts && bash test.sh ../tests/test_config.py`).
set -euo pipefail
args=()
for arg in "$@"; do
    path="${arg%%::*}"  # tests/test_x.py::test_name
    if [[ "$arg" != -* && -e "$path" ]]; then
        args+=("$(cd "$(dirname "$path")" && pwd)/$(basename "$path")${arg:${#path}}")
    else
        args+=("$arg")
    fi
done
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "test,torch"
bash scripts/install_system_deps.sh
exec .venv/bin/python -m pytest -q ${args[@]+"${args[@]}"}

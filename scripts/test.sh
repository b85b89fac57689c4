#!/usr/bin/env bash
# Install what the tests need into .venv and run pytest. The default suite skips tests marked slow;
# `bash scripts/test.sh --runslow` runs everything. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "test,torch"
bash scripts/install_system_deps.sh
exec .venv/bin/python -m pytest -q "$@"

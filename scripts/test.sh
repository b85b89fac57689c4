#!/usr/bin/env bash
# Install what the tests need into .venv and run pytest. The default suite skips tests marked slow;
# `bash scripts/test.sh --runslow` runs everything. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "test,torch"
# MindCV is a test peer (tests/test_interop.py): installed without its dependency list (setup.py's test extra
# has the one it needs, tqdm) so pip never re-resolves the pinned stack. Without a registry its tests skip.
MINDCV_PIN="mindcv==0.3.0"
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('mindcv') != '${MINDCV_PIN#*==}')" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --no-deps "$MINDCV_PIN" \
        || echo "[mindzoo] warning: cannot install $MINDCV_PIN (registry unreachable?); MindCV parity tests will skip" >&2
fi
bash scripts/install_system_deps.sh
exec .venv/bin/python -m pytest -q "$@"

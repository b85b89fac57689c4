#!/usr/bin/env bash
# Install what the tests need into .venv and run pytest (two workers, PYTEST_WORKERS=N to change). The default
# suite skips tests marked slow;
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
# MindCV is a test peer (tests/test_interop.py): installed without its dependency list (setup.py's test extra
# has the one it needs, tqdm) so pip never re-resolves the pinned stack. Without a registry its tests skip.
MINDCV_PIN="mindcv==0.3.0"
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('mindcv') != '${MINDCV_PIN#*==}')" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --no-deps "$MINDCV_PIN" \
        || echo "[mindzoo] warning: cannot install $MINDCV_PIN (registry unreachable?); MindCV parity tests will skip" >&2
fi
# timm is the reference of tests/test_recipes.py (its Mixup and BCE files are loaded alone): --no-deps for the same
# reason (its torchvision dependency would pull another torch). Without it those comparisons skip.
TIMM_PIN="timm==1.0.31"
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('timm') != '${TIMM_PIN#*==}')" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --no-deps "$TIMM_PIN" \
        || echo "[mindzoo] warning: cannot install $TIMM_PIN (registry unreachable?); timm comparisons will skip" >&2
fi
bash scripts/install_system_deps.sh
# The suite writes real checkpoints and exports under the temporary directory: about 2.2 GB at its peak (pytest.ini
# removes each passing test's files). Say so before a full disk fails a test deep inside a checkpoint write.
.venv/bin/python - <<'PY'
import shutil, sys, tempfile
free_gb = shutil.disk_usage(tempfile.gettempdir()).free / 2**30
if free_gb < 3:
    print(f"[mindzoo] warning: only {free_gb:.1f} GB free in {tempfile.gettempdir()}; the test suite needs about 3 GB "
          "(set TMPDIR to a larger disk)", file=sys.stderr)
PY
# Two pytest workers (pytest-xdist), a test file per worker: on 2 cores one worker's single-threaded phases
# (interpreter and MindSpore start-up, graph compiles, subprocess CLIs) overlap the other's compute.
# PYTEST_WORKERS=0 runs in one process.
workers=(-n "${PYTEST_WORKERS:-2}" --dist loadfile)
[ "${PYTEST_WORKERS:-2}" = "0" ] && workers=()
exec .venv/bin/python -m pytest -q ${workers[@]+"${workers[@]}"} ${args[@]+"${args[@]}"}

# Sourced by the scripts: make sure .venv exists and has mindzoo installed with the given extras.
# Re-installs only when setup.py changed (a stamp in .venv records its hash), so repeated runs are fast.
# Usage: ensure_venv "test,torch"
# Whether an install stamp "<setup.py hash>-<extras>" covers the wanted one: same setup.py, and every wanted extra
# installed (test.sh's "test,torch" covers quickstart.sh's "test", so the two never reinstall each other).
_stamp_covers() {
    local have="$1" want="$2" extra
    [ "${have%%-*}" = "${want%%-*}" ] || return 1
    IFS=',' read -ra wanted <<< "${want#*-}"
    for extra in "${wanted[@]}"; do
        [[ ",${have#*-}," == *",$extra,"* ]] || return 1
    done
}

ensure_venv() {
    local extras="$1"
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local py="${PYTHON:-}"
    if [ -z "$py" ]; then
        py="$(command -v python3.11 || command -v python3 || true)"
    fi
    if [ -z "$py" ]; then
        echo "error: no python3 found; install Python 3.11" >&2
        return 2
    fi
    if [ ! -x "$root/.venv/bin/python" ]; then
        echo "[mindzoo] creating $root/.venv with $("$py" --version)"
        "$py" -m venv "$root/.venv"
    fi
    local stamp="$root/.venv/.mindzoo-installed"
    local want
    want="$(sha256sum "$root/setup.py" | cut -c1-16)-${extras}"
    if [ ! -f "$stamp" ] || ! _stamp_covers "$(cat "$stamp")" "$want"; then
        echo "[mindzoo] installing mindzoo[${extras}] into .venv (first run: a few minutes, ~3 GB)"
        "$root/.venv/bin/python" -m pip install --quiet --upgrade pip
        "$root/.venv/bin/python" -m pip install --quiet -e "$root[${extras}]"
        echo "$want" > "$stamp"
    fi
    export PATH="$root/.venv/bin:$PATH"
    # See docs/models.md "Why ONEDNN_MAX_CPU_ISA": oneDNN's AVX-512 path uses a reference convolution (~40x slower).
    export ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-AVX2}"
}

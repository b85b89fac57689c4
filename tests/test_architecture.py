"""The architecture written down in .importlinter (layers that only point down, no circles) holds.

`lint-imports` (import-linter) reads the import graph of src/mindzoo; an import that points up a layer or closes
a circle breaks a contract and fails here, naming the import chain.
"""
import subprocess
import sys
from pathlib import Path

from helpers import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(config), "--no-cache"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    result = _lint(REPO / ".importlinter")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    """Negative control: with weights/ declared above models/, models.factory's import of weights must fail."""
    config = tmp_path / "inverted.ini"
    config.write_text("[importlinter]\nroot_package = mindzoo\n\n[importlinter:contract:inverted]\n"
                      "name = inverted\ntype = layers\nlayers =\n    mindzoo.weights\n    mindzoo.models\n")
    result = _lint(config)
    assert result.returncode != 0
    assert "mindzoo.models.factory -> mindzoo.weights.checkpoint" in result.stdout

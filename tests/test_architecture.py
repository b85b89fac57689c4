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


#: What must start without MindSpore (2-3 s to import): the launchers (their usage errors and dry runs, and rank 0's
#: ``auto`` resume decided before any rank starts), the command lines up to their cheap checks (train.py's and
#: eval.py's missing folders and checkpoints are one line in a fraction of a second), and the deployment tools that
#: run on hosts without it.
MINDSPORE_FREE = ("mindzoo.launch", "mindzoo.launch.cli", "mindzoo.launch.ranktable", "mindzoo.launch.msrun",
                  "mindzoo.cli.train", "mindzoo.cli.eval", "mindzoo.cli.export", "mindzoo.cli.infer",
                  "mindzoo.train.checks", "mindzoo.eval.run", "mindzoo.export.pipeline", "mindzoo.deploy.sidecar",
                  "mindzoo.deploy.harness_files", "mindzoo.deploy.infer_plan", "mindzoo.weights.naming",
                  "mindzoo.data.layout", "mindzoo.config")


def test_launchers_command_lines_and_deployment_tools_start_without_mindspore():
    code = (f"import importlib, io, sys, tempfile, types\nfor name in {MINDSPORE_FREE!r}:\n"
            "    importlib.import_module(name)\n    assert 'mindspore' not in sys.modules, name\n"
            "cfg = types.SimpleNamespace(resume_ckpt='auto', net_name='resnet18')\n"
            "with tempfile.TemporaryDirectory() as empty:\n"
            "    assert importlib.import_module('mindzoo.launch').auto_resume_args(cfg, __import__('pathlib')"
            ".Path(empty), True, io.StringIO()) == ['--resume_ckpt=']\n"
            "assert 'mindspore' not in sys.modules, 'auto_resume_args'\n"
            "with tempfile.TemporaryDirectory() as out:\n"
            "    missing = ['--data_path=' + out + '/missing', '--output_dir=' + out]\n"
            "    assert importlib.import_module('mindzoo.cli.train').main(missing) == 2\n"
            "    assert importlib.import_module('mindzoo.cli.eval').main([*missing, '--pretrained=' + out]) == 2\n"
            "assert 'mindspore' not in sys.modules, 'train.py / eval.py usage errors'")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]

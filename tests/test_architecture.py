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
                  "mindzoo.data.layout", "mindzoo.config", "mindzoo.cli.convert", "mindzoo.weights.formats",
                  "mindzoo.weights.pretrained")


#: Run in a fresh interpreter (this one has MindSpore loaded): import each module, then take the launcher's
#: ``auto`` decision and train.py's / eval.py's usage errors, checking after each that MindSpore stayed out.
MINDSPORE_FREE_CHECK = """
import importlib, io, sys, tempfile, types
from pathlib import Path

for name in MODULES:
    importlib.import_module(name)
    assert "mindspore" not in sys.modules, name

from mindzoo.cli import convert as convert_cli, eval as eval_cli, train as train_cli
from mindzoo.launch import auto_resume_args

cfg = types.SimpleNamespace(resume_ckpt="auto", net_name="resnet18")
with tempfile.TemporaryDirectory() as out:
    assert auto_resume_args(cfg, Path(out), True, io.StringIO()) == ["--resume_ckpt="]
    assert "mindspore" not in sys.modules, "auto_resume_args"
    missing = [f"--data_path={out}/missing", f"--output_dir={out}"]
    assert train_cli.main(missing) == 2
    assert eval_cli.main([*missing, f"--pretrained={out}"]) == 2
    assert "mindspore" not in sys.modules, "train.py / eval.py usage errors"
    assert convert_cli.main(["--arch=resnet50", f"--src={out}/a.ckpt", f"--out={out}/a.pth", "--to=torchvision",
                             "--src_format=timm"]) == 2
    assert "mindspore" not in sys.modules, "mindzoo-convert usage error"
"""


def test_launchers_command_lines_and_deployment_tools_start_without_mindspore():
    code = f"MODULES = {MINDSPORE_FREE!r}\n{MINDSPORE_FREE_CHECK}"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]

"""The command lines of the model zoo's READMEs, as written, and every CLI's --help.

The ResNeXt152_64x4d README (mindspore/models research/cv/resnext152_64x4d) trains with
``python train.py --data_dir ~/imagenet/train/ --platform Ascend --is_distributed 0``, evaluates with
``python eval.py --data_dir ~/imagenet/val/ --platform Ascend --pretrained resnext.ckpt``, exports with
``python export.py --device_target [PLATFORM] --ckpt_file [CKPT_PATH] --file_format [EXPORT_FORMAT]`` and runs
``bash run_eval.sh DEVICE_ID DATA_PATH PRETRAINED_CKPT_PATH PLATFORM``. Here they run for real on CPU with a tiny
ResNet18 (the flags after the README's ones only make the model and the data small).
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, make_image_folder, run
from mindzoo.config import ALIASES, schema_docs

MODEL_ZOO_YAML = REPO / "tests" / "data" / "resnext152_model_zoo_config.yaml"
TINY = ["--backbone", "resnet18", "--num_classes", "4", "--image_size", "32,32"]
SCRIPTS = sorted(p.name for p in (REPO / "scripts").glob("run_*.sh") if p.name != "run_infer_310.sh")


def _check_lists_every_key(text: str) -> None:
    for doc in schema_docs():
        # argparse-style: the help follows the name and type, on the next line when the name is long
        assert re.search(rf"^  --{doc.key} [A-Z]+\s+{re.escape(doc.help[:20])}", text, re.M), doc.key
    for alias in ALIASES.values():
        assert f"--{alias.name}" in text, alias.name
        if alias.kind == "same":
            assert f"--{alias.name} same key" in text, alias.name
        for target in alias.targets if alias.kind == "maps" else ():
            assert re.search(rf"--{re.escape(alias.name)} -> .*\b{target}\b", text), (alias.name, target)


@pytest.mark.parametrize("script", ["train.py", "eval.py", "export.py"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_config_cli_help(script: str, flag: str) -> None:
    proc = run(script, [flag], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: python {script} ") and not proc.stderr
    assert "  --data_path STR" in proc.stdout and "--data_dir -> data_path" in proc.stdout
    assert "\nrun:\n" in proc.stdout and "\noptimisation:\n" in proc.stdout  # default_config.yaml's sections
    _check_lists_every_key(proc.stdout)


def test_help_after_config_path_shows_its_values() -> None:
    proc = run("train.py", ["--config_path", MODEL_ZOO_YAML, "--help"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"--net_name STR .*\(default: resnext152_64x4d\)", proc.stdout)
    assert re.search(r"--batch_size INT (.|\n)*?\(default: 128\)", proc.stdout)
    assert f"Defaults below: default_config.yaml <- {MODEL_ZOO_YAML}." in proc.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_launch_script_help(script: str, tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(REPO / "scripts" / script), "-h"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: scripts/{script} ")
    _check_lists_every_key(proc.stdout)


@pytest.mark.parametrize("args", [["infer.py", "--help"], ["-m", "mindzoo.convert", "--help"]])
def test_argparse_cli_help(args) -> None:
    cmd = [sys.executable, str(REPO / args[0]), *args[1:]] if args[0].endswith(".py") else [sys.executable, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: ")
    assert "--pretrained STR" in proc.stdout or "--arch STR" in proc.stdout
    assert "--num_classes INT" in proc.stdout


@pytest.mark.parametrize("arg, message", [
    ("--batchsize=4", "error: unknown config key 'batchsize' in the command line; did you mean 'batch_size'?"),
    ("--epochs=3", "error: unknown config key 'epochs' in the command line; did you mean 'epoch_size'?"),
    ("--per_batchsize=4", "error: unknown config key 'per_batchsize' in the command line; did you mean "
                          "'per_batch_size'?"),
])
def test_unknown_key_still_says_did_you_mean(arg: str, message: str) -> None:
    proc = run("train.py", [arg], timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip() == message


def test_conflicting_alias_is_a_one_line_error() -> None:
    proc = run("train.py", ["--per_batch_size=32", "--batch_size=64"], timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: conflicting values in the command line: per_batch_size=32 and "
                                   "batch_size=64 both set batch_size; give only one of them")


# ---------------------------------------------------------------- real runs with the ResNeXt152 README's flags


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("imagenet"), {
        "train": {f"n0{k}": 4 for k in range(4)}, "val": {f"n0{k}": 3 for k in range(4)}}, size=40)


@pytest.fixture(scope="module")
def trained(imagenet: Path, tmp_path_factory) -> Path:
    """The README's train command on <root>/train/, with its default_config.yaml and model-zoo keys only."""
    out = tmp_path_factory.mktemp("zoo_run")
    proc = run("train.py", ["--config_path", MODEL_ZOO_YAML, "--data_dir", f"{imagenet / 'train'}/",
                            "--platform", "CPU", "--is_distributed", "0", *TINY, "--per_batch_size", "4",
                            "--max_epoch", "1", "--T_max", "1", "--warmup_epochs", "0", "--lr", "0.01",
                            "--ckpt_path", out, "--run_eval", "0"], timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"data_dir={imagenet / 'train'}/ -> data_path={imagenet}" in proc.stderr  # logged before the run's log
    assert "come from the launcher" in proc.stderr and "not used by mindzoo" in proc.stderr
    return out


def test_train_with_the_model_zoo_keys_and_yaml(trained: Path) -> None:
    cfg = yaml.safe_load((trained / "config.yaml").read_text())
    assert (cfg["net_name"], cfg["num_classes"], cfg["batch_size"], cfg["train_image_size"]) == ("resnet18", 4, 4, 32)
    assert (cfg["device_target"], cfg["run_distribute"], cfg["epoch_size"]) == ("CPU", False, 1)
    assert (cfg["lr"], cfg["lr_base_batch"], cfg["lr_schedule"]) == (0.01, 0, "warmup_cosine_annealing")
    assert cfg["label_smoothing"] == pytest.approx(0.1 * 4 / 3)  # label_smooth_factor 0.1 over 4 classes
    assert (cfg["loss_scale_type"], cfg["loss_scale"], cfg["output_dir"]) == ("fixed", 1024.0, str(trained))
    assert [p.name for p in (trained / "checkpoints").glob("*.ckpt")] == ["resnet18-1_4.ckpt"]
    lr_logged = re.findall(r"lr: ([0-9.]+)", (trained / "train_rank0.log").read_text())
    assert lr_logged and float(lr_logged[0]) == pytest.approx(0.01)  # not scaled by 4 / 256


def _acc_lines(stdout: str, total: int):
    top1 = re.search(r"^after allreduce eval: top1_correct=(\d+), tot=(\d+),acc=(\d+\.\d\d)%\(TOP1\)$", stdout, re.M)
    top5 = re.search(r"^after allreduce eval: top5_correct=(\d+), tot=(\d+),acc=(\d+\.\d\d)%\(TOP5\)$", stdout, re.M)
    assert top1 and top5, stdout
    assert int(top1.group(2)) == int(top5.group(2)) == total
    for match in (top1, top5):
        assert match.group(3) == f"{100.0 * int(match.group(1)) / total:.2f}"
    result = re.search(r"^result: \{'top_1_accuracy': ([0-9.e-]+), 'top_5_accuracy': ([0-9.e-]+)\} ckpt= (.*)$",
                       stdout, re.M)
    assert result, stdout
    assert float(result.group(1)) == pytest.approx(int(top1.group(1)) / total)
    assert float(result.group(2)) == pytest.approx(int(top5.group(1)) / total)
    assert int(top5.group(1)) == total  # 4 classes: the label is always in the top 5
    return result.group(3)


def test_eval_with_the_model_zoo_flags_prints_both_formats(imagenet: Path, trained: Path, tmp_path: Path) -> None:
    ckpt = trained / "checkpoints" / "resnet18-1_4.ckpt"
    proc = run("eval.py", ["--data_dir", f"{imagenet / 'val'}/", "--platform", "CPU", "--pretrained", ckpt, *TINY,
                           "--per_batch_size", "5", "--ckpt_path", tmp_path], cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _acc_lines(proc.stdout, 12) == str(ckpt)
    assert json.loads((tmp_path / "eval_result.json").read_text())["total"] == 12
    assert "per_batch_size=5 -> eval_batch_size=5" in proc.stderr


def test_run_eval_sh_device_id_form_from_the_scripts_directory(imagenet: Path, trained: Path, tmp_path: Path) -> None:
    """`cd scripts && bash run_eval.sh DEVICE_ID DATA_PATH PRETRAINED_CKPT_PATH PLATFORM`, relative paths."""
    work = tmp_path / "scripts_dir"
    work.mkdir()
    (work / "val").symlink_to(imagenet / "val")
    (work / "model.ckpt").symlink_to(trained / "checkpoints" / "resnet18-1_4.ckpt")
    proc = subprocess.run(["bash", str(REPO / "scripts" / "run_eval.sh"), "0", "val", "model.ckpt", "CPU", *TINY],
                          cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _acc_lines(proc.stdout, 12) == str(work / "model.ckpt")
    assert (work / "output" / "eval_result.json").is_file()  # the default ./output of the caller's directory


def test_export_with_the_readme_flags(trained: Path, tmp_path: Path) -> None:
    ckpt = trained / "checkpoints" / "resnet18-1_4.ckpt"
    proc = run("export.py", ["--device_target", "CPU", "--ckpt_file", ckpt, "--file_format", "MINDIR",
                             *TINY[:4], "--width", "32", "--height", "32", "--file_name", "resnext_tiny"],
               cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sidecar = json.loads((tmp_path / "resnext_tiny.json").read_text())
    assert (tmp_path / "resnext_tiny.mindir").is_file()
    assert sidecar["input"]["shape"] == [1, 3, 32, 32] and sidecar["preprocess"]["crop_size"] == [32, 32]
    assert sidecar["net_name"] == "resnet18" and sidecar["num_classes"] == 4

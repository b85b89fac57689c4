"""run_infer_310.sh reads what export.py wrote: NAME.json's preprocess sizes, mean/std and resize keys.

A resnet18 (random weights, saved as a checkpoint) is exported with export.py at 40 px with crop_pct 0.8, so
its sidecar says resize 50 / crop 40, sizes no default would give. The script must run it with those sizes and
no RESIZE/CROP, let explicit sizes win, refuse what the harness cannot reproduce in one line, warn once for a
PIL-resized model, and work from any working directory with relative paths. A FixRes ResNet50 exported at its
384 test size runs at 438/384 from its sidecar (~25 s alone).
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers import REPO, make_image_folder, run

RUN_INFER = REPO / "scripts" / "run_infer_310.sh"
SIZE, CROP_PCT, RESIZE = 40, 0.8, 50  # int(40 / 0.8)


def _export(root: Path, net_name: str, fmt: str, *extra: str) -> Path:
    """export.py on a random-weight checkpoint of ``net_name``: the model file (its NAME.json next to it)."""
    import mindspore as ms

    import mindzoo

    ckpt = root / f"{net_name}_random.ckpt"
    if not ckpt.exists():
        ms.save_checkpoint(mindzoo.create_model(net_name, num_classes=4), str(ckpt))
    name = root / f"{net_name}_{fmt.lower()}"
    proc = run("export.py", [f"--net_name={net_name}", "--num_classes=4", f"--ckpt_file={ckpt}",
                             f"--file_name={name}", f"--file_format={fmt}", *extra], timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return Path(f"{name}.{fmt.lower()}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sidecar")
    make_image_folder(root / "data", {"val": {"a": 2, "b": 2, "c": 1, "d": 1}}, size=48)
    onnx = _export(root, "resnet18", "ONNX", f"--eval_image_size={SIZE}", f"--crop_pct={CROP_PCT}")
    sidecar = json.loads(onnx.with_suffix(".json").read_text())
    return {"root": root, "val": root / "data" / "val", "onnx": onnx, "sidecar": sidecar}


def _script(model: Path, data: Path, cwd: Path, *args: str, env: dict = None, script: str = str(RUN_INFER)):
    full_env = {k: v for k, v in os.environ.items() if k not in ("RESIZE", "CROP", "DEVICE_TYPE")}
    full_env.update(env or {})
    return subprocess.run(["bash", script, str(model), str(data), *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, timeout=900)


def _meta(cwd: Path) -> dict:
    return json.loads((cwd / "result_Files" / "meta.json").read_text())


def test_sidecar_sizes_are_used_without_resize_crop(exported, tmp_path):
    assert exported["sidecar"]["preprocess"]["resize_size"] == RESIZE
    proc = _script(exported["onnx"], exported["val"], tmp_path, "0", "CPU")
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    meta = _meta(tmp_path)
    assert (meta["resize"], meta["crop"], meta["count"]) == (RESIZE, SIZE, 6)
    # mean/std come from the sidecar too (0-1 there, 0-255 in the harness)
    np.testing.assert_allclose(meta["mean"], [255 * m for m in exported["sidecar"]["preprocess"]["mean"]], rtol=1e-6)
    np.testing.assert_allclose(meta["std"], [255 * s for s in exported["sidecar"]["preprocess"]["std"]], rtol=1e-6)
    assert f"resize {RESIZE}, crop {SIZE} (sidecar)" in proc.stdout
    assert re.fullmatch(r"Total data: 6, top1 accuracy: [0-9.e-]+, top5 accuracy: [0-9.e-]+\.\n",
                        (tmp_path / "acc.log").read_text())


def test_explicit_sizes_win(exported, tmp_path):
    for name in ("args", "env", "resize_only"):
        (tmp_path / name).mkdir()
    proc = _script(exported["onnx"], exported["val"], tmp_path / "args", "0", "CPU", "46", str(SIZE))
    assert proc.returncode == 0, proc.stderr
    assert (_meta(tmp_path / "args")["resize"], _meta(tmp_path / "args")["crop"]) == (46, SIZE)
    proc = _script(exported["onnx"], exported["val"], tmp_path / "env", env={"CROP": str(SIZE), "RESIZE": "44"})
    assert proc.returncode == 0, proc.stderr
    assert (_meta(tmp_path / "env")["resize"], _meta(tmp_path / "env")["crop"]) == (44, SIZE)
    proc = _script(exported["onnx"], exported["val"], tmp_path / "resize_only", env={"RESIZE": "60"})
    assert proc.returncode == 0, proc.stderr
    assert (_meta(tmp_path / "resize_only")["resize"], _meta(tmp_path / "resize_only")["crop"]) == (60, SIZE)


def test_a_crop_alone_takes_the_sidecar_crop_pct(exported, tmp_path):
    """CROP=32 for a 40 px export is refused by the model's input check; the plan itself says int(32 / 0.8)."""
    from mindzoo.deploy.infer_plan import plan

    run_plan, warnings = plan(exported["onnx"], crop="32")
    assert (run_plan.resize, run_plan.crop, run_plan.sizes_from, warnings) == (40, 32, "explicit", [])
    proc = _script(exported["onnx"], exported["val"], tmp_path, env={"CROP": "32"})
    assert proc.returncode == 2 and "does not take a batch-1 image" in proc.stderr, proc.stderr


def _variant(exported, tmp_path: Path, **preprocess) -> Path:
    """A copy of the ONNX export whose sidecar's preprocess entry is changed."""
    model = tmp_path / "variant.onnx"
    shutil.copy(exported["onnx"], model)
    sidecar = json.loads(json.dumps(exported["sidecar"]))
    sidecar["preprocess"].update(preprocess)
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    return model


@pytest.mark.parametrize("change,message", [
    ({"interpolation": "bicubic"}, "preprocess.interpolation 'bicubic'"),
    ({"resize_edge": "height"}, "preprocess.resize_edge 'height': the harness resizes the shorter edge only"),
    ({"resize_edge": "longer"}, "unknown resize_edge 'longer'"),
    ({"resize_backend": "torch"}, "unknown resize_backend 'torch'"),
    ({"crop_size": [SIZE, SIZE + 8]}, "is not square"),
    ({"crop_pct": "x"}, "bad 'preprocess' entry"),
])
def test_what_the_harness_cannot_reproduce_is_one_line(exported, tmp_path, change, message):
    model = _variant(exported, tmp_path, **change)
    proc = _script(model, exported["val"], tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("run_infer_310.sh: error:"), proc.stderr
    assert message in lines[0] and "variant.json" in lines[0], lines[0]
    assert not (tmp_path / "result_Files").exists()


def test_pil_resized_weights_run_with_one_warning(exported, tmp_path):
    model = _variant(exported, tmp_path, resize_backend="pil", resize_edge="shorter")
    proc = _script(model, exported["val"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "resize_backend 'pil'" in warnings[0] and "grey levels" in warnings[0], proc.stderr
    assert warnings[0] in (tmp_path / "infer.log").read_text()
    assert (_meta(tmp_path)["resize"], _meta(tmp_path)["crop"]) == (RESIZE, SIZE)


def test_no_sidecar_and_no_sizes_is_one_line(exported, tmp_path):
    model = tmp_path / "bare.onnx"
    shutil.copy(exported["onnx"], model)
    proc = _script(model, exported["val"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no export sidecar" in proc.stderr and "RESIZE" in proc.stderr


def test_any_working_directory_and_relative_paths(exported, tmp_path):
    """`cd scripts && bash run_infer_310.sh ../model.onnx ../data/val 0`, with everything relative."""
    deploy = tmp_path / "deploy"
    (deploy / "scripts").mkdir(parents=True)
    shutil.copy(exported["onnx"], deploy / "model.onnx")
    shutil.copy(exported["onnx"].with_suffix(".json"), deploy / "model.json")
    shutil.copytree(exported["val"], deploy / "data" / "val")
    cwd = deploy / "scripts"
    proc = _script(Path("../model.onnx"), Path("../data/val"), cwd, "0", script=os.path.relpath(RUN_INFER, cwd))
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    assert (cwd / "acc.log").read_text().startswith("Total data: 6, ")
    assert (_meta(cwd)["resize"], _meta(cwd)["crop"]) == (RESIZE, SIZE)


def test_fixres_export_runs_at_438_384_from_its_sidecar(exported, tmp_path):
    """fixres_resnet50 (random weights) exported at its default 384 test size: 438/384 with no RESIZE/CROP."""
    model = _export(exported["root"], "fixres_resnet50", "ONNX")
    sidecar = json.loads(model.with_suffix(".json").read_text())["preprocess"]
    assert (sidecar["resize_size"], sidecar["crop_size"]) == (438, [384, 384])
    proc = _script(model, exported["val"], tmp_path, "0", "CPU")
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    assert (_meta(tmp_path)["resize"], _meta(tmp_path)["crop"], _meta(tmp_path)["count"]) == (438, 384, 6)
    assert "resize 438, crop 384 (sidecar)" in proc.stdout


@pytest.mark.parametrize("suffix,device,ascend_present,expected", [
    (".onnx", "", False, ("onnxruntime", "CPU")),
    (".onnx", "CPU", True, ("onnxruntime", "CPU")),
    (".mindir", "", False, ("mindspore_python", "CPU")),
    (".mindir", "", True, ("mindspore", "Ascend310")),
    (".mindir", "CPU", True, ("mindspore_python", "CPU")),
    (".MINDIR", "Ascend", False, ("mindspore", "Ascend310")),
    (".mindir", "Ascend310P", False, ("mindspore", "Ascend310P")),
])
def test_backend_follows_model_and_device(suffix, device, ascend_present, expected):
    """.onnx -> ONNX Runtime; .mindir -> the C++ API on Ascend, the embedded Python runtime on CPU."""
    from mindzoo.deploy.infer_plan import choose_backend

    assert choose_backend(Path("model" + suffix), device, ascend_present) == expected


@pytest.mark.parametrize("suffix,device,message", [
    (".onnx", "Ascend310", "ONNX Runtime CPU backend"),
    (".mindir", "GPU", "DEVICE_TYPE must be"),
    (".pb", "", "expected .onnx or .mindir"),
])
def test_backend_refusals(suffix, device, message):
    from mindzoo.errors import UsageError
    from mindzoo.deploy.infer_plan import choose_backend

    with pytest.raises(UsageError, match=message):
        choose_backend(Path("model" + suffix), device, False)


@pytest.mark.parametrize("name,fmt,device,ascend_present,expected,why", [
    ("m_lite.mindir", "MINDIR_LITE", "", False, ("mindspore_lite", "CPU"), "says format MINDIR_LITE"),
    ("m_lite.mindir", "MINDIR_LITE", "", True, ("mindspore", "Ascend310"), "MindSpore Lite build for the device"),
    ("m.mindir", "MINDIR", "", False, ("mindspore_python", "CPU"), "through its Python API"),
    ("m.mindir", "MINDIR", "Ascend310P", False, ("mindspore", "Ascend310P"), "MindSpore's C++ API"),
    ("m.onnx", "ONNX", "", False, ("onnxruntime", "CPU"), "ONNX Runtime's C++ API"),
])
def test_the_sidecar_format_routes_the_model_to_its_backend(exported, tmp_path, name, fmt, device, ascend_present,
                                                            expected, why):
    """A MindSpore Lite model is a .mindir too: its sidecar's format, not the suffix, picks the C++ API backend."""
    from mindzoo.deploy.infer_plan import plan

    model = tmp_path / name
    model.write_bytes(b"not read by the planner")
    model.with_suffix(".json").write_text(json.dumps(dict(exported["sidecar"], format=fmt, model_file=name)))
    chosen, _ = plan(model, device, ascend_present=ascend_present)
    assert (chosen.backend, chosen.device_type) == expected
    assert why in chosen.reason and f"REASON={chosen.reason}" in chosen.shell_lines()

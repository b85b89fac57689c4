"""The harness on a MINDIR: the embedded MindSpore runtime on CPU, and MindSpore's real C++ API (mindspore-lite).

A resnet18 is trained for a few epochs with train.py on a small learnable image folder, scored with eval.py and
exported to MINDIR with export.py (sizes in its NAME.json). Then:
- ``run_infer_310.sh MODEL.mindir DATA 0`` (no DEVICE_TYPE, no sizes; run from another directory with relative
  paths) picks the ``mindspore_python`` backend on CPU: MindSpore's runtime through its Python API, embedded in
  the C++ harness. Its logits and top-1 must agree with the MindSpore eval network's on every image, its acc.log
  must equal eval.py's accuracy in the model zoo's format. (Agreement, not an accuracy level: training
  trajectories differ between CPU kinds.)
- the ``mindspore`` backend is compiled and linked against the mindspore-lite 2.0.0 PyPI wheel (MindSpore's own
  include/api and libmindspore-extendrt_python.so, fetched by fetch_deps.py into ~/.cache/mindzoo/) and run on
  that MINDIR: the 2.0.0 runtime refuses a MindSpore 2.10 MINDIR, and the harness must say so in one line that
  names the file's mind_ir_version and producer (read from the file here) and the runtime's maximum.
- ``export.py --file_format=MINDIR_LITE`` on the same checkpoint writes ``model_lite.mindir`` + ``model_lite.json``
  (verified through MindSpore's C++ API, next to the MINDIR export, whose files it leaves alone), and
  ``run_infer_310.sh`` runs it through the ``mindspore`` C++ API backend on MindSpore Lite: logits equal the eval
  network's, acc.log equals eval.py's. Needs the mindspore-lite wheel (skips only if PyPI is unreachable).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import REPO, make_image_folder, on_package_index, run

RUN_INFER = REPO / "scripts" / "run_infer_310.sh"
BUILD_SH = REPO / "ascend310_infer" / "src" / "build.sh"
FETCH_DEPS = REPO / "ascend310_infer" / "src" / "fetch_deps.py"
SIZE = 32
COMMON = ["--net_name=resnet18", "--num_classes=4", f"--eval_image_size={SIZE}"]
ACC_LINE = re.compile(r"Total data: (\d+), top1 accuracy: ([0-9.]+), top5 accuracy: ([0-9.]+)\.\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    from mindzoo.train.resume import CheckpointManager

    root = tmp_path_factory.mktemp("mindir")
    make_image_folder(root / "data", {"train": {c: 16 for c in "abcd"}, "val": {c: 6 for c in "abcd"}}, size=40)
    out = root / "run"
    proc = run("train.py", [f"--config_path={REPO / 'configs/demo_resnet18.yaml'}", f"--data_path={root / 'data'}",
                            f"--output_dir={out}", *COMMON, f"--train_image_size={SIZE}", "--epoch_size=3",
                            "--warmup_epochs=0", "--batch_size=16", "--run_eval=False"], timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = CheckpointManager(out / "checkpoints", "resnet18", keep_max=1).latest()
    assert ckpt is not None
    proc = run("eval.py", [f"--data_path={root / 'data'}", f"--pretrained={ckpt}", f"--output_dir={out}", *COMMON])
    assert proc.returncode == 0, proc.stderr[-2000:]
    deploy = root / "deploy"
    proc = run("export.py", [f"--ckpt_file={ckpt}", f"--file_name={deploy / 'model'}", "--file_format=MINDIR",
                             *COMMON])
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {"val": root / "data" / "val", "ckpt": ckpt, "mindir": deploy / "model.mindir", "deploy": deploy,
            "eval": json.loads((out / "eval_result.json").read_text())}


@pytest.fixture(scope="module")
def harness_run(trained) -> dict:
    """`cd deploy/work && bash <relative>/run_infer_310.sh ../model.mindir <relative val> 0`."""
    cwd = trained["deploy"] / "work"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RESIZE", "CROP", "DEVICE_TYPE")}
    proc = subprocess.run(["bash", os.path.relpath(RUN_INFER, cwd), "../model.mindir",
                           os.path.relpath(trained["val"], cwd), "0"], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    return {"cwd": cwd, "proc": proc}


def test_mindir_on_cpu_runs_the_embedded_mindspore_runtime(harness_run):
    cwd, proc = harness_run["cwd"], harness_run["proc"]
    meta = json.loads((cwd / "result_Files" / "meta.json").read_text())
    assert (meta["backend"], meta["device_type"], meta["resize"], meta["crop"]) == ("mindspore_python", "CPU", 36, SIZE)
    timing = (cwd / "time_Result" / "test_perform_static.txt").read_text()
    for text in (meta["backend_description"], timing, proc.stdout):
        assert "runtime through its Python API" in text and "not the C++ API" in text, text
    assert re.search(r"^NN inference cost average time: [0-9.e+-]+ ms of infer_count 24$", timing, re.M)


def _assert_harness_equals_eval(trained, model: Path, cwd: Path) -> None:
    """The harness's logits in ``cwd/result_Files`` equal the eval network's, its acc.log eval.py's."""
    import mindspore as ms

    from mindzoo.data import preprocess_image
    from mindzoo.deploy.sidecar import read_sidecar
    from mindzoo.data.geometry import EvalGeometry
    from mindzoo.data.layout import list_images
    from mindzoo.deploy.harness_files import load_results
    from mindzoo.models import create_model

    net = create_model("resnet18", num_classes=4, pretrained=str(trained["ckpt"]))
    net.set_train(False)
    geometry = EvalGeometry.from_sidecar(read_sidecar(model)["preprocess"])
    entries = list_images(str(trained["val"]))
    batch = np.stack([preprocess_image(trained["val"] / e.rel_path, geometry) for e in entries])
    reference = net(ms.Tensor(batch)).asnumpy()
    results, _, _ = load_results(str(cwd / "result_Files"))
    got = np.stack([results[e.key] for e in entries])
    scale = float(np.abs(reference).max())
    assert float(np.abs(got - reference).max()) <= 1e-4 * scale  # BatchNorm folded at export: ~1e-6 relative
    assert (got.argmax(axis=1) == reference.argmax(axis=1)).all()

    line = (cwd / "acc.log").read_text()
    match = ACC_LINE.fullmatch(line)
    assert match, line
    labels = np.array([e.label for e in entries])
    assert int(match[1]) == len(entries) == trained["eval"]["total"]
    assert float(match[2]) == pytest.approx(float(np.mean(reference.argmax(axis=1) == labels)), abs=1e-12)
    assert float(match[2]) == pytest.approx(trained["eval"]["top1"], abs=1e-12)
    assert float(match[3]) == pytest.approx(trained["eval"]["top5"], abs=1e-12)


def test_mindir_harness_agrees_with_the_mindspore_eval_network(trained, harness_run):
    _assert_harness_equals_eval(trained, trained["mindir"], harness_run["cwd"])


def test_ascend_device_type_selects_the_mindspore_cpp_api_backend(trained, tmp_path):
    """DEVICE_TYPE=Ascend310 builds the native backend, which needs MindSpore's C++ API: one line if absent."""
    env = {k: v for k, v in os.environ.items() if k not in ("MINDSPORE_PATH", "RESIZE", "CROP")}
    env["BUILD_DIR"] = str(tmp_path / "build")
    proc = subprocess.run(["bash", str(RUN_INFER), str(trained["mindir"]), str(trained["val"]), "0", "Ascend310"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "(mindspore, Ascend310:0)" in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "build failed" in lines[0] and "include/api/model.h" in lines[0], proc.stderr



@pytest.fixture(scope="module")
def mindspore_lite() -> Path:
    cache = Path(os.environ.get("MINDZOO_CACHE") or Path.home() / ".cache" / "mindzoo") / "mindspore-lite-2.0.0"
    if not (cache / "include" / "api" / "model.h").is_file() and not on_package_index("mindspore-lite"):
        pytest.skip("PyPI is unreachable: cannot fetch mindspore-lite==2.0.0 for MindSpore's C++ API")
    proc = subprocess.run([sys.executable, str(FETCH_DEPS), "mindspore-lite"], capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert (path / "include" / "api" / "model.h").is_file()
    assert (path / "lib" / "libmindspore-extendrt_python.so").is_file()
    return path


def _mind_ir_header(path: Path):
    from mindspore.train import mind_ir_pb2

    model = mind_ir_pb2.ModelProto()
    model.ParseFromString(path.read_bytes())
    return model.mind_ir_version, model.model_version


@pytest.mark.parametrize("load", ["path", "graph"])
def test_mindspore_cpp_api_backend_refuses_a_newer_mindir_in_one_line(trained, mindspore_lite, tmp_path, load):
    """Both load paths: Model::Build(path) (MindSpore Lite's, the default here) and Serialization::Load +
    Model::Build(GraphCell) (libmindspore.so's on Atlas hosts), compiled against the same real headers."""
    if load == "path":  # what build.sh mindspore_lite builds: the shared, cached build the MINDIR_LITE tests use
        env = dict(os.environ, MINDSPORE_PATH=str(mindspore_lite))
        env.pop("BUILD_DIR", None)
        command = ["bash", str(BUILD_SH), "mindspore_lite"]
    else:
        env = dict(os.environ, MINDSPORE_PATH=str(mindspore_lite), BUILD_DIR=str(tmp_path / "build"), MS_LOAD=load)
        command = ["bash", str(BUILD_SH), "mindspore"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    binary = Path(proc.stdout.strip().splitlines()[-1])
    linked = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    assert re.search(r"libmindspore-extendrt_python\.so => \S*mindspore-lite-2\.0\.0/lib/", linked), linked

    mind_ir_version, producer = _mind_ir_header(trained["mindir"])
    assert mind_ir_version > 1 and producer  # what MindSpore 2.10 writes (3, "2.10.0" when this was written)
    proc = subprocess.run([str(binary), "--model_path", str(trained["mindir"]), "--dataset_path", str(trained["val"]),
                           "--resize", "36", "--crop", str(SIZE), "--device_type", "CPU", "--output_dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, (proc.stdout[-2000:], proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith(f"error: cannot load model {trained['mindir']} with the mindspore backend on CPU: "), line
    for fragment in ("MindSpore Lite 2.0.0", "is too old for this MINDIR", "reads mind_ir_version <= 1",
                     f"has mind_ir_version {mind_ir_version}", f"exported by MindSpore {producer}",
                     f"release {producer} or newer"):
        assert fragment in line, (fragment, line)
    # MindSpore's own log of the call is kept on stdout (infer.log under run_infer_310.sh); Model::Build(path)
    # logs the reason there, Serialization::Load throws it (the one line above has it either way)
    assert "MindSpore log of " in proc.stdout
    if load == "path":
        assert "maximum mind ir version: 1" in proc.stdout


@pytest.fixture(scope="module")
def lite_export(trained, mindspore_lite) -> dict:
    """export.py --file_format=MINDIR_LITE, same checkpoint and file name as the MINDIR export."""
    proc = run("export.py", [f"--ckpt_file={trained['ckpt']}", f"--file_name={trained['deploy'] / 'model'}",
                             "--file_format=MINDIR_LITE", *COMMON], timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"model": trained["deploy"] / "model_lite.mindir", "proc": proc}


def test_lite_export_is_verified_through_the_cpp_api_under_its_own_name(trained, lite_export):
    sidecar = json.loads((trained["deploy"] / "model_lite.json").read_text())
    assert (sidecar["format"], sidecar["model_file"]) == ("MINDIR_LITE", "model_lite.mindir")
    assert 0 <= sidecar["verify"]["max_relative_error"]["1"] <= 1e-4
    assert "MindSpore C++ API (MindSpore Lite 2.0.0" in sidecar["runtime"]["verified_with"]
    log = lite_export["proc"].stdout + lite_export["proc"].stderr
    assert re.search(r"verify MINDIR_LITE model_lite\.mindir through mindspore: .*max relative error", log), log
    assert json.loads((trained["deploy"] / "model.json").read_text())["format"] == "MINDIR"  # left alone
    assert sorted(p.name for p in trained["deploy"].iterdir() if p.name != "work") == [
        "model.json", "model.mindir", "model_lite.json", "model_lite.mindir"]  # no ONNX or temp file left


def test_lite_model_runs_through_the_mindspore_cpp_backend_and_equals_eval(trained, lite_export, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RESIZE", "CROP", "DEVICE_TYPE", "MINDSPORE_PATH")}
    proc = subprocess.run(["bash", str(RUN_INFER), str(lite_export["model"]), str(trained["val"]), "0"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    assert "backend mindspore_lite: " in proc.stdout and "says format MINDIR_LITE" in proc.stdout, proc.stdout
    meta = json.loads((tmp_path / "result_Files" / "meta.json").read_text())
    assert (meta["backend"], meta["device_type"], meta["resize"], meta["crop"]) == ("mindspore", "CPU", 36, SIZE)
    assert meta["backend_description"].startswith("MindSpore C++ API (MindSpore Lite 2.0.0"), meta
    _assert_harness_equals_eval(trained, lite_export["model"], tmp_path)

"""The deployment path on the demo val set: train.py -> eval.py -> export.py ONNX -> C++ harness -> acc.log.

The C++ harness's top-1 predictions must agree with the MindSpore eval network's (eval.py's transform and
checkpoint) on >= 99.5% of the demo val images, and its accuracy must be within 0.5 points of eval.py's.
"""
import json
import re
import subprocess

import mindspore as ms
import numpy as np
import pytest

from helpers import REPO, run
from mindzoo.data import preprocess_image, resolve_eval_geometry
from mindzoo.data.demo import build_demo_dataset
from mindzoo.infer_io import build_label_map, load_results, result_key
from mindzoo.models import create_model

SIZE, RESIZE = 32, 36  # int(32 / 0.875)
COMMON = ["--net_name=resnet18", "--num_classes=10", f"--eval_image_size={SIZE}"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    data = root / "demo"
    build_demo_dataset(data, size=48)
    out = root / "run"
    proc = run("train.py", [f"--config_path={REPO / 'configs/demo_resnet18.yaml'}", f"--data_path={data}",
                            f"--output_dir={out}", *COMMON, f"--train_image_size={SIZE}", "--epoch_size=3", "--warmup_epochs=0",
                            "--run_eval=False"], timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = out / "checkpoints" / "resnet18-3_44.ckpt"
    proc = run("eval.py", [f"--data_path={data}", f"--pretrained={ckpt}", f"--output_dir={out}", *COMMON])
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run("export.py", [f"--ckpt_file={ckpt}", f"--file_name={out / 'demo'}", "--file_format=ONNX",
                             f"--width={SIZE}", f"--height={SIZE}", *COMMON])
    assert proc.returncode == 0, proc.stderr[-2000:]
    infer_dir = root / "infer"
    infer_dir.mkdir()
    proc = subprocess.run(["bash", str(REPO / "scripts/run_infer_310.sh"), str(out / "demo.onnx"), str(data / "val"),
                           "0", "CPU", str(RESIZE), str(SIZE)], cwd=infer_dir, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return data, ckpt, json.loads((out / "eval_result.json").read_text()), infer_dir


def test_cpp_accuracy_is_within_half_a_point_of_eval_py(deployed):
    data, _, python_result, infer_dir = deployed
    match = re.fullmatch(r"Total data: (\d+), top1 accuracy: ([0-9.]+), top5 accuracy: ([0-9.]+)\.\s*",
                         (infer_dir / "acc.log").read_text())
    assert match, (infer_dir / "acc.log").read_text()
    assert int(match[1]) == python_result["total"] == 359
    assert python_result["top1"] > 0.5  # a trained model, so agreement below is not about near-ties of noise
    assert abs(float(match[2]) - python_result["top1"]) <= 0.005
    assert abs(float(match[3]) - python_result["top5"]) <= 0.005


def test_cpp_top1_agrees_with_the_mindspore_eval_network(deployed):
    data, ckpt, _, infer_dir = deployed
    net = create_model("resnet18", num_classes=10, pretrained=str(ckpt))
    net.set_train(False)
    results, _, _ = load_results(str(infer_dir / "result_Files"))
    labels = build_label_map(str(data / "val"))
    assert set(results) == set(labels)
    keys = sorted(labels)
    paths = {result_key(p.stem + "_0.bin"): p for p in (data / "val").glob("*/*")}
    batch = np.stack([preprocess_image(paths[k], resolve_eval_geometry(net.data_config, SIZE)) for k in keys])
    python_top1 = net(ms.Tensor(batch)).asnumpy().argmax(axis=1)
    cpp_top1 = np.array([results[k].argmax() for k in keys])
    agreement = float(np.mean(python_top1 == cpp_top1))
    assert agreement >= 0.995, agreement

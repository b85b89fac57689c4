"""infer.py: the same top-k from a checkpoint and from its ONNX/MINDIR exports; one-line usage errors."""
import json
import subprocess
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from PIL import Image

from conftest import PYTHON, REPO
from mindzoo.deploy.predictor import softmax
from mindzoo.models import create_model

NUM_CLASSES = 4
SIZE = 64


def _infer(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(REPO / "infer.py"), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def _export(ckpt: Path, name: Path, file_format: str, *extra: str) -> None:
    proc = subprocess.run(
        [PYTHON, str(REPO / "export.py"), "--net_name=resnet18", f"--num_classes={NUM_CLASSES}",
         f"--ckpt_file={ckpt}", f"--file_name={name}", f"--file_format={file_format}",
         f"--width={SIZE}", f"--height={SIZE}", *extra],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A resnet18 4-class checkpoint (classifier scaled up so classes are well separated), its exports,
    two generated images of different sizes and a labels file."""
    root = tmp_path_factory.mktemp("infer")
    net = create_model("resnet18", num_classes=NUM_CLASSES)
    net.fc.weight.set_data(net.fc.weight * 20.0)
    ckpt = root / "r18.ckpt"
    ms.save_checkpoint(net, str(ckpt))
    _export(ckpt, root / "r18", "ONNX", "--dynamic_batch=True")
    _export(ckpt, root / "r18", "MINDIR")
    rng = np.random.default_rng(3)
    images = []
    for i, (h, w) in enumerate([(90, 120), (150, 100)]):
        yy, xx = np.mgrid[0:h, 0:w]
        pixels = np.stack([(xx * (3 + i)) % 256, (yy * (5 - i)) % 256, rng.integers(0, 256, (h, w))], -1)
        path = root / f"img{i}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(path)
        images.append(str(path))
    labels = root / "labels.txt"
    labels.write_text("cat\ndog\nfox\nowl\n")
    return {"root": root, "ckpt": ckpt, "onnx": root / "r18.onnx", "mindir": root / "r18.mindir",
            "images": images, "labels": labels}


def _top(setup, model: Path, *extra: str) -> list:
    proc = _infer(*setup["images"], f"--pretrained={model}", "--json", *extra, cwd=setup["root"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_checkpoint_and_exports_agree_and_probabilities_sum_to_one(setup):
    from_ckpt = _top(setup, setup["ckpt"], "--net_name=resnet18", f"--image_size={SIZE}", f"--topk={NUM_CLASSES}")
    from_onnx = _top(setup, setup["onnx"], f"--topk={NUM_CLASSES}")
    from_mindir = _top(setup, setup["mindir"], f"--topk={NUM_CLASSES}")
    assert [r["image"] for r in from_ckpt] == setup["images"]
    for a, b, c in zip(from_ckpt, from_onnx, from_mindir):
        probs = [e["prob"] for e in a["topk"]]
        assert sum(probs) == pytest.approx(1.0, abs=1e-6)
        assert probs == sorted(probs, reverse=True)
        assert a["topk"][0]["index"] == b["topk"][0]["index"] == c["topk"][0]["index"]
        for other in (b, c):
            assert [e["index"] for e in other["topk"]] == [e["index"] for e in a["topk"]]
            assert [e["prob"] for e in other["topk"]] == pytest.approx(probs, abs=1e-4)
    assert {r["topk"][0]["prob"] for r in from_ckpt} != {1.0}  # a real distribution, not a saturated one


def test_text_output_uses_labels_and_clips_topk_to_num_classes(setup):
    proc = _infer(setup["images"][0], f"--pretrained={setup['onnx']}", f"--labels={setup['labels']}",
                  cwd=setup["root"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == setup["images"][0] and len(lines) == 1 + NUM_CLASSES  # default top-5 of 4 classes
    names = [line.split()[2] for line in lines[1:]]
    assert sorted(names) == ["cat", "dog", "fox", "owl"] and lines[1].strip().startswith("1. ")


def test_num_classes_is_read_from_the_checkpoint(setup):
    result = _top(setup, setup["ckpt"], "--net_name=resnet18", f"--image_size={SIZE}", "--topk=10")
    assert len(result[0]["topk"]) == NUM_CLASSES


@pytest.mark.parametrize("args, message", [
    (["--pretrained={onnx}", "--labels={root}/img0.png"], "error: cannot read labels file"),
    (["--pretrained={root}/missing.onnx"], "error: --pretrained file not found: "),
    (["--pretrained={root}/labels.txt"], "must be a .ckpt, .mindir, .onnx file"),
    (["--pretrained={mindir}", "--image_size=96"], "was exported at 64x64; --image_size=96 cannot be used"),
    (["--pretrained={onnx}", "--topk=0"], "error: --topk must be >= 1, got 0"),
])
def test_usage_errors_are_one_line_exit_2(setup, args, message):
    args = [a.format(root=setup["root"], onnx=setup["onnx"], mindir=setup["mindir"]) for a in args]
    proc = _infer(setup["images"][0], *args, cwd=setup["root"])
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_labels_count_must_match(setup, tmp_path):
    bad = tmp_path / "three.txt"
    bad.write_text("a\nb\nc\n")
    proc = _infer(setup["images"][0], f"--pretrained={setup['onnx']}", f"--labels={bad}", cwd=setup["root"])
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: labels file {bad} has 3 lines but the model has {NUM_CLASSES} classes"


def test_softmax_is_stable_for_large_logits():
    p = softmax(np.array([[1000.0, 999.0, -1000.0]]))
    assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0)
    assert p[0, 0] == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-9)


def test_a_checkpoint_is_classified_with_eval_pys_geometry_of_its_config(tmp_path):
    """infer.py --pretrained CKPT --config_path CFG must preprocess as eval.py does for CFG (its eval_image_size and
    crop_pct), not at the model's default 224: the same probabilities and the same top-1 class on the demo images
    as eval.py's pipeline and network."""
    from mindzoo.config import load_config
    from mindzoo.data import geometry_from_config, preprocess_image
    from mindzoo.data.demo import build_demo_dataset

    data = tmp_path / "demo"
    build_demo_dataset(data, size=48)
    images = sorted((data / "val").glob("*/*"))[::30][:12]
    net = create_model("resnet18", num_classes=10)
    net.fc.weight.set_data(net.fc.weight * 20.0)  # well-separated classes: top-1 is not a near-tie
    ckpt = tmp_path / "demo.ckpt"
    ms.save_checkpoint(net, str(ckpt))
    config = tmp_path / "demo.yaml"
    config.write_text("net_name: resnet18\nnum_classes: 10\neval_image_size: 40\ncrop_pct: 0.8\n")
    proc = _infer(*map(str, images), f"--pretrained={ckpt}", f"--config_path={config}", "--json", "--topk=10",
                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = np.array([[entry["prob"] for entry in sorted(r["topk"], key=lambda e: e["index"])]
                    for r in json.loads(proc.stdout)])

    net.set_train(False)
    geometry = geometry_from_config(net.data_config, load_config([f"--config_path={config}"]))
    assert (geometry.resize_size, geometry.crop_size) == (50, 40)
    batch = np.stack([preprocess_image(path, geometry) for path in images])
    expected = softmax(net(ms.Tensor(batch)).asnumpy())
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    at_default = softmax(net(ms.Tensor(np.stack([preprocess_image(path, geometry_from_config(net.data_config, {}))
                                                 for path in images]))).asnumpy())
    assert np.abs(at_default - expected).max() > 1e-3  # the geometry matters, so the test would catch ignoring it

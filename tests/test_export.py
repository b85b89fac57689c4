"""export.py: MINDIR/ONNX files that reproduce the network's logits, dynamic batch, sidecar, one-line errors."""
import json
import os
import subprocess
from pathlib import Path

import mindspore as ms
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from mindspore import Tensor, nn

from conftest import PYTHON, REPO
from mindzoo.weights.checkpoint import load_weights
from mindzoo.cli.common import run_cli
from mindzoo.cli import export as export_cli
from mindzoo.errors import CheckpointError, MindzooError, UsageError
from mindzoo.export import exporter
from mindzoo.deploy.sidecar import read_sidecar
from mindzoo.export.exporter import export_network, resolve_batch_size, resolve_output_path
from mindzoo.export.verify import relative_error, verify_export
from mindzoo.config import load_config
from mindzoo.models import create_model

TOL = 1e-4
NUM_CLASSES = 5
SIZE = ["--width=32", "--height=32"]


def _save(net: nn.Cell, path: Path) -> Path:
    ms.save_checkpoint(net, str(path))
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Two resnet18 5-class checkpoints with different classifiers, and a 7-class one."""
    root = tmp_path_factory.mktemp("ckpt")
    net = create_model("resnet18", num_classes=NUM_CLASSES)
    a = _save(net, root / "a.ckpt")
    net.fc.weight.set_data(net.fc.weight * -3.0)
    b = _save(net, root / "b.ckpt")
    seven = _save(create_model("resnet18", num_classes=7), root / "seven.ckpt")
    return {"a": a, "b": b, "seven": seven}


def run_export(argv: list):
    """In-process export; the MindSpore context is this process's (kernels already ran here)."""
    return export_cli.run_export(argv, set_context=False)


def _argv(ckpt: Path, out: Path, *extra: str) -> list:
    return ["--net_name=resnet18", f"--num_classes={NUM_CLASSES}", f"--ckpt_file={ckpt}", f"--file_name={out}", *extra]


def _live(ckpt: Path, num_classes: int = NUM_CLASSES, name: str = "resnet18") -> nn.Cell:
    net = create_model(name, num_classes=num_classes)
    load_weights(net, ckpt)
    net.set_train(False)
    return net


def _x(shape, seed=7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _mindir_logits(path: Path, x: np.ndarray) -> np.ndarray:
    return nn.GraphCell(ms.load(str(path)))(Tensor(x)).asnumpy()


def _onnx_logits(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_relative_error_is_max_abs_diff_over_max_abs_reference():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == pytest.approx(0.2)
    assert relative_error(np.array([[-4.0, 0.0]]), np.array([[-4.0, 0.0]])) == 0.0
    with pytest.raises(MindzooError, match="shape"):
        relative_error(np.zeros((1, 5)), np.zeros((3, 5)))


def test_mindir_static_round_trip_batch1_by_default(tmp_path, ckpts):
    result = run_export(_argv(ckpts["a"], tmp_path / "r18", *SIZE))
    path = tmp_path / "r18.mindir"
    assert result.path == path and path.is_file()
    assert result.input_shape == [1, 3, 32, 32] and result.output_shape == [1, NUM_CLASSES]
    assert set(result.errors) == {1} and result.errors[1] <= TOL
    x = _x((1, 3, 32, 32))
    expected = _live(ckpts["a"])(Tensor(x)).asnumpy()
    assert relative_error(_mindir_logits(path, x), expected) <= TOL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r18.json", "r18.mindir"]  # no temp files left

    side = json.loads((tmp_path / "r18.json").read_text())
    assert side["net_name"] == "resnet18" and side["num_classes"] == NUM_CLASSES and side["format"] == "MINDIR"
    assert side["input"]["shape"] == [1, 3, 32, 32] and side["output"]["shape"] == [1, NUM_CLASSES]
    assert side["preprocess"]["resize_size"] == int(32 / 0.875) and side["preprocess"]["crop_size"] == [32, 32]
    assert side["preprocess"]["mean"] == pytest.approx([0.485, 0.456, 0.406])
    assert side["preprocess"]["std"] == pytest.approx([0.229, 0.224, 0.225])
    assert float(side["verify"]["max_relative_error"]["1"]) == result.errors[1]
    assert read_sidecar(path) == side


def test_mindir_dynamic_batch_runs_other_batch_sizes(tmp_path, ckpts):
    result = run_export(_argv(ckpts["a"], tmp_path / "dyn", *SIZE, "--dynamic_batch=True"))
    assert result.input_shape == [-1, 3, 32, 32] and result.output_shape == [-1, NUM_CLASSES]
    assert set(result.errors) == {1, 3} and max(result.errors.values()) <= TOL
    net = _live(ckpts["a"])
    for batch in (2, 5):
        x = _x((batch, 3, 32, 32), seed=batch)
        got = _mindir_logits(result.path, x)
        assert got.shape == (batch, NUM_CLASSES)
        assert relative_error(got, net(Tensor(x)).asnumpy()) <= TOL


def test_onnx_static_with_model_zoo_batch_size_flag(tmp_path, ckpts):
    result = run_export(_argv(ckpts["a"], tmp_path / "r18", *SIZE, "--file_format=ONNX", "--batch_size=2"))
    path = tmp_path / "r18.onnx"
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [op.version for op in model.opset_import if op.domain in ("", "ai.onnx")] == [11]
    assert result.input_shape == [2, 3, 32, 32] and result.output_shape == [2, NUM_CLASSES]
    assert result.errors[2] <= TOL
    x = _x((2, 3, 32, 32))
    assert relative_error(_onnx_logits(path, x), _live(ckpts["a"])(Tensor(x)).asnumpy()) <= TOL


def test_onnx_dynamic_batch_output_dim_is_symbolic_and_batch3_matches(tmp_path, ckpts):
    result = run_export(_argv(ckpts["a"], tmp_path / "dyn", *SIZE, "--file_format=ONNX", "--dynamic_batch=True"))
    graph = onnx.load(str(result.path)).graph
    for value in (graph.input[0], graph.output[0]):
        dim0 = value.type.tensor_type.shape.dim[0]
        assert dim0.dim_param == "batch" and not dim0.HasField("dim_value")
    assert set(result.errors) == {1, 3} and max(result.errors.values()) <= TOL
    x = _x((3, 3, 32, 32))
    got = _onnx_logits(result.path, x)
    assert got.shape == (3, NUM_CLASSES)
    assert relative_error(got, _live(ckpts["a"])(Tensor(x)).asnumpy()) <= TOL


def test_unpatched_dynamic_onnx_is_rejected_by_verification(tmp_path, ckpts, monkeypatch):
    """MindSpore leaves the output batch fixed at 1; the verifier must notice if the patch is missing."""
    monkeypatch.setattr(exporter, "make_onnx_batch_dynamic", lambda path: None)
    net = _live(ckpts["a"])
    path = export_network(net, tmp_path / "raw.onnx", "ONNX", (1, 3, 32, 32), dynamic_batch=True)
    assert onnx.load(str(path)).graph.output[0].type.tensor_type.shape.dim[0].dim_value == 1
    with pytest.raises(MindzooError, match=r"output 'logits' has a fixed \(1\) batch dimension"):
        verify_export(path, "ONNX", net, [(1, 3, 32, 32)], dynamic_batch=True)


def test_verification_fails_when_the_file_is_not_the_network(tmp_path, ckpts):
    path = export_network(_live(ckpts["a"]), tmp_path / "a.mindir", "MINDIR", (1, 3, 32, 32))
    with pytest.raises(MindzooError, match=r"disagrees with the network at batch 1: max relative error") as err:
        verify_export(path, "MINDIR", _live(ckpts["b"]), [(1, 3, 32, 32)])
    assert err.value.exit_code == 1


def test_reexport_replaces_a_read_only_file(tmp_path, ckpts):
    first = run_export(_argv(ckpts["a"], tmp_path / "m", *SIZE))
    os.chmod(first.path, 0o400)
    second = run_export(_argv(ckpts["b"], tmp_path / "m", *SIZE))
    x = _x((1, 3, 32, 32))
    assert relative_error(_mindir_logits(second.path, x), _live(ckpts["b"])(Tensor(x)).asnumpy()) <= TOL
    assert relative_error(_mindir_logits(second.path, x), _live(ckpts["a"])(Tensor(x)).asnumpy()) > 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.mindir"]


def test_failed_verification_keeps_the_previous_export(tmp_path, ckpts, monkeypatch):
    good = run_export(_argv(ckpts["a"], tmp_path / "m", *SIZE))
    before = good.path.read_bytes()

    def failing_verify(*args, **kwargs):
        raise MindzooError("simulated mismatch")

    monkeypatch.setattr(exporter, "verify_export", failing_verify)
    with pytest.raises(MindzooError, match="simulated mismatch"):
        run_export(_argv(ckpts["b"], tmp_path / "m", *SIZE))
    assert good.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.mindir"]


def test_air_on_cpu_is_a_one_line_usage_error(tmp_path, ckpts):
    proc = subprocess.run(
        [PYTHON, str(REPO / "export.py"), *_argv(ckpts["a"], tmp_path / "m"), "--file_format=AIR"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: AIR export needs Ascend (device_target=CPU); use MINDIR or ONNX"
    )
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_wrong_num_classes_is_a_checkpoint_error(tmp_path, ckpts):
    with pytest.raises(CheckpointError, match=r"7-class classifier .* num_classes=5; set --num_classes=7"):
        run_export(_argv(ckpts["seven"], tmp_path / "m", *SIZE))
    assert run_cli(run_export, _argv(ckpts["seven"], tmp_path / "m", *SIZE)) == 2
    assert not (tmp_path / "m.mindir").exists()


def test_unwritable_output_dir_fails_before_the_network_is_built(tmp_path, ckpts, monkeypatch, capsys):
    import mindzoo.models

    def must_not_build(*args, **kwargs):
        raise AssertionError("the network was built before the output directory was checked")

    monkeypatch.setattr(mindzoo.models, "create_model", must_not_build)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(UsageError, match=rf"directory {blocker / 'sub'} is not writable"):
        run_export(_argv(ckpts["a"], blocker / "sub" / "m"))
    assert run_cli(run_export, _argv(ckpts["a"], blocker / "sub" / "m")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: directory ")


def test_batch_size_comes_from_export_batch_size_unless_batch_size_is_on_the_command_line():
    cfg = load_config([])
    assert cfg.batch_size == 32 and resolve_batch_size(cfg, cfg.explicit) == 1
    cfg = load_config(["--batch_size=4"])
    assert resolve_batch_size(cfg, cfg.explicit) == 4
    cfg = load_config(["--export_batch_size=3"])
    assert resolve_batch_size(cfg, cfg.explicit) == 3
    with pytest.raises(UsageError, match="export_batch_size must be >= 1"):
        cfg = load_config(["--export_batch_size=0"])
        resolve_batch_size(cfg, cfg.explicit)


def _crop(data_config, **kwargs):
    from mindzoo.data.geometry import resolve_eval_geometry

    geometry = resolve_eval_geometry(data_config, **kwargs)
    return geometry.crop_height, geometry.crop_width


def test_resolution_defaults_to_the_models_test_input_size():
    assert _crop(create_model("fixres_resnet50", num_classes=2).data_config) == (384, 384)
    assert _crop(create_model("resnet18", num_classes=2).data_config) == (224, 224)
    assert _crop(create_model("fixres_resnet50", num_classes=2).data_config, width=320, height=256) == (256, 320)
    # A config's eval_image_size (what eval.py scores, e.g. the 64 px demo) is the export size too.
    assert _crop(create_model("resnet18", num_classes=2).data_config, eval_image_size=64) == (64, 64)
    assert _crop(create_model("resnet18", num_classes=2).data_config, width=96, height=80, eval_image_size=64) == (
        80, 96,
    )


def test_output_path_naming(tmp_path):
    assert resolve_output_path("resnet50", "MINDIR", "x") == Path("resnet50.mindir")
    assert resolve_output_path("resnet50.onnx", "ONNX", "x") == Path("resnet50.onnx")
    assert resolve_output_path("", "ONNX", "resnet18") == Path("resnet18.onnx")
    assert resolve_output_path("m", "AIR", "x", output_dir=tmp_path) == tmp_path / "m.air"
    assert resolve_output_path(str(tmp_path / "abs"), "MINDIR", "x", output_dir="/elsewhere") == tmp_path / "abs.mindir"


def test_fixres_exports_at_its_test_size_384(tmp_path):
    """The real command line with the model YAML and no --width/--height (about 10 s for a ResNet50 at 384)."""
    ckpt = _save(create_model("fixres_resnet50", num_classes=3), tmp_path / "fx.ckpt")
    proc = subprocess.run(
        [PYTHON, str(REPO / "export.py"), f"--config_path={REPO / 'configs/fixres_resnet50.yaml'}",
         "--num_classes=3", f"--ckpt_file={ckpt}", "--file_name=fixres", "--file_format=MINDIR"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    side = json.loads((tmp_path / "fixres.json").read_text())
    assert side["input"]["shape"] == [1, 3, 384, 384] and side["output"]["shape"] == [1, 3]
    assert side["preprocess"]["resize_size"] == 438 and side["preprocess"]["crop_size"] == [384, 384]
    assert float(side["verify"]["max_relative_error"]["1"]) <= TOL
    assert "max relative error" in proc.stdout

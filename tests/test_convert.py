"""Weight import: torch ResNet/ResNeXt state_dicts -> MindSpore checkpoints that reproduce torch's logits."""
import mindzoo  # noqa: F401  (sets ONEDNN_MAX_CPU_ISA before MindSpore loads)

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

import mindspore as ms  # noqa: E402

from mindzoo.weights.files import read_checkpoint  # noqa: E402
from mindzoo.weights.pretrained import PRETRAINED_CFG_KEY  # noqa: E402
from mindzoo.convert import convert_file  # noqa: E402
from mindzoo.weights.formats import convert_state_dict, ms_to_torch_name  # noqa: E402
from mindzoo.cli.convert import main  # noqa: E402
from mindzoo.errors import CheckpointError  # noqa: E402

from refnets import torch_reference  # noqa: E402  (needs the [torch] extra)

REPO_ROOT = Path(__file__).resolve().parents[1]
REL_TOL = 1e-5
SMALL_CLASSES = 10


def rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def make_torch_model(arch: str, num_classes: int, seed: int) -> "torch.nn.Module":
    """A random-init reference with randomized BN stats/affine, so a BN mapping error changes the logits."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch_reference.build(arch, num_classes=num_classes)
    torch_reference.randomize_bn(model, gen)
    return model.eval()


def torch_logits(model: "torch.nn.Module", x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def ms_logits(net: ms.nn.Cell, x: np.ndarray) -> np.ndarray:
    return net(ms.Tensor(x)).asnumpy()


def inputs(seed: int) -> List[np.ndarray]:
    """A square ImageNet-size batch and an odd, non-square one (exercises every padding/pooling edge)."""
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((1, 3, 224, 224)).astype(np.float32),
        rng.standard_normal((2, 3, 97, 131)).astype(np.float32),
    ]


def assert_logits_match(arch: str, ckpt: Path, model: "torch.nn.Module", num_classes: int, seed: int) -> None:
    net = mindzoo.create_model(arch, num_classes=num_classes, pretrained=str(ckpt))
    net.set_train(False)
    for x in inputs(seed):
        expected = torch_logits(model, x)
        actual = ms_logits(net, x)
        assert actual.shape == expected.shape == (x.shape[0], num_classes)
        assert rel_err(actual, expected) < REL_TOL, f"{arch} {x.shape}: rel err {rel_err(actual, expected):.2e}"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"))
    return subprocess.run(
        [sys.executable, "-m", "mindzoo.convert", *args], capture_output=True, text=True, env=env, timeout=300
    )


# ---------------------------------------------------------------------------------------------- parity


def test_resnet50_logits_match_torch_via_main(tmp_path: Path) -> None:
    model = make_torch_model("resnet50", 1000, seed=0)
    src, out = tmp_path / "resnet50.pth", tmp_path / "resnet50.ckpt"
    torch.save(model.state_dict(), src)
    assert main(["--arch", "resnet50", "--src", str(src), "--out", str(out), "--num_classes", "1000"]) == 0
    assert_logits_match("resnet50", out, model, 1000, seed=1)


def test_resnext50_logits_match_torch_via_command(tmp_path: Path) -> None:
    """The real ``python -m mindzoo.convert``; num_classes is taken from the state_dict's classifier."""
    model = make_torch_model("resnext50_32x4d", 17, seed=2)
    src, out = tmp_path / "rx50.pth", tmp_path / "rx50.ckpt"
    torch.save({"state_dict": model.state_dict(), "epoch": 90}, src)
    proc = run_cli("--arch", "resnext50_32x4d", "--src", str(src), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    assert f"wrote {out}" in proc.stdout
    assert_logits_match("resnext50_32x4d", out, model, 17, seed=3)


# ------------------------------------------------------------------------------- small, fast conversions


@pytest.fixture(scope="module")
def resnet18_torch() -> "torch.nn.Module":
    return make_torch_model("resnet18", SMALL_CLASSES, seed=4)


@pytest.fixture(scope="module")
def resnet18_sd(resnet18_torch: "torch.nn.Module") -> Dict[str, "torch.Tensor"]:
    return resnet18_torch.state_dict()


@pytest.fixture(scope="module")
def resnet18_pth(resnet18_sd: Dict[str, "torch.Tensor"], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("r18") / "resnet18.pth"
    torch.save(resnet18_sd, path)
    return path


def small_input() -> np.ndarray:
    return np.random.default_rng(5).standard_normal((1, 3, 75, 61)).astype(np.float32)


def test_name_map_renames_batchnorm_leaves_only() -> None:
    assert ms_to_torch_name("layer1.0.downsample.1.gamma") == "layer1.0.downsample.1.weight"
    assert ms_to_torch_name("bn1.beta") == "bn1.bias"
    assert ms_to_torch_name("layer4.2.bn3.moving_mean") == "layer4.2.bn3.running_mean"
    assert ms_to_torch_name("layer4.2.bn3.moving_variance") == "layer4.2.bn3.running_var"
    assert ms_to_torch_name("layer1.0.downsample.0.weight") == "layer1.0.downsample.0.weight"
    assert ms_to_torch_name("fc.bias") == "fc.bias"


def test_safetensors_input_matches_torch(
    resnet18_torch: "torch.nn.Module", resnet18_sd: Dict[str, "torch.Tensor"], tmp_path: Path
) -> None:
    src, out = tmp_path / "resnet18.safetensors", tmp_path / "resnet18.ckpt"
    safetensors_torch.save_file(resnet18_sd, str(src))
    assert convert_file("resnet18", src, out) == out
    net = mindzoo.create_model("resnet18", num_classes=SMALL_CLASSES, pretrained=str(out))
    net.set_train(False)
    x = small_input()
    assert rel_err(ms_logits(net, x), torch_logits(resnet18_torch, x)) < REL_TOL


def test_every_tensor_lands_under_its_mindspore_name(
    resnet18_sd: Dict[str, "torch.Tensor"], resnet18_pth: Path, tmp_path: Path
) -> None:
    """Every tensor of the state_dict is in the checkpoint, bit for bit: BN leaves renamed, BN counters under their
    torch names (for the way back), plus the pretrained_cfg entry."""
    out = tmp_path / "r18.ckpt"
    assert main(["--arch", "resnet18", "--src", str(resnet18_pth), "--out", str(out)]) == 0
    params = read_checkpoint(out)
    bn_prefixes = {k.rpartition(".")[0] for k in resnet18_sd if k.endswith(".running_mean")}
    expected = {}
    for key, value in resnet18_sd.items():
        prefix, _, leaf = key.rpartition(".")
        if prefix in bn_prefixes and leaf != "num_batches_tracked":
            leaf = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}[leaf]
            expected[f"{prefix}.{leaf}"] = value.numpy()
        else:
            expected[key] = value.numpy()
    assert set(params) == set(expected) | {PRETRAINED_CFG_KEY}
    for name, value in expected.items():
        np.testing.assert_array_equal(params[name].asnumpy(), value, err_msg=name)


def test_bn_mapping_error_would_be_caught(
    resnet18_torch: "torch.nn.Module", resnet18_sd: Dict[str, "torch.Tensor"]
) -> None:
    """Negative control: one deep BN with mean/var swapped must push the error far past REL_TOL."""
    net = mindzoo.create_model("resnet18", num_classes=SMALL_CLASSES)
    net.set_train(False)
    arrays = {k: v.numpy() for k, v in resnet18_sd.items()}
    arrays["layer4.1.bn2.running_mean"], arrays["layer4.1.bn2.running_var"] = (
        arrays["layer4.1.bn2.running_var"], arrays["layer4.1.bn2.running_mean"]
    )
    ms.load_param_into_net(net, {d["name"]: ms.Parameter(d["data"], d["name"]) for d in convert_state_dict(arrays, net)})
    x = small_input()
    assert rel_err(ms_logits(net, x), torch_logits(resnet18_torch, x)) > 1e-2


def test_wrapped_ddp_half_precision_state_dict(resnet18_sd: Dict[str, "torch.Tensor"], tmp_path: Path) -> None:
    """A training checkpoint {"model": {"module.<name>": fp16}} converts to the fp16 values in float32."""
    src, out = tmp_path / "ckpt.pt", tmp_path / "r18.ckpt"
    half = {f"module.{k}": (v.half() if v.is_floating_point() else v) for k, v in resnet18_sd.items()}
    torch.save({"model": half, "optimizer": {}, "epoch": 3}, src)
    assert main(["--arch", "resnet18", "--src", str(src), "--out", str(out)]) == 0
    params = read_checkpoint(out)
    got = params["layer3.1.bn2.moving_variance"].asnumpy()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, half["module.layer3.1.bn2.running_var"].float().numpy())


# ------------------------------------------------------------------------------------------------ errors


def _convert_edited(
    sd: Dict[str, "torch.Tensor"], tmp_path: Path, capsys: pytest.CaptureFixture, *extra: str
) -> Tuple[int, str, Path]:
    src, out = tmp_path / "edited.pth", tmp_path / "edited.ckpt"
    torch.save(sd, src)
    code = main(["--arch", "resnet18", "--src", str(src), "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return code, err, out


def test_missing_key_is_named(resnet18_sd, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sd = dict(resnet18_sd)
    del sd["layer1.0.bn1.running_var"]
    code, err, out = _convert_edited(sd, tmp_path, capsys)
    assert code == 2
    assert "missing key 'layer1.0.bn1.running_var'" in err
    assert "layer1.0.bn1.moving_variance" in err
    assert not out.exists()


def test_missing_classifier_with_explicit_num_classes_is_named(resnet18_sd, tmp_path, capsys) -> None:
    sd = {k: v for k, v in resnet18_sd.items() if not k.startswith("fc.")}
    code, err, _ = _convert_edited(sd, tmp_path, capsys, "--num_classes", str(SMALL_CLASSES))
    assert code == 2
    assert "missing key 'fc.weight' (and 1 more)" in err


def test_missing_classifier_without_num_classes_is_explained(resnet18_sd, tmp_path, capsys) -> None:
    sd = {k: v for k, v in resnet18_sd.items() if not k.startswith("fc.")}
    code, err, _ = _convert_edited(sd, tmp_path, capsys)
    assert code == 2
    assert "no classifier 'fc.weight'" in err and "--num_classes 0" in err


def test_wrong_shape_names_key_and_both_shapes(resnet18_sd, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sd = dict(resnet18_sd)
    sd["layer2.0.conv1.weight"] = torch.zeros(128, 64, 1, 1)
    code, err, out = _convert_edited(sd, tmp_path, capsys)
    assert code == 2
    assert "'layer2.0.conv1.weight'" in err
    assert "(128, 64, 1, 1)" in err and "(128, 64, 3, 3)" in err
    assert not out.exists()


def test_unexpected_key_is_named(resnet18_sd, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sd = dict(resnet18_sd)
    sd["layer4.2.conv1.weight"] = torch.zeros(512, 512, 3, 3)
    code, err, out = _convert_edited(sd, tmp_path, capsys)
    assert code == 2
    assert "unexpected key 'layer4.2.conv1.weight'" in err
    assert not out.exists()


def test_stray_num_batches_tracked_is_unexpected(resnet18_sd, tmp_path, capsys) -> None:
    """Only BN counters are dropped; a counter under a non-BN module means a different architecture."""
    sd = dict(resnet18_sd)
    sd["layer1.0.conv1.num_batches_tracked"] = torch.tensor(1)
    code, err, _ = _convert_edited(sd, tmp_path, capsys)
    assert code == 2
    assert "unexpected key 'layer1.0.conv1.num_batches_tracked'" in err


def test_wrong_architecture_is_refused(resnet18_pth: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["--arch", "resnet34", "--src", str(resnet18_pth), "--out", str(tmp_path / "x.ckpt")])
    assert code == 2
    assert "missing key 'layer1.2." in capsys.readouterr().err


def test_num_classes_mismatch_is_explained(resnet18_pth: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "x.ckpt"
    code = main(["--arch", "resnet18", "--src", str(resnet18_pth), "--out", str(out), "--num_classes", "1000"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--num_classes 1000" in err and f"{SMALL_CLASSES} classes" in err and "fc.weight" in err
    assert not out.exists()


def test_num_classes_mismatch_api_raises(resnet18_pth: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"--num_classes 5 .*fc\.weight"):
        convert_file("resnet18", resnet18_pth, tmp_path / "x.ckpt", num_classes=5)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--arch", "resnet5O", "--src", "{src}", "--out", "{out}"], "did you mean 'resnet50'"),
        (["--arch", "resnet18", "--src", "{src}", "--out", "{tmp}/x.pth"], ".ckpt"),
        (["--arch", "resnet18", "--src", "{tmp}/nope.pth", "--out", "{out}"], "nope.pth"),
        (["--arch", "resnet18", "--out", "{out}"], "--src"),
    ],
)
def test_bad_usage_exits_2(argv, needle, resnet18_pth: Path, tmp_path: Path, capsys) -> None:
    fill = {"src": str(resnet18_pth), "out": str(tmp_path / "x.ckpt"), "tmp": str(tmp_path)}
    assert main([a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mindzoo-convert: error:") and needle in err


def test_not_a_state_dict_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], src)
    assert main(["--arch", "resnet18", "--src", str(src), "--out", str(tmp_path / "x.ckpt")]) == 2
    assert "not a state_dict" in capsys.readouterr().err


def test_command_exit_code_2_on_unexpected_key(resnet18_sd, tmp_path: Path) -> None:
    sd = dict(resnet18_sd)
    sd["head.weight"] = torch.zeros(1)
    src = tmp_path / "bad.pth"
    torch.save(sd, src)
    proc = run_cli("--arch", "resnet18", "--src", str(src), "--out", str(tmp_path / "x.ckpt"))
    assert proc.returncode == 2
    assert "unexpected key 'head.weight'" in proc.stderr
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------------- back to PyTorch


@pytest.mark.parametrize("arch, suffix", [("resnet18", ".pth"), ("resnext50_32x4d", ".safetensors")])
def test_round_trip_to_torch_gives_back_the_same_state_dict(arch: str, suffix: str, tmp_path: Path) -> None:
    """torchvision/timm keys -> mindzoo -> ``--to torchvision``: the same keys in the same order, dtypes and values
    bit for bit (BN counters included), so the same logits; mindzoo's own logits match in between."""
    model = make_torch_model(arch, SMALL_CLASSES, seed=20)
    state = model.state_dict()
    src, ckpt, back_path = tmp_path / "in.pth", tmp_path / "mz.ckpt", tmp_path / f"back{suffix}"
    torch.save(state, src)
    assert main(["--arch", arch, "--src", str(src), "--out", str(ckpt)]) == 0
    assert main(["--to", "torchvision", "--arch", arch, "--src", str(ckpt), "--out", str(back_path)]) == 0
    back = (safetensors_torch.load_file(str(back_path)) if suffix == ".safetensors"
            else torch.load(str(back_path), weights_only=True))
    if suffix == ".pth":
        assert list(back) == list(state)
    else:  # safetensors stores its keys sorted
        assert sorted(back) == sorted(state)
    for key, value in state.items():
        assert back[key].dtype == value.dtype and torch.equal(back[key], value), key
    fresh = torch_reference.build(arch, num_classes=SMALL_CLASSES)
    fresh.load_state_dict(back, strict=True)
    fresh.eval()
    x = small_input()
    assert np.array_equal(torch_logits(fresh, x), torch_logits(model, x))
    net = mindzoo.create_model(arch, num_classes=SMALL_CLASSES, pretrained=str(ckpt))
    net.set_train(False)
    assert rel_err(ms_logits(net, x), torch_logits(model, x)) < REL_TOL


def test_torch_file_given_straight_to_create_model(resnet18_torch, resnet18_pth: Path, caplog) -> None:
    """A torchvision .pth as ``pretrained``: converted on the fly (the log says so), PIL preprocessing recorded."""
    import logging

    with caplog.at_level(logging.INFO, logger="mindzoo"):
        net = mindzoo.create_model("resnet18", num_classes=SMALL_CLASSES, pretrained=str(resnet18_pth))
    assert "torchvision checkpoint: converted to mindzoo names on the fly" in caplog.text
    assert net.data_config.resize_backend == "pil"
    net.set_train(False)
    x = small_input()
    assert rel_err(ms_logits(net, x), torch_logits(resnet18_torch, x)) < REL_TOL


def test_to_torchvision_usage_errors(resnet18_pth: Path, tmp_path: Path, capsys) -> None:
    ckpt = tmp_path / "r18.ckpt"
    assert main(["--arch", "resnet18", "--src", str(resnet18_pth), "--out", str(ckpt)]) == 0
    capsys.readouterr()
    assert main(["--to", "torchvision", "--arch", "resnet18", "--src", str(ckpt), "--out", str(tmp_path / "x.ckpt")]) == 2
    assert ".pth" in capsys.readouterr().err
    assert main(["--arch", "resnet18", "--src", str(ckpt), "--out", str(tmp_path / "again.ckpt")]) == 2
    assert "already a mindzoo checkpoint" in capsys.readouterr().err

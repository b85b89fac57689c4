"""Checkpoints of MindCV and mindspore/models give their own network's logits in mindzoo, and exports keep them.

Peers: MindCV 0.3.0 itself (``scripts/test.sh`` installs it with ``--no-deps``), and the model zoo's ResNet and
ResNeXt152_64x4d rebuilt from their published source in ``zoo_nets.py``. Every peer gets seeded weights and
random BatchNorm statistics, its checkpoint is written the way the peer writes it (the zoo's with optimizer
and loop state), converted, and mindzoo's logits are compared in eval mode at 224x224 and 97x131.
"""
import mindzoo  # noqa: F401  (sets ONEDNN_MAX_CPU_ISA before MindSpore loads)

import logging
from pathlib import Path
from typing import Dict, Sequence

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindzoo.weights.checkpoint import load_params, open_checkpoint
from mindzoo.weights.files import read_checkpoint
from mindzoo.weights.pretrained import PRETRAINED_CFG_KEY, read_pretrained_cfg
from mindzoo.cli.convert import main as convert_main
from mindzoo.weights.formats import from_mindspore_params
from mindzoo.models import Bottleneck, ResNet, create_model
from mindzoo.weights.pretrained import ResNetVariant
from refnets.zoo_nets import ZooResNeXt, zoo_resnet

REL_TOL = 1e-5
SIZES = ((1, 3, 224, 224), (2, 3, 97, 131))


def rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def randomize(net: nn.Cell, seed: int) -> nn.Cell:
    """Seeded weights (He-normal convs, torch-style dense) and random BN statistics/affine; eval mode."""
    rng = np.random.default_rng(seed)
    for param in net.get_parameters():
        shape, leaf = tuple(param.shape), param.name.rpartition(".")[2]
        if leaf in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif leaf in ("beta", "moving_mean"):
            value = 0.2 * rng.standard_normal(shape)
        elif len(shape) == 4:
            value = rng.standard_normal(shape) * np.sqrt(2.0 / (shape[0] * shape[2] * shape[3]))
        else:
            bound = 1.0 / np.sqrt(shape[-1] if len(shape) == 2 else 512)
            value = rng.uniform(-bound, bound, shape)
        param.set_data(ms.Tensor(value.astype(np.float32)))
    net.set_train(False)
    return net


def inputs(seed: int) -> Sequence[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for shape in SIZES]


def logits(net: nn.Cell, x: np.ndarray) -> np.ndarray:
    return net(ms.Tensor(x)).asnumpy()


def assert_same_logits(peer: nn.Cell, net: nn.Cell, seed: int, classes: slice = slice(None)) -> None:
    net.set_train(False)
    for x in inputs(seed):
        expected = logits(peer, x)[:, classes]
        got = logits(net, x)
        assert got.shape == expected.shape
        assert rel_err(got, expected) < REL_TOL, f"{x.shape}: rel err {rel_err(got, expected):.2e}"


def save_like_zoo_training(net: nn.Cell, path: Path) -> Path:
    """What the zoo's train.py leaves: the TrainOneStepCell's parameters (weights, ``moments.*``, ``learning_rate``,
    ``global_step``, ``momentum``) plus ModelCheckpoint's ``append_info`` (``epoch_num``, ``step_num``)."""
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.1, 0.9))
    ms.save_checkpoint(step, str(path), append_dict={"epoch_num": 90, "step_num": 450360})
    net.set_train(False)
    return path


def convert(arch: str, src: Path, out: Path, *extra: str) -> Path:
    assert convert_main(["--arch", arch, "--src", str(src), "--out", str(out), *extra]) == 0
    return out


# --------------------------------------------------------------------------------------------------- MindCV


@pytest.fixture(scope="module")
def mindcv_models():
    return pytest.importorskip("mindcv.models", reason="mindcv==0.3.0 is not installed (bash scripts/test.sh "
                                                      "installs it with pip install --no-deps mindcv==0.3.0)")


def test_mindcv_resnet50_logits_and_exports(mindcv_models, tmp_path: Path) -> None:
    """MindCV's resnet50 (stem max-pool ``same``): its checkpoint, converted, gives its logits; so do the MINDIR and
    ONNX that export.py writes from the converted checkpoint with no extra flag (BN folded, 97x131 input)."""
    from mindzoo.cli.export import run_export
    from mindzoo.deploy.runtimes import load_mindir, onnx_session, run_mindir, run_onnx

    peer = randomize(mindcv_models.create_model("resnet50", num_classes=1000), seed=1)
    src = tmp_path / "resnet50-mindcv.ckpt"
    ms.save_checkpoint(peer, str(src))
    out = convert("resnet50", src, tmp_path / "resnet50.ckpt")
    cfg = read_pretrained_cfg(read_checkpoint(out), str(out))
    assert cfg.variant == ResNetVariant(pool_padding="same")
    assert cfg.data_config == {"resize_backend": "opencv"} and cfg.source["format"] == "mindcv"
    net = create_model("resnet50", num_classes=1000, pretrained=str(out))
    assert_same_logits(peer, net, seed=2)

    wrong = create_model("resnet50", num_classes=1000, variant=ResNetVariant())  # negative control: torch padding
    ms.load_param_into_net(wrong, {p.name: p for p in net.get_parameters()})
    wrong.set_train(False)
    assert rel_err(logits(wrong, inputs(2)[1]), logits(peer, inputs(2)[1])) > 1e-3

    x = inputs(3)[1][:1]
    expected = logits(peer, x)
    for fmt in ("MINDIR", "ONNX"):
        result = run_export(["--net_name=resnet50", "--num_classes=1000", f"--ckpt_file={out}", "--height=97",
                             "--width=131", f"--file_name={tmp_path / 'r50'}", f"--file_format={fmt}"],
                            set_context=False)
        got = (run_mindir(load_mindir(result.path), x) if fmt == "MINDIR"
               else run_onnx(onnx_session(result.path), x))
        assert rel_err(got, expected) < REL_TOL, f"{fmt}: {rel_err(got, expected):.2e}"


def test_mindcv_resnext_given_straight_to_create_model(mindcv_models, tmp_path: Path, caplog) -> None:
    """A MindCV checkpoint passed as ``pretrained`` is converted on the fly, and the log says how to do it once."""
    peer = randomize(mindcv_models.create_model("resnext50_32x4d", num_classes=10), seed=4)
    src = tmp_path / "resnext50_32x4d-mindcv.ckpt"
    ms.save_checkpoint(peer, str(src))
    with caplog.at_level(logging.INFO, logger="mindzoo"):
        net = create_model("resnext50_32x4d", num_classes=10, pretrained=str(src))
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "mindcv checkpoint: converted to mindzoo names on the fly" in message
    assert f"python -m mindzoo.convert --arch resnext50_32x4d --src {src}" in message
    assert net.variant.pool_padding == "same"
    assert_same_logits(peer, net, seed=5)


MINDCV_RESNETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnext50_32x4d", "resnext101_32x4d",
                  *[pytest.param(name, marks=pytest.mark.slow) for name in
                    ("resnet152", "resnext101_64x4d", "resnext152_64x4d")]]  # 7-12 s each to build


@pytest.mark.parametrize("name", MINDCV_RESNETS)
def test_every_mindcv_resnet_maps_key_for_key(mindcv_models, name: str) -> None:
    """Each of MindCV's ResNet/ResNeXt builders: every parameter lands on ours with its shape, none left over."""
    peer = mindcv_models.create_model(name, num_classes=1000)
    arrays = {p.name: np.broadcast_to(np.float32(0), tuple(p.shape)) for p in peer.get_parameters()}
    source = from_mindspore_params(arrays, f"{name}.ckpt", "mindcv")
    ours = {p.name: tuple(p.shape) for p in create_model(name, num_classes=1000).get_parameters()}
    assert {k: tuple(np.shape(v)) for k, v in source.arrays.items()} == ours


# ------------------------------------------------------------------------------------ mindspore/models ResNet


def test_zoo_resnet50_training_checkpoint(tmp_path: Path, caplog) -> None:
    """The zoo's ResNet50 (every conv and the pool ``same``, eps 1e-4, 1001 classes) from a training checkpoint:
    the optimizer/loop state is dropped, the 1001-way head kept by default, and a 1000-class network gets rows
    0..999 (row 1000 is never a label); MINDIR/ONNX of the converted checkpoint give the same logits."""
    from mindzoo.cli.export import run_export
    from mindzoo.deploy.runtimes import load_mindir, onnx_session, run_mindir, run_onnx

    peer = randomize(zoo_resnet("resnet50"), seed=6)
    src = save_like_zoo_training(peer, tmp_path / "resnet50-90_5004.ckpt")
    assert {"moments.conv1.weight", "learning_rate", "global_step", "momentum", "epoch_num"} <= set(read_checkpoint(src))
    out = convert("resnet50", src, tmp_path / "resnet50.ckpt")
    params = read_checkpoint(out)
    assert not [k for k in params if k.startswith("moments.") or k in ("epoch_num", "step_num", "learning_rate")]
    net = create_model("resnet50", num_classes=1001, pretrained=str(out))
    assert net.variant == ResNetVariant("same", "same", 1e-4, 1e-4)
    assert_same_logits(peer, net, seed=7)

    with caplog.at_level(logging.INFO, logger="mindzoo"):
        net1000 = create_model("resnet50", num_classes=1000, pretrained=str(src))
    assert "dropped row 1000 of the 1001-way classifier" in caplog.text
    assert_same_logits(peer, net1000, seed=8, classes=slice(0, 1000))

    x = inputs(9)[1][:1]
    expected = logits(peer, x)
    for fmt in ("MINDIR", "ONNX"):
        result = run_export(["--net_name=resnet50", "--num_classes=1001", f"--ckpt_file={out}", "--height=97",
                             "--width=131", f"--file_name={tmp_path / 'zoo50'}", f"--file_format={fmt}"],
                            set_context=False)
        got = (run_mindir(load_mindir(result.path), x) if fmt == "MINDIR"
               else run_onnx(onnx_session(result.path), x))
        assert rel_err(got, expected) < REL_TOL, f"{fmt}: {rel_err(got, expected):.2e}"


def test_zoo_resnet18_mixes_bn_eps(tmp_path: Path) -> None:
    """ResNet18 of the zoo: symmetric padding, ``bn1d``/``bn2d`` with eps 1e-4, stem and shortcut BNs 1e-5."""
    peer = randomize(zoo_resnet("resnet18", class_num=1001), seed=10)
    src = save_like_zoo_training(peer, tmp_path / "r18.ckpt")
    out = convert("resnet18", src, tmp_path / "r18-mz.ckpt")
    net = create_model("resnet18", num_classes=1001, pretrained=str(out))
    assert net.variant == ResNetVariant(bn_eps=1e-5, block_bn_eps=1e-4)
    assert net.layer2[0].bn1.eps == pytest.approx(1e-4) and net.layer2[0].downsample[1].eps == pytest.approx(1e-5)
    assert_same_logits(peer, net, seed=11)
    dropped = read_checkpoint(convert("resnet18", src, tmp_path / "r18-1000.ckpt", "--num_classes", "1000"))
    np.testing.assert_array_equal(dropped["fc.weight"].asnumpy(), peer.end_point.weight.asnumpy()[:1000])
    np.testing.assert_array_equal(dropped["fc.bias"].asnumpy(), peer.end_point.bias.asnumpy()[:1000])


# ------------------------------------------------------------------------------- mindspore/models ResNeXt152


def _zoo_resnext_net(source, layers: Sequence[int], num_classes: int) -> ResNet:
    """mindzoo's ResNeXt (64x4d) at the reduced depth of the peer, with the checkpoint's variant."""
    net = ResNet(Bottleneck, layers, num_classes=num_classes, groups=64, width_per_group=4, variant=source.cfg.variant)
    load_params(net, source, "resnext152_64x4d (reduced)")
    return net


@pytest.mark.parametrize("platform", ["Ascend", "GPU"])
def test_zoo_resnext152_reduced_depth(platform: str, tmp_path: Path) -> None:
    """ResNeXt152_64x4d of research/cv (``backbone.``/``head.``, pool ``same``) at full width and reduced depth:
    on Ascend each grouped conv is 64 convs (``conv2.convs.<g>``), merged into one grouped conv."""
    layers = (1, 2, 1, 1)
    peer = randomize(ZooResNeXt(layers=layers, num_classes=10, platform=platform), seed=12)
    src = save_like_zoo_training(peer, tmp_path / f"0-148_10009-{platform}.ckpt")
    keys = set(read_checkpoint(src))
    assert ("backbone.layer1.0.conv2.convs.63.weight" in keys) == (platform == "Ascend")
    source = open_checkpoint(src)
    assert source.format == "mindspore_models" and source.cfg.variant == ResNetVariant(pool_padding="same")
    assert_same_logits(peer, _zoo_resnext_net(source, layers, 10), seed=13)


def test_zoo_resnext152_full_size_key_and_shape_map() -> None:
    """Every key of the full-size zoo network (Ascend layout, 3927 tensors) lands on a resnext152_64x4d parameter
    of the right shape, and every parameter is fed."""
    peer = ZooResNeXt(platform="Ascend")
    arrays = {p.name: np.broadcast_to(np.float32(0), tuple(p.shape)) for p in peer.get_parameters()}
    assert len(arrays) == 3927
    source = from_mindspore_params(arrays, "resnext152.ckpt", "mindspore_models")
    ours = {p.name: tuple(p.shape) for p in create_model("resnext152_64x4d", num_classes=1000).get_parameters()}
    assert {k: tuple(np.shape(v)) for k, v in source.arrays.items()} == ours
    assert source.origin["layer3.35.conv2.weight"] == "backbone.layer3.35.conv2.convs.0.weight"
    assert source.origin["layer2.0.downsample.1.moving_variance"] == "backbone.layer2.0.down_sample.bn.moving_variance"
    assert source.origin["conv1.weight"] == "backbone.conv.weight" and source.origin["fc.bias"] == "head.fc.bias"


# ------------------------------------------------------------------------------------------------- errors


def _convert_error(capsys, arch: str, src: Path, tmp_path: Path, *extra: str) -> str:
    code = convert_main(["--arch", arch, "--src", str(src), "--out", str(tmp_path / "x.ckpt"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.ckpt").exists()
    return err


def _zoo_params(name: str = "resnet18") -> Dict[str, ms.Parameter]:
    net = zoo_resnet(name, class_num=1001)
    return {p.name: p for p in net.get_parameters()}


def _save(params: Dict[str, ms.Parameter], path: Path) -> Path:
    ms.save_checkpoint([{"name": k, "data": v} for k, v in params.items()], str(path))
    return path


def test_se_resnet_is_named_as_inexpressible(tmp_path: Path, capsys) -> None:
    params = _zoo_params("resnet50")
    params["layer4.2.se_dense_0.weight"] = ms.Parameter(ms.Tensor(np.zeros((512, 2048), np.float32)), "se")
    err = _convert_error(capsys, "resnet50", _save(params, tmp_path / "se.ckpt"), tmp_path)
    assert "unexpected key 'layer4.2.se_dense_0.weight'" in err and "SE-ResNet" in err


def test_mindcv_seresnet_is_named_as_inexpressible(mindcv_models, tmp_path: Path, capsys) -> None:
    src = tmp_path / "seresnet18.ckpt"
    ms.save_checkpoint(mindcv_models.create_model("seresnet18", num_classes=10), str(src))
    err = _convert_error(capsys, "resnet18", src, tmp_path)
    assert "unexpected key 'layer1.0.se_module." in err and "SE-ResNet" in err


def test_unknown_key_and_wrong_shape_are_named_in_source_terms(tmp_path: Path, capsys) -> None:
    params = _zoo_params()
    params["layer1.0.bn1d.foo"] = ms.Parameter(ms.Tensor(np.zeros(3, np.float32)), "foo")
    err = _convert_error(capsys, "resnet18", _save(params, tmp_path / "a.ckpt"), tmp_path)
    assert "unexpected key 'layer1.0.bn1d.foo'" in err
    params = _zoo_params()
    params["layer2.0.down_sample_layer.0.weight"] = ms.Parameter(ms.Tensor(np.zeros((128, 64, 3, 3), np.float32)), "w")
    err = _convert_error(capsys, "resnet18", _save(params, tmp_path / "b.ckpt"), tmp_path)
    assert "key 'layer2.0.down_sample_layer.0.weight' has shape (128, 64, 3, 3)" in err
    assert "(128, 64, 1, 1) for 'layer2.0.downsample.0.weight'" in err
    params = _zoo_params()
    del params["layer3.1.bn2d.moving_variance"]
    err = _convert_error(capsys, "resnet18", _save(params, tmp_path / "c.ckpt"), tmp_path)
    assert "missing key 'layer3.1.bn2d.moving_variance'" in err and "'layer3.1.bn2.moving_variance'" in err


def test_missing_group_of_a_split_conv_is_named(tmp_path: Path, capsys) -> None:
    params = {p.name: p for p in ZooResNeXt(layers=(1, 1, 1, 1), num_classes=3).get_parameters()}
    del params["backbone.layer2.0.conv2.convs.5.weight"]
    err = _convert_error(capsys, "resnext152_64x4d", _save(params, tmp_path / "g.ckpt"), tmp_path)
    assert "missing key 'backbone.layer2.0.conv2.convs.5.weight'" in err


def test_forced_format_must_fit_the_file(tmp_path: Path, capsys) -> None:
    src = _save(_zoo_params(), tmp_path / "zoo.ckpt")
    err = _convert_error(capsys, "resnet18", src, tmp_path, "--src_format", "torchvision")
    assert "torch files" in err
    err = _convert_error(capsys, "resnet18", src, tmp_path, "--src_format", "mindcv")
    assert "no classifier 'classifier.weight'" in err  # read as MindCV's layout, the zoo's head is not one


def test_same_padded_checkpoint_does_not_export_to_torch(tmp_path: Path, capsys) -> None:
    peer = randomize(zoo_resnet("resnet50", class_num=10), seed=14)
    out = convert("resnet50", save_like_zoo_training(peer, tmp_path / "z.ckpt"), tmp_path / "z-mz.ckpt")
    code = convert_main(["--to", "torchvision", "--arch", "resnet50", "--src", str(out), "--out",
                         str(tmp_path / "z.pth")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "conv_padding='same'" in err and "cannot be exported to PyTorch" in err
    assert not (tmp_path / "z.pth").exists()


def test_variant_is_refused_by_a_net_built_without_it(tmp_path: Path) -> None:
    """load_weights into a torchvision-variant net: one line naming the difference and the fix."""
    from mindzoo.weights.checkpoint import load_weights
    from mindzoo.errors import CheckpointError

    peer = randomize(zoo_resnet("resnet18", class_num=5), seed=15)
    out = convert("resnet18", _save({p.name: p for p in peer.get_parameters()}, tmp_path / "z.ckpt"),
                  tmp_path / "mz.ckpt")
    assert PRETRAINED_CFG_KEY in read_checkpoint(out)
    with pytest.raises(CheckpointError) as err:
        load_weights(create_model("resnet18", num_classes=5), out)
    message = str(err.value)
    assert "\n" not in message and "block_bn_eps=0.0001 (not 1e-05)" in message and "create_model(NAME" in message


def test_eval_py_scores_a_zoo_checkpoint_as_the_zoo_network_does(tmp_path: Path) -> None:
    """eval.py --pretrained ZOO.ckpt: converted on the fly (logged), and its top-1 is the zoo network's own on the
    same preprocessed images."""
    import json

    from helpers import make_image_folder, run
    from mindzoo.data.geometry import DataConfig, resolve_eval_geometry
    from mindzoo.data.transforms import preprocess_image

    data = make_image_folder(tmp_path / "data", {"val": {c: 3 for c in "abcd"}}, size=48)
    peer = randomize(zoo_resnet("resnet50", class_num=4), seed=16)
    src = save_like_zoo_training(peer, tmp_path / "resnet50-1_1.ckpt")
    proc = run("eval.py", [f"--data_path={data}", "--net_name=resnet50", "--num_classes=4", "--eval_image_size=40",
                           f"--pretrained={src}", f"--output_dir={tmp_path / 'ev'}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "mindspore_models checkpoint: converted to mindzoo names on the fly" in proc.stdout
    geometry = resolve_eval_geometry(DataConfig(), 40)
    images = sorted((data / "val").glob("*/*.jpg"))
    batch = np.stack([preprocess_image(path, geometry) for path in images])
    labels = np.array(["abcd".index(path.parent.name) for path in images])
    expected = float(np.mean(logits(peer, batch).argmax(axis=1) == labels))
    assert json.loads((tmp_path / "ev" / "eval_result.json").read_text())["top1"] == pytest.approx(expected)


def test_infer_py_reads_a_zoo_checkpoint_without_num_classes(tmp_path: Path) -> None:
    """infer.py finds the zoo's 1001-way head itself and ranks classes as the zoo network does."""
    from helpers import make_image_folder
    from mindzoo.cli.infer import build_parser, classify
    from mindzoo.data.geometry import DataConfig, resolve_eval_geometry
    from mindzoo.data.transforms import preprocess_image

    image = sorted(make_image_folder(tmp_path / "d", {"val": {"a": 1}}, size=64).glob("val/a/*.jpg"))[0]
    peer = randomize(zoo_resnet("resnet18"), seed=17)
    src = save_like_zoo_training(peer, tmp_path / "resnet18.ckpt")
    result = classify(build_parser().parse_args([str(image), "--pretrained", str(src), "--net_name=resnet18",
                                                 "--image_size=56", "--topk=3"]))
    x = preprocess_image(image, resolve_eval_geometry(DataConfig(), 56))[None]
    expected = np.argsort(-logits(peer, x)[0], kind="stable")[:3]
    assert [entry["index"] for entry in result[0]["topk"]] == expected.tolist()

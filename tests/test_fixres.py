"""FixRes end to end: what the fine-tune may change, the images it trains on, the test-resolution defaults."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any, Dict, List, Tuple

import mindspore as ms
import numpy as np
import pytest

from helpers import make_image_folder, run
from mindzoo.config import CONFIG_DIR, load_config
from mindzoo.models import create_model

# The BN the reference re-estimates (layer4[-1].bn3; bn2 in BasicBlock nets), spelled out, not asked of the model.
LAST_BN = {"resnet18": "layer4.1.bn2", "resnext50_32x4d": "layer4.2.bn3"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 3 classes x 8 train images: 6 steps of 4 per epoch; 9 val images.
    return make_image_folder(tmp_path_factory.mktemp("fixres_data"), {
        "train": {f"c{k}": 8 for k in range(3)}, "val": {f"c{k}": 3 for k in range(3)}}, size=48)


def _arrays(path: Path) -> Dict[str, np.ndarray]:
    return {name: param.asnumpy() for name, param in ms.load_checkpoint(str(path)).items()}


def _ok(script: str, args: List[Any], timeout: float = 900) -> str:
    proc = run(script, args, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _finetune_and_check(data: Path, tmp_path: Path, net_name: str) -> None:
    """Two fine-tune epochs with an evaluation between them; only fc and the last BN's statistics may move."""
    start = tmp_path / "start.ckpt"
    ms.save_checkpoint(create_model(net_name, num_classes=3), str(start))
    before = _arrays(start)
    out = tmp_path / "out"
    log = _ok("train.py", [
        f"--net_name={net_name}", "--num_classes=3", f"--data_path={data}", f"--output_dir={out}",
        f"--pretrained={start}", "--fixres_finetune=True", "--eval_image_size=40", "--batch_size=4",
        "--eval_batch_size=9", "--epoch_size=2", "--lr=0.05", "--lr_base_batch=0", "--lr_schedule=constant",
        "--warmup_epochs=0", "--num_parallel_workers=1", "--log_interval=100",
    ])
    assert re.search(r"image 40, eval image 40\b", log), "the fine-tune must train at the test resolution"
    assert log.count(" eval: top1 ") == 2

    last_bn = LAST_BN[net_name]
    changing = {"fc.weight", "fc.bias", f"{last_bn}.moving_mean", f"{last_bn}.moving_variance"}
    epoch1 = _arrays(out / "checkpoints" / f"{net_name}-1_6.ckpt")
    epoch2 = _arrays(out / "checkpoints" / f"{net_name}-2_6.ckpt")
    best = _arrays(out / "checkpoints" / "best_acc.ckpt")
    assert changing <= set(before)
    for name, value in before.items():
        if name in changing:
            assert not np.array_equal(value, epoch1[name]), f"{name} did not change in epoch 1"
            # epoch 2 follows an evaluation, which puts the whole net in eval mode: the last BN must train again
            assert not np.array_equal(epoch1[name], epoch2[name]), f"{name} did not change in epoch 2"
        else:
            assert np.array_equal(value, epoch1[name]), f"{name} changed in epoch 1"
            assert np.array_equal(value, epoch2[name]), f"{name} changed in epoch 2"
        assert np.array_equal(best[name], epoch1[name]) or np.array_equal(best[name], epoch2[name])
    # momentum exists only for the classifier: weight decay and momentum cannot reach a frozen parameter
    assert sorted(k for k in epoch2 if k.startswith("moments.")) == ["moments.fc.bias", "moments.fc.weight"]


def test_finetune_changes_only_classifier_and_last_bn_statistics(data: Path, tmp_path: Path) -> None:
    _finetune_and_check(data, tmp_path, "resnet18")


def test_finetune_works_for_a_non_fixres_backbone(data: Path, tmp_path: Path) -> None:
    _finetune_and_check(data, tmp_path, "resnext50_32x4d")


class _Captured(Exception):
    """Raised by the stand-in create_dataset: carries the first pipeline a CLI asked for, and stops the CLI."""

    def __init__(self, split: str, transforms: list) -> None:
        super().__init__(split)
        self.split, self.transforms = split, transforms


def _first_pipeline(monkeypatch: pytest.MonkeyPatch, cli: str, argv: List[str]) -> Tuple[str, list]:
    """The (split, transforms) the CLI's first create_dataset call gets, without building or loading anything."""
    import importlib

    import mindzoo.data

    def capture(data_dir: Any, split: str, transforms: list, *args: Any, **kwargs: Any) -> None:
        raise _Captured(split, transforms)

    monkeypatch.setattr(mindzoo.data, "create_dataset", capture)
    with pytest.raises(_Captured) as caught:
        importlib.import_module(f"mindzoo.cli.{cli}").main(argv)
    return caught.value.split, caught.value.transforms


def _saved_model(path: Path, net_name: str) -> Path:
    """A real (random-weight) checkpoint for ``--pretrained``: the CLIs build the network from it."""
    ms.save_checkpoint(create_model(net_name, num_classes=3), str(path))
    return path


def _through_pipeline(transforms: list, encoded: np.ndarray, copies: int) -> List[np.ndarray]:
    import mindspore.dataset as ds

    pipeline = ds.NumpySlicesDataset({"image": np.stack([encoded] * copies)}, shuffle=False)
    pipeline = pipeline.map(transforms, input_columns="image")
    return [row[0] for row in pipeline.create_tuple_iterator(num_epochs=1, output_numpy=True)]


def _jpeg(height: int, width: int, seed: int) -> np.ndarray:
    import io

    from PIL import Image

    rng = np.random.RandomState(seed)
    smooth = np.kron(rng.randint(0, 256, size=(height // 8 + 1, width // 8 + 1, 3)), np.ones((8, 8, 1)))
    buffer = io.BytesIO()
    Image.fromarray(smooth[:height, :width].astype(np.uint8)).save(buffer, format="JPEG", quality=95)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


@pytest.mark.parametrize("net_name,size_flags,test_size", [
    ("resnet18", ["--eval_image_size=56"], 56),         # any model: the test size is --eval_image_size
    ("fixres_resnet50", [], 384),                        # fixres_resnet50: its data config's 384 by default
])
def test_train_py_finetune_feeds_test_crops_at_the_test_size(
        monkeypatch: pytest.MonkeyPatch, data: Path, tmp_path: Path, net_name: str, size_flags: List[str],
        test_size: int) -> None:
    from mindzoo.data import eval_transforms

    common = [f"--net_name={net_name}", "--num_classes=3", f"--data_path={data}", "--fixres_finetune=True",
              f"--pretrained={_saved_model(tmp_path / 'start.ckpt', net_name)}", "--train_image_size=40", *size_flags]
    encoded = _jpeg(217, 300, seed=test_size)
    data_config = create_model(net_name, num_classes=3).data_config
    reference = _through_pipeline(eval_transforms(test_size, data_config, crop_pct=224 / 256), encoded, 1)[0]
    assert reference.shape == (3, test_size, test_size)

    split, plain = _first_pipeline(monkeypatch, "train", [*common, f"--output_dir={tmp_path / 'plain'}"])
    assert split == "train"
    for out in _through_pipeline(plain, encoded, 4):
        assert np.array_equal(out, reference), "by default the fine-tune trains on the eval transform at the test size"

    _, flipping = _first_pipeline(monkeypatch, "train", [*common, "--fixres_flip=True",
                                                         f"--output_dir={tmp_path / 'flip'}"])
    kinds = {"same" if np.array_equal(out, reference) else
             "mirror" if np.array_equal(out, reference[:, :, ::-1]) else "other"
             for out in _through_pipeline(flipping, encoded, 24)}
    assert kinds == {"same", "mirror"}, "fixres_flip=True adds only a random horizontal flip"


def test_resize_edge_height_reaches_the_finetune_and_eval_pipelines(
        monkeypatch: pytest.MonkeyPatch, data: Path, tmp_path: Path) -> None:
    from mindzoo.data import geometry_transforms, resolve_eval_geometry

    portrait = _jpeg(300, 217, seed=5)
    data_config = create_model("resnet18", num_classes=3).data_config
    geometry = resolve_eval_geometry(data_config, 56, crop_pct=224 / 256, resize_edge="height")
    reference = _through_pipeline(geometry_transforms(geometry), portrait, 1)[0]
    shorter = _through_pipeline(geometry_transforms(resolve_eval_geometry(data_config, 56, crop_pct=224 / 256)),
                                portrait, 1)[0]
    assert not np.array_equal(reference, shorter)
    common = ["--net_name=resnet18", "--num_classes=3", f"--data_path={data}", "--eval_image_size=56",
              "--resize_edge=height", f"--pretrained={_saved_model(tmp_path / 'start.ckpt', 'resnet18')}"]
    _, train = _first_pipeline(monkeypatch, "train", [*common, "--fixres_finetune=True",
                                                      f"--output_dir={tmp_path / 'ft'}"])
    _, evaluate = _first_pipeline(monkeypatch, "eval", [*common, f"--output_dir={tmp_path / 'ev'}"])
    for transforms in (train, evaluate):
        assert np.array_equal(_through_pipeline(transforms, portrait, 1)[0], reference)


def test_export_records_resize_edge_in_its_sidecar(tmp_path: Path) -> None:
    from mindzoo.cli import export as export_cli

    ckpt = tmp_path / "r18.ckpt"
    ms.save_checkpoint(create_model("resnet18", num_classes=3), str(ckpt))
    result = export_cli.run_export(["--net_name=resnet18", "--num_classes=3", f"--ckpt_file={ckpt}",
                                    f"--file_name={tmp_path / 'r18'}", "--file_format=ONNX", "--eval_image_size=32",
                                    "--resize_edge=height"], set_context=False)
    preprocess = json.loads(result.sidecar.read_text())["preprocess"]
    assert (preprocess["resize_edge"], preprocess["resize_size"], preprocess["crop_size"]) == ("height", 36, [32, 32])


def test_finetune_decays_fc_weight_and_fc_bias_like_the_reference(data: Path, tmp_path: Path) -> None:
    """One full-batch step with and without weight decay: the same gradient, so the two results differ by
    exactly lr * wd * w for every decayed parameter. The reference decays all it trains, fc.bias included."""
    start = tmp_path / "start.ckpt"
    ms.save_checkpoint(create_model("resnet18", num_classes=3), str(start))
    before = _arrays(start)
    lr, wd = 0.5, 0.2
    finals = {}
    for decay in (0.0, wd):
        out = tmp_path / f"wd{decay}"
        _ok("train.py", ["--net_name=resnet18", "--num_classes=3", f"--data_path={data}", f"--output_dir={out}",
                         f"--pretrained={start}", "--fixres_finetune=True", "--eval_image_size=32", "--batch_size=24",
                         "--epoch_size=1", f"--lr={lr}", "--lr_base_batch=0", "--lr_schedule=constant",
                         "--warmup_epochs=0", "--momentum=0.9", f"--weight_decay={decay}", "--run_eval=False",
                         "--num_parallel_workers=1"])
        finals[decay] = _arrays(out / "checkpoints" / "resnet18-1_1.ckpt")
    for name in ("fc.weight", "fc.bias"):
        np.testing.assert_allclose(finals[wd][name] - finals[0.0][name], -lr * wd * before[name], rtol=1e-3,
                                   atol=1e-6, err_msg=name)
        assert np.abs(before[name]).max() > 1e-3  # a decay of zero would not be visible
    np.testing.assert_array_equal(finals[wd]["layer4.1.bn2.moving_mean"], finals[0.0]["layer4.1.bn2.moving_mean"])


def test_eval_and_export_default_to_384_for_fixres_resnet50(
        monkeypatch: pytest.MonkeyPatch, data: Path, tmp_path: Path) -> None:
    from mindzoo.data.geometry import resolve_eval_geometry

    ckpt = tmp_path / "fixres.ckpt"  # eval.py builds its network from the checkpoint (variant, preprocessing)
    ms.save_checkpoint(create_model("fixres_resnet50", num_classes=3), str(ckpt))
    split, transforms = _first_pipeline(monkeypatch, "eval", [
        "--net_name=fixres_resnet50", "--num_classes=3", f"--data_path={data}", f"--pretrained={ckpt}",
        f"--output_dir={tmp_path / 'eval'}"])
    assert split == "val"
    out = _through_pipeline(transforms, _jpeg(375, 500, seed=1), 1)[0]
    assert out.shape == (3, 384, 384)
    data_config = create_model("fixres_resnet50", num_classes=3).data_config
    assert (data_config.input_size, data_config.test_input_size, data_config.resize_size(384)) == (224, 384, 438)
    geometry = resolve_eval_geometry(data_config)
    assert (geometry.resize_size, geometry.crop_height, geometry.crop_width) == (438, 384, 384)


@pytest.mark.parametrize("name", ["fixres_resnet50", "fixres_resnet50_finetune", "demo_fixres", "demo_fixres_finetune"])
def test_fixres_configs_load_and_name_registered_models(name: str) -> None:
    from mindzoo.models import list_models

    cfg = load_config(["--config_path", str(CONFIG_DIR / f"{name}.yaml")])
    assert cfg.net_name in list_models()
    assert cfg.fixres_finetune == name.endswith("_finetune")


def test_fixres_resnet50_configs_are_the_reference_recipe() -> None:
    stage1_path = CONFIG_DIR / "fixres_resnet50.yaml"
    stage1 = load_config(["--config_path", str(stage1_path)])
    finetune = load_config(["--config_path", str(CONFIG_DIR / "fixres_resnet50_finetune.yaml")])
    assert not stage1.fixres_finetune and stage1.train_image_size == 224
    assert finetune.fixres_finetune and finetune.eval_image_size == 384
    assert finetune.lr * 512 / finetune.lr_base_batch == pytest.approx(8e-3)  # reference: 8e-3 at global batch 512
    assert (finetune.lr_schedule, finetune.lr_milestones, finetune.lr_gamma) == ("step", [30], 0.1)
    assert (finetune.warmup_epochs, finetune.label_smoothing, finetune.momentum) == (0, 0.0, 0.9)
    # the overrides fixres_resnet50.yaml documents turn it into exactly the fine-tune config
    flags = [flag for line in stage1_path.read_text(encoding="utf-8").splitlines()
             if line.startswith("#   --") for flag in shlex.split(line[1:])]
    assert flags, "fixres_resnet50.yaml must document the stage-2 overrides"
    overridden = load_config(["--config_path", str(stage1_path), *flags])
    ignored = {"train_image_size"}  # the fine-tune trains at eval_image_size
    assert {k: v for k, v in overridden.items() if k not in ignored} == \
        {k: v for k, v in finetune.items() if k not in ignored}


def test_fixres_resnet50_finetunes_and_evaluates_at_384_by_default(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", {"train": {"a": 2, "b": 2}, "val": {"a": 1, "b": 1}}, size=400)
    start = tmp_path / "start.ckpt"
    ms.save_checkpoint(create_model("fixres_resnet50", num_classes=2), str(start))
    common = ["--net_name=fixres_resnet50", "--num_classes=2", f"--data_path={data}", "--num_parallel_workers=1"]
    log = _ok("train.py", [*common, f"--output_dir={tmp_path / 'ft'}", f"--pretrained={start}",
                           "--fixres_finetune=True", "--batch_size=2", "--epoch_size=1", "--warmup_epochs=0",
                           "--run_eval=False"])
    assert re.search(r"image 384, eval image 384\b", log)
    finetuned = next((tmp_path / "ft" / "checkpoints").glob("fixres_resnet50-1_*.ckpt"))
    _ok("eval.py", [*common, f"--pretrained={finetuned}", f"--output_dir={tmp_path / 'ev'}"])
    result = json.loads((tmp_path / "ev" / "eval_result.json").read_text(encoding="utf-8"))
    assert result["image_size"] == 384 and result["total"] == 2


def test_demo_refuses_a_non_empty_output_dir(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from mindzoo.fixres_demo import main

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x", encoding="utf-8")
    assert main(["--data", str(tmp_path / "data"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {tmp_path / 'out'} is not empty: remove it or "
                                                            "choose another --out"]
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_demo_runs_end_to_end_and_writes_the_table(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mindzoo.fixres_demo", "--data", str(tmp_path / "digits"),
                           "--out", str(out), "--epochs=2", "--finetune_epochs=1", "--test_sizes=48",
                           "--finetune_sizes=48"], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "fixres_demo.json").read_text(encoding="utf-8"))
    rows = [(r["train_res"], r["test_res"], r["finetuned"], r["total"]) for r in result["rows"]]
    assert rows == [(40, 40, False, 359), (40, 48, False, 359), (40, 48, True, 359)]
    table = (out / "fixres_demo.md").read_text(encoding="utf-8")
    assert table.splitlines()[0] == "| model | train res | test res | fine-tuned | top-1 | top-5 |"
    assert table in proc.stdout and "48 px: the FixRes fine-tune is" in proc.stdout

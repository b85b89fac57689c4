"""The training engine: Model.train with the configured sink mode, read points (host loop and the sink grid),
resume arithmetic and a resumed run following its command line, per-device configs, fusion splits, devices.

Dataset sink mode itself needs Ascend or GPU and never runs here (on CPU MindSpore runs its host loop inside
Model.train); what the engine builds on it (the read-point plan on a sink grid, resume at a sink boundary) runs
through the host loop with ``fit(..., read_grid=N)``.
"""
from __future__ import annotations

import re
import shutil
from typing import List

import numpy as np
import pytest

import mindzoo  # noqa: F401  (sets the oneDNN ISA before MindSpore loads)
from mindzoo.config import load_config
from mindzoo.errors import ConfigError
from mindzoo.train.checks import check_train_config
from mindzoo.train.resume import Position
from mindzoo.train.stepping import ReadPlan, crossed

from helpers import REPO, make_image_folder


def reads(plan: ReadPlan, epochs: int, start_epoch: int = 0, start_step: int = 0) -> List[tuple]:
    """``(epoch, step, global_step, checkpoint?)`` of every read point, as the engine visits them."""
    out, step, global_step = [], start_step, start_epoch * plan.steps_per_epoch + start_step
    for epoch in range(start_epoch, epochs):
        while step < plan.steps_per_epoch:
            target = plan.next_read(step, global_step)
            assert target > step
            global_step += target - step
            out.append((epoch + 1, target, global_step, crossed(global_step - (target - step), global_step,
                                                                plan.checkpoint_steps)))
            step = target
        step = 0
    return out


def test_host_loop_reads_at_log_lines_checkpoint_steps_and_epoch_ends():
    plan = ReadPlan(steps_per_epoch=12, log_interval=5, checkpoint_steps=8)
    assert [(e, s) for e, s, _, _ in reads(plan, 2)] == [(1, 5), (1, 8), (1, 10), (1, 12),
                                                        (2, 4), (2, 5), (2, 10), (2, 12)]
    assert [g for _, _, g, ckpt in reads(plan, 2) if ckpt] == [8, 16, 24]
    assert [s for _, s, _, _ in reads(ReadPlan(12, 20), 1)] == [12]  # log_interval > epoch: once an epoch


@pytest.mark.parametrize("sink_size", [3, 4, 12])
def test_sink_grid_reads_checkpoints_and_resumes_on_sink_boundaries(sink_size):
    """Reads snap up to multiples of sink_size from the epoch start; so do step checkpoints, and a run resumed
    from any of them reads (and saves) at exactly the points the unbroken run did."""
    plan = ReadPlan(steps_per_epoch=12, log_interval=5, checkpoint_steps=7, granularity=sink_size)
    unbroken = reads(plan, 3)
    assert all(step % sink_size == 0 or step == 12 for _, step, _, _ in unbroken)
    checkpoints = [(e, s, g) for e, s, g, ckpt in unbroken if ckpt]
    assert len(checkpoints) >= 3  # 36 steps, one checkpoint per 7 steps, at most one per read
    for epoch, step, global_step in checkpoints:
        start_epoch, start_step = (epoch, 0) if step == 12 else (epoch - 1, step)
        tail = [r for r in unbroken if r[2] > global_step]
        assert reads(plan, 3, start_epoch, start_step) == tail


def test_position_names_and_records():
    position = Position()
    position.advance(5)
    assert position.label(12) == (1, 5)
    position.advance(7)
    position.finish_epoch()
    assert position.label(12) == (1, 12) and position.global_step == 12
    assert position.record() == {"mindzoo_epochs_done": 1, "mindzoo_steps_in_epoch": 0, "mindzoo_best_top1": -1.0}


@pytest.mark.parametrize("override, message", [
    ("--sink_size=0", "sink_size must be -1 (a whole epoch per sink) or positive"),
    ("--sink_size=-2", "sink_size must be -1 (a whole epoch per sink) or positive"),
    ("--device_id=-3", "device_id must be -1 (the launcher's DEVICE_ID, else card 0) or a card number"),
    ("--save_checkpoint_steps=-5", "save_checkpoint_steps must be 0 (off) or positive"),
    ("--all_reduce_fusion_config=160,85", "must be strictly increasing"),
    ("--all_reduce_fusion_config=0,85", "must list positive gradient indices"),
])
def test_new_keys_are_checked(override, message):
    cfg = load_config(["--data_path=/data", override])
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_train_config(cfg)


def test_fusion_split_beyond_the_gradients_is_a_config_error():
    from mindzoo.train.checks import check_fusion_config

    check_fusion_config([85, 160], 161)
    with pytest.raises(ConfigError, match=r"splits at index 160 but the network has 62 gradients"):
        check_fusion_config([85, 160], 62)


def test_resnext_fusion_splits_derive_from_the_resnet_of_equal_depth():
    """A ResNeXt's gradient list is the same-depth ResNet's (names and order), so the model zoo's split carries
    over; the shipped configs use exactly these."""
    from mindzoo.config import read_yaml
    from mindzoo.distributed import MODEL_ZOO_FUSION, derive_all_reduce_fusion

    assert derive_all_reduce_fusion("resnet50") == MODEL_ZOO_FUSION["resnet50"] == [85, 160]
    assert derive_all_reduce_fusion("resnext50_32x4d") == [85, 160]
    assert derive_all_reduce_fusion("resnext152_64x4d") == [180, 313]
    assert derive_all_reduce_fusion("resnet18") == []  # no model-zoo split for 62 gradients
    configs = REPO / "configs"
    assert read_yaml(configs / "resnet50.yaml")["all_reduce_fusion_config"] == [85, 160]
    assert read_yaml(configs / "resnext152_64x4d_ascend.yaml")["all_reduce_fusion_config"] == [180, 313]


def test_ascend_configs_use_the_model_zoo_mixed_precision_and_cpu_configs_stay_fp32():
    configs = REPO / "configs"
    for name in ("resnet50_ascend", "resnext152_64x4d_ascend"):
        cfg = load_config([f"--config_path={configs / (name + '.yaml')}", "--data_path=/data"])
        check_train_config(cfg)
        assert (cfg.device_target, cfg.amp_level, cfg.loss_scale_type, cfg.loss_scale, cfg.sink_size) == \
            ("Ascend", "O3", "fixed", 1024.0, -1), name
    for name in ("resnet50", "resnext152_64x4d", "demo_resnet18"):
        cfg = load_config([f"--config_path={configs / (name + '.yaml')}"])
        assert (cfg.device_target, cfg.amp_level) == ("CPU", "O0"), name


# ---------------------------------------------------------------- a real run on a sink-like grid


TINY = ["--net_name=resnet18", "--num_classes=4", "--train_image_size=32", "--batch_size=4", "--epoch_size=2",
        "--lr=0.4", "--warmup_epochs=1", "--log_interval=5", "--num_parallel_workers=1", "--run_eval=False",
        "--save_checkpoint_steps=4", "--keep_checkpoint_max=20"]


def _fit(args: List[str], granularity: int = 0):
    """build_run + fit in this process, reading the host only every ``granularity`` steps (as sink mode does)."""
    from mindzoo.train.callbacks import Callback
    from mindzoo.train.engine import build_run, default_callbacks, fit

    class Reads(Callback):
        def __init__(self) -> None:
            self.steps: List[tuple] = []

        def on_read(self, run, readout) -> None:
            self.steps.append((readout.epoch, readout.step, readout.overflows, np.isfinite(readout.loss_sum)))

    run = build_run(load_config(args))
    seen = Reads()
    fit(run, [*default_callbacks(run), seen], read_grid=granularity)
    return run, seen.steps


def test_grid_reads_do_not_change_training_and_resume_at_a_grid_point_is_exact(tmp_path):
    """12 steps an epoch. Unbroken, reading every step point the plan asks for; then a run restarted from the
    unbroken run's step checkpoint at epoch 2 step 4 (a point of a sink_size=4 grid) that reads only on that
    grid: same final parameters, every read on the grid, and each read saw all of its window's steps."""
    import mindspore as ms

    data = make_image_folder(tmp_path / "data", {"train": {f"c{k}": 12 for k in range(4)}})
    unbroken = tmp_path / "unbroken"
    run, _ = _fit([f"--data_path={data}", f"--output_dir={unbroken}", *TINY])
    names = sorted(p.name for p in (unbroken / "checkpoints").glob("resnet18-*.ckpt"))
    assert {"resnet18-1_4.ckpt", "resnet18-1_8.ckpt", "resnet18-2_4.ckpt", "resnet18-2_12.ckpt"} <= set(names)

    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copy(unbroken / "checkpoints" / "resnet18-2_4.ckpt", resumed / "checkpoints")
    run, steps = _fit([f"--data_path={data}", f"--output_dir={resumed}", *TINY, "--resume_ckpt=auto"], granularity=4)
    assert run.resumed_from.name == "resnet18-2_4.ckpt"
    assert [(e, s) for e, s, _, _ in steps] == [(2, 8), (2, 12)]  # log_interval 5 snapped up to the grid
    assert all(finite for *_, finite in steps)
    final = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(unbroken / "checkpoints" / "resnet18-2_12.ckpt")).items()}
    again = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(resumed / "checkpoints" / "resnet18-2_12.ckpt")).items()}
    weights = [k for k in final if k.startswith(("conv1", "layer", "fc", "bn1", "moments."))]
    assert len(weights) > 100 and any("moving_mean" in k for k in weights)
    for key in [*weights, "global_step", "mindzoo_epochs_done", "mindzoo_steps_in_epoch"]:
        np.testing.assert_array_equal(again[key], final[key], err_msg=key)


def test_sink_grid_divides_the_epoch_and_snaps_read_intervals_with_one_line_each():
    from mindzoo.train.stepping import sink_grid

    host = sink_grid(12, 4, sinking=False, log_interval=5, checkpoint_steps=7)
    assert (host.sink_size, host.log_interval, host.checkpoint_steps, host.notes) == (1, 5, 7, ())
    grid = sink_grid(12, 4, sinking=True, log_interval=5, checkpoint_steps=7)
    assert (grid.sink_size, grid.log_interval, grid.checkpoint_steps) == (4, 8, 8)
    assert grid.notes == ("log_interval 5 -> 8, save_checkpoint_steps 7 -> 8: the host reads only between sinks "
                          "of 4 steps",)
    whole = sink_grid(12, -1, sinking=True, log_interval=20, checkpoint_steps=0)
    assert (whole.sink_size, whole.log_interval, whole.checkpoint_steps) == (12, 24, 0)
    assert whole.notes == ("log_interval 20 -> 24: the host reads only between sinks of 12 steps",)
    odd = sink_grid(12, 5, sinking=True, log_interval=4, checkpoint_steps=0)
    assert odd.sink_size == 4 and odd.notes == ("sink_size 5 -> 4: a sink must divide the epoch's 12 steps",)


@pytest.mark.parametrize("flag, sink_mode", [(None, True), ("--data_sink_mode=False", False)])
def test_train_py_trains_through_model_train_with_the_configured_sink_mode(tmp_path, monkeypatch, capsys, flag,
                                                                          sink_mode):
    """train.py's main, in this process, with a spy on mindspore.train.Model.train (the real method still runs):
    one call per epoch with the configured dataset_sink_mode; the model zoo's data_sink_mode reaches it too."""
    from mindspore.train import Model

    from mindzoo.cli.train import main

    calls = []
    real_train = Model.train

    def spy(self, epoch, dataset, *args, **kwargs):
        calls.append({"epoch": epoch, "steps": dataset.get_dataset_size(), **kwargs})
        return real_train(self, epoch, dataset, *args, **kwargs)

    monkeypatch.setattr(Model, "train", spy)
    data = make_image_folder(tmp_path / "data", {"train": {f"c{k}": 4 for k in range(4)}})
    args = [f"--data_path={data}", f"--output_dir={tmp_path / 'out'}", *TINY, "--save_checkpoint_steps=0"]
    assert main(args + ([flag] if flag else [])) == 0
    assert [(c["epoch"], c["steps"], c["dataset_sink_mode"], c["sink_size"]) for c in calls] == \
        [(1, 4, sink_mode, -1)] * 2
    out = capsys.readouterr().out
    expected = ("dataset_sink_mode=True: MindSpore runs its host loop on CPU" if sink_mode
                else "dataset_sink_mode=False: MindSpore's host loop")
    assert expected in out and "epoch: 2 step: 4/4" in out
    assert sorted(p.name for p in (tmp_path / "out" / "checkpoints").glob("*.ckpt")) == \
        ["resnet18-1_4.ckpt", "resnet18-2_4.ckpt"]
    assert load_config(["--dataset_sink_mode=False"]).dataset_sink_mode is False


def test_resume_with_more_epochs_and_another_lr_follows_the_new_schedule(tmp_path, capsys):
    """A 1-epoch run's checkpoint resumed with --epoch_size=2 --lr=0.2 (it trained with 0.4): the LR array is
    the new run's (its length changed: the old engine refused), the log names each change, and the weights
    equal a reference that loads the checkpoint's state by hand and steps the bare train step through
    epoch 2's batches with the new schedule."""
    import mindspore as ms

    from mindzoo.train.engine import build_run
    from mindzoo.train.lr import build_lr_schedule

    data = make_image_folder(tmp_path / "data", {"train": {f"c{k}": 4 for k in range(4)}})
    common = [f"--data_path={data}", *TINY, "--warmup_epochs=0", "--save_checkpoint_steps=0", "--lr_base_batch=0"]
    first = tmp_path / "first"
    _fit([*common, "--epoch_size=1", f"--output_dir={first}"])
    checkpoint = first / "checkpoints" / "resnet18-1_4.ckpt"
    new = [*common, "--epoch_size=2", "--lr=0.2"]
    capsys.readouterr()
    run, _ = _fit([*new, f"--output_dir={tmp_path / 'resumed'}", f"--resume_ckpt={checkpoint}"])
    out = capsys.readouterr().out
    assert "resume: epoch_size 1 -> 2" in out and "resume: lr 0.4 -> 0.2" in out, out
    resumed = ms.load_checkpoint(str(tmp_path / "resumed" / "checkpoints" / "resnet18-2_4.ckpt"))
    schedule = build_lr_schedule("cosine", 0.2, 4, 2, 0, 0.0, [], 0.1, 0.0, 2.0)
    np.testing.assert_array_equal(resumed["learning_rate"].asnumpy(), schedule)

    reference = build_run(load_config([*new, f"--output_dir={tmp_path / 'reference'}"]))
    state = ms.load_checkpoint(str(checkpoint))
    ms.load_param_into_net(reference.train_step, {k: v for k, v in state.items()
                                                  if k != "learning_rate"})
    for images, labels in reference.data.train_dataset(1).create_tuple_iterator(num_epochs=1):
        reference.train_step(images, labels)
    expected = {p.name: p.asnumpy() for p in reference.train_step.get_parameters()}
    assert int(expected["global_step"][0]) == 8
    for name, value in expected.items():
        np.testing.assert_array_equal(resumed[name].asnumpy(), value, err_msg=name)


def test_fixres_frozen_batchnorms_ignore_model_train_mode(tmp_path):
    """Model.train puts the whole network in training mode at every call; the frozen BNs keep their running
    statistics anyway, the last BN re-estimates its own."""
    import mindspore as ms
    from mindspore.train import Model

    from mindzoo.models import create_model
    from mindzoo.train.amp import build_train_step
    from mindzoo.train.fixres import freeze_for_fixres
    from mindzoo.train.loss import CrossEntropySmooth
    from mindzoo.train.optim import build_optimizer
    from mindzoo.train.stepping import MonitoredStep

    net = create_model("resnet18", num_classes=2)
    trainable = freeze_for_fixres(net)
    assert trainable == ["fc.weight", "fc.bias"]
    step = build_train_step(net, CrossEntropySmooth(2), build_optimizer(net, 0.1, 0.9, 0.0))
    before = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
    rng = np.random.default_rng(0)
    dataset = ms.dataset.NumpySlicesDataset({"x": rng.normal(size=(4, 3, 32, 32)).astype(np.float32),
                                             "y": np.array([0, 1, 0, 1], np.int32)}, shuffle=False).batch(2)
    Model(MonitoredStep(step)).train(1, dataset, dataset_sink_mode=True)
    moved = {p.name for p in net.get_parameters() if not np.array_equal(before[p.name], p.asnumpy())}
    assert moved == {"fc.weight", "fc.bias", "layer4.1.bn2.moving_mean", "layer4.1.bn2.moving_variance"}


def test_fusion_split_is_checked_against_the_gradients_the_step_reduces():
    """FixRes trains the classifier only: 2 gradients, so resnet18's full-net split would be out of range."""
    from mindzoo.models import create_model
    from mindzoo.train.engine import reduced_gradients

    assert reduced_gradients(load_config(["--net_name=resnet18"]), create_model("resnet18", num_classes=4)) == 62
    cfg = load_config(["--net_name=resnet18", "--fixres_finetune=True"])
    assert reduced_gradients(cfg, create_model("resnet18", num_classes=4)) == 2


def test_device_card_comes_from_device_id_or_the_launcher_and_a_conflict_is_an_error():
    from mindzoo.runtime import device_card
    from mindzoo.errors import UsageError

    assert device_card("Ascend", 3, "", distributed=False) == 3
    assert device_card("Ascend", -1, "5", distributed=False) == 5
    assert device_card("GPU", -1, "", distributed=False) is None
    assert device_card("Ascend", -1, "1", distributed=True) == 1
    assert device_card("CPU", 3, "1", distributed=False) is None  # CPU has no cards
    with pytest.raises(UsageError, match=r"^--device_id=3 conflicts with DEVICE_ID=1 set by the launcher"):
        device_card("Ascend", 3, "1", distributed=False)
    with pytest.raises(UsageError, match="would put every rank on one card"):
        device_card("Ascend", 2, "", distributed=True)


def test_a_config_files_device_id_gives_way_to_the_launchers_and_the_command_lines_does_not(monkeypatch, tmp_path):
    """The model zoo's YAML carries device_id: 0; run_standalone_train.sh 3 ... exports DEVICE_ID=3."""
    from mindzoo.cli.train import yield_device_id_to_launcher

    zoo = tmp_path / "zoo.yaml"
    zoo.write_text("device_id: 0\n")
    argv = [f"--config_path={zoo}"]
    monkeypatch.setenv("DEVICE_ID", "3")
    cfg = load_config(argv)
    yield_device_id_to_launcher(cfg, argv)
    assert cfg.device_id == -1
    argv = ["--device_id=2"]
    cfg = load_config(argv)
    yield_device_id_to_launcher(cfg, argv)
    assert cfg.device_id == 2  # kept: set_mindspore_context refuses the conflict with DEVICE_ID=3

"""The training engine: read points (host loop and the sink grid), resume arithmetic, per-device configs,
fusion splits, and an in-process run that reads only on a sink-like grid and resumes at a grid point.

Dataset sink mode itself (``mindspore.data_sink``) needs Ascend or GPU and never runs here; what it relies on
(the read-point plan with ``granularity = sink_size``, resume at a sink boundary) runs through the host loop.
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
    ("--sink_size=-1", "sink_size must be 0 (off) or positive"),
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
            ("Ascend", "O3", "fixed", 1024.0, 0), name
    for name in ("resnet50", "resnext152_64x4d", "demo_resnet18"):
        cfg = load_config([f"--config_path={configs / (name + '.yaml')}"])
        assert (cfg.device_target, cfg.amp_level) == ("CPU", "O0"), name


# ---------------------------------------------------------------- a real run on a sink-like grid


TINY = ["--net_name=resnet18", "--num_classes=4", "--train_image_size=32", "--batch_size=4", "--epoch_size=2",
        "--lr=0.4", "--warmup_epochs=1", "--log_interval=5", "--num_parallel_workers=1", "--run_eval=False",
        "--save_checkpoint_steps=4", "--keep_checkpoint_max=20"]


def _fit(args: List[str], granularity: int = 1):
    """build_run + fit in this process, reading the host only every ``granularity`` steps (as sink mode does)."""
    from mindzoo.train.callbacks import Callback
    from mindzoo.train.engine import build_run, default_callbacks, fit
    from mindzoo.train.stepping import HostStepper, MonitoredStep

    class Reads(Callback):
        def __init__(self) -> None:
            self.steps: List[tuple] = []

        def on_read(self, run, readout) -> None:
            self.steps.append((readout.epoch, readout.step, readout.overflows, np.isfinite(readout.loss_sum)))

    run = build_run(load_config(args))
    seen = Reads()
    fit(run, [*default_callbacks(run), seen], HostStepper(MonitoredStep(run.train_step), granularity))
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


def test_sink_mode_on_ascend_and_gpu_and_the_host_loop_on_cpu():
    """Stepper choice by device; on CPU MindSpore itself refuses data_sink, which is why CPU runs the host loop."""
    import mindspore as ms
    from mindspore import nn

    from mindzoo.train.amp import build_train_step
    from mindzoo.train.loss import CrossEntropySmooth
    from mindzoo.train.optim import build_optimizer
    from mindzoo.train.stepping import HostStepper, MonitoredStep, SinkStepper, make_stepper

    net = nn.Dense(3, 2)
    step = MonitoredStep(build_train_step(net, CrossEntropySmooth(2), build_optimizer(net, 0.1, 0.9, 0.0)))
    cpu = make_stepper("CPU", step, 4, 12)
    assert isinstance(cpu, HostStepper) and cpu.granularity == 1
    gpu, ascend = make_stepper("GPU", step, 4, 12), make_stepper("Ascend", step, 0, 12)
    assert isinstance(gpu, SinkStepper) and gpu.granularity == 4
    assert isinstance(ascend, SinkStepper) and ascend.granularity == 12  # sink_size 0: one sink an epoch
    dataset = ms.dataset.NumpySlicesDataset({"x": np.ones((4, 3), np.float32), "y": np.zeros(4, np.int32)},
                                            shuffle=False).batch(2)
    with pytest.raises(ValueError, match="Data sinking supports ascend or gpu device target"):
        gpu.start_epoch(dataset)

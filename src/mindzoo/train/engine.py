"""The one training engine: :func:`build_run` turns a Config into a run, :func:`fit` trains it with
``mindspore.train.Model.train``.

train.py (``mindzoo.cli.train``), the FixRes fine-tune (train.py with ``--fixres_finetune=True``), the
quickstart and demos (through train.py), the benchmarks (bench/engine.py) and the tests all go through here.

How it trains. One ``Model(MonitoredStep(TrainStep))`` per run, no loss or optimizer given to Model: the
``TrainStep`` Cell (``mindzoo.train.amp``) is the whole step (AMP, loss scale, gradient all-reduce) and returns
``(loss, overflow, scale)``. Exact resume needs each epoch's data order to depend on the seed and the epoch
only, so :func:`fit` calls ``Model.train`` once per epoch with that epoch's pipeline, seeded ``seed + epoch``
(a mid-epoch resume skips the batches already consumed), with ``dataset_sink_mode`` and ``sink_size`` from the
config. On Ascend/GPU MindSpore then sinks ``sink_size`` steps per host call; on CPU it runs its own host loop
inside the same call (said once in the log). Each call is ``initial_epoch=0`` with as many Model epochs as
sinks: Model.train sizes the sink's device queue from ``epoch * sink_size`` (the final epoch, not the count), so
an ``initial_epoch > 0`` would make it send batches nobody consumes. The position across calls is kept by
``mindzoo.train.callbacks.Tracker``.

Public API (what bench/ times):

- ``build_run(cfg, write_outputs=True) -> Run``: context, ranks, network, data, LR, loss, optimizer, the
  train step (``run.train_step``: the bare ``TrainStep`` Cell, ``step(images, labels) -> (loss, overflow,
  scale)``; ``run.monitor`` wraps it for Model), checkpoints, resume state, identical parameters on every rank.
- ``build_network(cfg)`` and ``make_train_step(cfg, net, steps_per_epoch, global_batch)``: the same network and
  train step without data (synthetic-input benchmarks); ``train_data(cfg, net).train_dataset(epoch)``: the
  training pipeline alone.
- ``fit(run, callbacks=None) -> Position``: the training (``callbacks=[]``: no logs, metrics or checkpoints).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from mindzoo.config import Config, dump_config
from mindzoo.data import ImageFolderInfo
from mindzoo.runtime import DistInfo
from mindzoo.errors import CheckpointError
from mindzoo.train.callbacks import (
    Callback, CheckpointCallback, CurvesCallback, EvalCallback, LogCallback, MetricsWriter, Tracker, read_metrics,
)
from mindzoo.train.checks import TrainInputs, check_train_config, check_train_inputs
from mindzoo.train.recipes import (
    build_loss_fn, network_options, optimizer_options, step_options, transform_options,
)
from mindzoo.train.resume import CheckpointManager, Position, config_changes, explicit_resume_path
from mindzoo.train.run import Run, TrainData, is_sinking
from mindzoo.weights.naming import AUTO, CKPT_PATTERN, checkpoint_name
from mindzoo.train.stepping import MonitoredStep, ReadPlan, SinkGrid, sink_grid

logger = logging.getLogger("mindzoo")


# ---------------------------------------------------------------- building a run


def build_network(cfg: Config):
    """``create_model`` with the config's weights (``pretrained``) and architecture options."""
    from mindzoo.models import create_model

    net = create_model(cfg.net_name, num_classes=cfg.num_classes, zero_init_last_bn=cfg.zero_init_last_bn,
                       pretrained=cfg.pretrained or None, **network_options(cfg))
    if cfg.pretrained:
        logger.info("loaded weights from %s", cfg.pretrained)
    return net


def base_learning_rate(cfg: Config, global_batch: int) -> float:
    from mindzoo.train.lr import scale_lr

    return scale_lr(cfg.lr, global_batch, cfg.lr_base_batch) if cfg.lr_base_batch else cfg.lr


def make_train_step(cfg: Config, net, steps_per_epoch: int, global_batch: int) -> Tuple[Any, np.ndarray]:
    """The LR array (indexed by global step), loss, optimizer and ``TrainStep`` of the config, in train mode."""
    from mindzoo.train.amp import build_train_step
    from mindzoo.train.fixres import freeze_for_fixres
    from mindzoo.train.lr import build_lr_schedule
    from mindzoo.train.optim import build_optimizer

    lr = build_lr_schedule(cfg.lr_schedule, base_learning_rate(cfg, global_batch), steps_per_epoch, cfg.epoch_size,
                           cfg.warmup_epochs, cfg.warmup_lr_init, cfg.lr_milestones, cfg.lr_gamma, cfg.eta_min,
                           cfg.poly_power)
    if cfg.fixres_finetune:
        freeze_for_fixres(net)  # before the optimizer: it takes only the trainable parameters; immune to set_train
    # the FixRes reference fine-tune decays every parameter it trains (fc.bias included)
    optimizer = build_optimizer(net, lr, cfg.momentum, cfg.weight_decay, cfg.nesterov, decay_all=cfg.fixres_finetune,
                                **optimizer_options(cfg))
    loss_fn = build_loss_fn(cfg)
    train_step = build_train_step(net, loss_fn, optimizer, cfg.amp_level, cfg.loss_scale_type, cfg.loss_scale,
                                  cfg.scale_factor, cfg.scale_window, **step_options(cfg))
    return train_step, lr


def reduced_gradients(cfg: Config, net) -> int:
    """How many gradients the train step all-reduces: the trainable parameters (FixRes: the classifier's)."""
    if cfg.fixres_finetune:
        from mindzoo.train.fixres import freeze_for_fixres

        freeze_for_fixres(net)
    return len(net.trainable_params())


def _build_data(cfg: Config, net, dist: DistInfo, train_info: ImageFolderInfo,
                val_info: Optional[ImageFolderInfo]) -> TrainData:
    """Transforms from the network's data config; eval geometry from ``mindzoo.data.geometry``."""
    from mindzoo.data import fixres_finetune_transforms, geometry_from_config, train_transforms

    geometry = geometry_from_config(net.data_config, cfg)
    if cfg.fixres_finetune:
        size = geometry.crop_size
        transforms = fixres_finetune_transforms(geometry, cfg.fixres_flip, cfg.fixres_color_jitter)
    else:
        size = cfg.train_image_size or net.data_config.input_size
        transforms = train_transforms(size, net.data_config, cfg.color_jitter, cfg.random_augment,
                                      cfg.train_crop_scale, cfg.hflip_prob, **transform_options(cfg))
    return TrainData(Path(cfg.data_path), train_info, val_info, transforms, size, geometry, cfg, dist.shard())


def train_data(cfg: Config, net, dist: DistInfo = DistInfo()) -> TrainData:
    """The config's checked folders and pipelines for ``net`` (benchmarks; build_run checks the folders earlier)."""
    inputs = check_train_inputs(cfg, write_outputs=False)
    return _build_data(cfg, net, dist, inputs.train, inputs.val)


def _start_outputs(cfg: Config, output_dir: Path, dist: DistInfo, train_info: ImageFolderInfo) -> None:
    from mindzoo.runtime import setup_logging

    setup_logging(output_dir / f"train_rank{dist.rank}.log")
    if dist.is_main:
        dump_config(cfg, output_dir / "config.yaml")
    logger.info("rank %d/%d, %s classes, %d training images, config: %s", dist.rank, dist.group_size,
                train_info.num_classes, train_info.num_images, dict(cfg))


def resolve_resume(cfg: Config, checkpoints: CheckpointManager, dist: DistInfo) -> Optional[Path]:
    """``--resume_ckpt=PATH``, or ``auto``: the newest checkpoint in output_dir (none: a fresh start).

    Distributed, ``auto`` is decided once, by rank 0, and every rank loads that checkpoint (the launchers
    already pass rank 0's choice as a path; this covers a bare ``msrun train.py``).
    """
    if not cfg.resume_ckpt:
        return None
    if cfg.resume_ckpt != AUTO:
        return explicit_resume_path(cfg.resume_ckpt)
    newest = checkpoints.latest()
    return _rank0_checkpoint(newest, checkpoints, dist) if dist.distributed else newest


def _rank0_checkpoint(newest: Optional[Path], checkpoints: CheckpointManager, dist: DistInfo) -> Optional[Path]:
    from mindzoo.distributed import broadcast_ints

    match = CKPT_PATTERN.match(newest.name) if newest is not None else None
    epoch, step = broadcast_ints([int(match["epoch"]), int(match["step"])] if match else [-1, -1])
    if epoch < 0:
        return None
    path = checkpoints.directory / checkpoint_name(checkpoints.net_name, epoch, step)
    if not path.is_file():
        raise CheckpointError(f"rank {dist.rank}: rank 0 resumes from {path.name} but {path} does not exist here; "
                              "pass the same checkpoint to every rank with --resume_ckpt=PATH")
    return path


def _resume(cfg: Config, train_step, checkpoints: CheckpointManager, dist: DistInfo,
            steps_per_epoch: int) -> Tuple[Position, Optional[Path]]:
    """The position to start from: a fresh one, or the resumed checkpoint's (its state loaded into ``train_step``).

    The checkpoint gives the state; the command line gives the schedule: one log line per config key that
    differs from the one the checkpoint recorded.
    """
    from mindzoo.train.resume import restore_position

    path = resolve_resume(cfg, checkpoints, dist)
    if path is None:
        return Position(), None
    position, recorded = restore_position(train_step, path, steps_per_epoch, cfg.loss_scale_type)
    logger.info("resumed from %s at epoch %d step %d/%d, global step %d", path, position.epochs_done + 1,
                position.step_in_epoch, steps_per_epoch, position.global_step)
    if recorded is None:
        logger.info("resume: %s records no config; the schedule is this command line's", path.name)
    for line in config_changes(recorded or {}, dict(cfg)):
        logger.info("resume: %s", line)
    return position, path


def build_run(cfg: Config, write_outputs: bool = True, inputs: Optional[TrainInputs] = None) -> Run:
    """Check the config and data, start MindSpore (and the ranks), build everything and restore a resume.

    ``write_outputs=False`` (benchmarks) leaves logging, config.yaml and the output directory alone. ``inputs``:
    what train.py already checked with :func:`check_train_inputs` before MindSpore loaded (checked here if None).
    """
    from mindzoo.distributed import broadcast_from_rank0, set_all_reduce_fusion
    from mindzoo.runtime import init_data_parallel, set_mindspore_context

    check_train_config(cfg)
    inputs = inputs or check_train_inputs(cfg, write_outputs)
    output_dir, train_info, val_info = inputs.output_dir, inputs.train, inputs.val
    set_mindspore_context(cfg.device_target, cfg.mode, cfg.seed, cfg.device_id, cfg.run_distribute)
    dist = init_data_parallel(cfg.run_distribute)
    if write_outputs:
        _start_outputs(cfg, output_dir, dist, train_info)
    net = build_network(cfg)
    data = _build_data(cfg, net, dist, train_info, val_info)
    steps_per_epoch = data.train_dataset(0).get_dataset_size()
    if dist.distributed:
        set_all_reduce_fusion(cfg.all_reduce_fusion_config, reduced_gradients(cfg, net))
    global_batch = cfg.batch_size * dist.group_size
    train_step, lr = make_train_step(cfg, net, steps_per_epoch, global_batch)
    checkpoints = CheckpointManager(output_dir / "checkpoints", cfg.net_name, cfg.keep_checkpoint_max)
    position, resume_path = _resume(cfg, train_step, checkpoints, dist, steps_per_epoch)
    if dist.distributed:
        broadcast_from_rank0(train_step.get_parameters())()  # every rank starts from rank 0's state
    logger.info("training %s: %d epochs x %d steps, global batch %d, base lr %.5f (%s), image %d, eval image %d",
                cfg.net_name, cfg.epoch_size, steps_per_epoch, global_batch, base_learning_rate(cfg, global_batch),
                cfg.lr_schedule, data.train_size, data.eval_geometry.crop_size)
    sinking = is_sinking(cfg)
    grid = sink_grid(steps_per_epoch, cfg.sink_size, sinking, cfg.log_interval, cfg.save_checkpoint_steps)
    _log_sink_mode(cfg, grid, sinking)
    return Run(cfg, dist, output_dir, net, train_step, lr, data, steps_per_epoch, checkpoints, position,
               MonitoredStep(train_step), grid, resume_path)


def _log_sink_mode(cfg: Config, grid: SinkGrid, sinking: bool) -> None:
    """One line on how Model.train will run, and one per read interval the sinks move."""
    if sinking:
        logger.info("dataset sink mode: %d steps per sink (sink_size=%d)", grid.sink_size, cfg.sink_size)
    elif cfg.dataset_sink_mode:
        logger.info("dataset_sink_mode=True: MindSpore runs its host loop on %s (sinks need Ascend or GPU); "
                    "sink_size unused, the host reads every step it needs", cfg.device_target)
    else:
        logger.info("dataset_sink_mode=False: MindSpore's host loop")
    for note in grid.notes:
        logger.info("%s", note)


# ---------------------------------------------------------------- fitting


def default_callbacks(run: Run) -> List[Callback]:
    """Step/epoch logs and metrics.jsonl, eval-while-train (``run_eval``), checkpoints, curves.png (rank 0)."""
    metrics_path = run.output_dir / "metrics.jsonl"
    if run.dist.is_main:
        keep_history(metrics_path, run.position.global_step if run.resumed_from else 0)
    metrics = MetricsWriter(metrics_path if run.dist.is_main else None)
    callbacks: List[Callback] = [LogCallback(run, metrics)]
    if run.cfg.run_eval:
        callbacks.append(EvalCallback(run, metrics))
    callbacks.append(CheckpointCallback())
    if run.dist.is_main:
        callbacks.append(CurvesCallback(metrics_path, run.output_dir / "curves.png"))
    return callbacks


def keep_history(metrics_path: Path, global_step: int) -> None:
    """A fresh run starts a fresh metrics.jsonl; a resumed one keeps the records up to its checkpoint's step
    (a killed run may have logged past it; the resumed run logs those steps again)."""
    if not metrics_path.exists():
        return
    if global_step == 0:
        metrics_path.unlink()
        return
    kept = [r for r in read_metrics(metrics_path) if r.get("global_step", 0) <= global_step]
    metrics_path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")


def fit(run: Run, callbacks: Optional[Sequence[Any]] = None, read_grid: int = 0) -> Position:
    """Train from ``run.position`` to ``epoch_size`` through ``Model.train``, one call per epoch.

    ``callbacks`` (``mindspore.train.Callback``; ours are :class:`~mindzoo.train.callbacks.Callback`) default
    to :func:`default_callbacks`. ``read_grid`` (tests) makes the host loop read only on a grid of that many
    steps, as a sink of that size would.
    """
    if run.position.epochs_done >= run.cfg.epoch_size:
        logger.info("nothing to do: %s already finished %d epochs", run.resumed_from, run.position.epochs_done)
        return run.position
    callbacks = default_callbacks(run) if callbacks is None else list(callbacks)
    grid = run.grid
    plan = ReadPlan(run.steps_per_epoch, grid.log_interval, grid.checkpoint_steps, read_grid or grid.sink_size)
    tracker = Tracker(run, plan)
    while run.position.epochs_done < run.cfg.epoch_size:
        train_epoch(run, [tracker, *callbacks])
    return run.position


def train_epoch(run: Run, callbacks: Sequence[Any]) -> None:
    """One ``Model.train`` call over the rest of the current epoch, on that epoch's freshly seeded pipeline."""
    position = run.position
    dataset = run.data.train_dataset(position.epochs_done, skip=position.step_in_epoch)
    remaining = run.steps_per_epoch - position.step_in_epoch
    if run.sinking:  # Model epochs are sinks; a resumed position is always on the sink grid
        model_epochs, sink_size = remaining // run.grid.sink_size, run.grid.sink_size
    else:  # the host loop: one Model epoch is one pass over the dataset
        model_epochs, sink_size = 1, -1
    run.model.train(model_epochs, dataset, callbacks=list(callbacks), dataset_sink_mode=run.cfg.dataset_sink_mode,
                    sink_size=sink_size)

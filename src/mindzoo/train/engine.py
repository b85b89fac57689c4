"""The one training engine: :func:`build_run` turns a Config into a run, :func:`fit` trains it with callbacks.

train.py (``mindzoo.cli.train``), the FixRes fine-tune (train.py with ``--fixres_finetune=True``), the
benchmarks (bench/train.py) and the tests all go through here, on every device.

Why not ``mindspore.train.Model.train``. Exact resume needs each epoch's data order to depend on the seed and
the epoch only, so every epoch gets its own pipeline seeded ``seed + epoch`` (and a mid-epoch resume skips the
batches already consumed). ``Model.train`` iterates one dataset for all its epochs (epoch ``e``'s order would
depend on the pipeline's history), so it would have to be called once per epoch with a new dataset; it would
also restart its step counters on each call and set the whole network to training mode
(``Model._exec_preprocess``), which undoes the FixRes fine-tune's frozen BatchNorms. Our loop is small, keeps
MindSpore's callback shape (``mindzoo.train.callbacks``) and uses ``mindspore.data_sink`` for sink mode
(``mindzoo.train.stepping``).

Public API (what bench/ times):

- ``build_run(cfg, write_outputs=True) -> Run``: context, ranks, network, data, LR, loss, optimizer, the
  train step (``run.train_step``: the bare ``TrainStep`` Cell, ``step(images, labels) -> (loss, overflow,
  scale)``), checkpoints, resume state, identical parameters on every rank.
- ``build_network(cfg)`` and ``make_train_step(cfg, net, steps_per_epoch, global_batch)``: the same network and
  train step without data (synthetic-input benchmarks); ``train_data(cfg, net).train_dataset(epoch)``: the
  training pipeline alone.
- ``fit(run, callbacks=None, stepper=None) -> Position``: the training loop (``callbacks=[]``: no logs,
  metrics or checkpoints; ``stepper``: e.g. ``HostStepper(MonitoredStep(run.train_step))``).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mindzoo.config import Config, dump_config
from mindzoo.data import ImageFolderInfo
from mindzoo.distributed import DistInfo
from mindzoo.errors import CheckpointError, MindzooError
from mindzoo.train.callbacks import (
    Callback, CheckpointCallback, CheckpointManager, CurvesCallback, EvalCallback, LogCallback, MetricsWriter,
)
from mindzoo.train.checks import check_train_config
from mindzoo.train.recipes import (
    build_loss_fn, mix_batches, network_options, optimizer_options, step_options, transform_options,
)
from mindzoo.train.resume import AUTO, CKPT_PATTERN, Position, checkpoint_name, explicit_resume_path
from mindzoo.train.stepping import MonitoredStep, ReadPlan, Readout, make_stepper

logger = logging.getLogger("mindzoo")


@dataclass
class TrainData:
    """The training split's pipelines (one per epoch, seeded by epoch) and the validation pipeline."""

    root: Path
    train_info: ImageFolderInfo
    val_info: Optional[ImageFolderInfo]
    train_transforms: list
    train_size: int
    eval_geometry: Any  # mindzoo.data.EvalGeometry
    cfg: Config
    shard: Dict[str, int]

    def train_dataset(self, epoch: int, skip: int = 0):
        """Epoch ``epoch``'s batches (0-based), the first ``skip`` dropped: a resumed run replays this order."""
        import mindspore as ms

        from mindzoo.data import create_dataset

        cfg = self.cfg
        ms.dataset.config.set_seed(cfg.seed + epoch)
        dataset = create_dataset(str(self.root), "train", self.train_transforms, cfg.batch_size,
                                 shuffle=cfg.train_shuffle, num_parallel_workers=cfg.num_parallel_workers,
                                 drop_remainder=True, info=self.train_info, **self.shard)
        dataset = mix_batches(cfg, dataset, epoch)
        return dataset.skip(skip) if skip else dataset

    def eval_dataset(self):
        """Every val image once across the ranks, in order."""
        from mindzoo.data import create_dataset, geometry_transforms

        cfg = self.cfg
        return create_dataset(str(self.root), "val", geometry_transforms(self.eval_geometry), cfg.eval_batch_size,
                              shuffle=False, num_parallel_workers=cfg.num_parallel_workers, drop_remainder=False,
                              info=self.val_info, **self.shard)


@dataclass
class EpochSummary:
    epoch: int  # 1-based
    steps: int  # steps this process ran in the epoch (fewer after a mid-epoch resume)
    mean_loss: float
    seconds: float
    last_read: Readout


@dataclass
class Run:
    """Everything :func:`fit` needs; ``position`` advances as it trains."""

    cfg: Config
    dist: DistInfo
    output_dir: Path
    net: Any
    train_step: Any
    lr: np.ndarray
    data: TrainData
    steps_per_epoch: int
    checkpoints: CheckpointManager
    position: Position
    resumed_from: Optional[Path] = None
    _sync_bn: Optional[Callable[[], None]] = field(default=None, repr=False)
    _synced_at: int = field(default=-1, repr=False)

    @property
    def global_batch(self) -> int:
        return self.cfg.batch_size * self.dist.group_size

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.cfg.epoch_size

    def sync_statistics(self) -> None:
        """Give every rank rank 0's BatchNorm statistics (what rank 0 checkpoints), once per global step."""
        if not self.dist.distributed or self._synced_at == self.position.global_step:
            return
        if self._sync_bn is None:
            from mindzoo.distributed import batchnorm_statistics, broadcast_from_rank0

            self._sync_bn = broadcast_from_rank0(batchnorm_statistics(self.net))
        self._sync_bn()
        self._synced_at = self.position.global_step


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
        freeze_for_fixres(net)  # before the optimizer: it takes only the trainable parameters
    # the FixRes reference fine-tune decays every parameter it trains (fc.bias included)
    optimizer = build_optimizer(net, lr, cfg.momentum, cfg.weight_decay, cfg.nesterov, decay_all=cfg.fixres_finetune,
                                **optimizer_options(cfg))
    loss_fn = build_loss_fn(cfg)
    train_step = build_train_step(net, loss_fn, optimizer, cfg.amp_level, cfg.loss_scale_type, cfg.loss_scale,
                                  cfg.scale_factor, cfg.scale_window, **step_options(cfg))
    if cfg.fixres_finetune:
        freeze_for_fixres(net)  # the train step switched the whole net to training mode
    return train_step, lr


def _validate_folders(cfg: Config) -> Tuple[ImageFolderInfo, Optional[ImageFolderInfo]]:
    """Check train/ (and val/ for eval-while-train) before MindSpore starts."""
    from mindzoo.data import validate_image_folder

    root = Path(cfg.data_path)
    train = validate_image_folder(root / "train", cfg.num_classes, skip_bad_images=cfg.skip_bad_images)
    val = (validate_image_folder(root / "val", cfg.num_classes, skip_bad_images=cfg.skip_bad_images)
           if cfg.run_eval else None)
    return train, val


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
    shard = dict(num_shards=dist.group_size, shard_id=dist.rank) if dist.distributed else {}
    return TrainData(Path(cfg.data_path), train_info, val_info, transforms, size, geometry, cfg, shard)


def train_data(cfg: Config, net, dist: DistInfo = DistInfo()) -> TrainData:
    """The config's checked folders and pipelines for ``net`` (benchmarks; build_run checks the folders earlier)."""
    return _build_data(cfg, net, dist, *_validate_folders(cfg))


def _start_outputs(cfg: Config, output_dir: Path, dist: DistInfo, train_info: ImageFolderInfo) -> None:
    from mindzoo.cli.common import setup_logging

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
    """The position to start from: a fresh one, or the resumed checkpoint's (loaded into ``train_step``)."""
    from mindzoo.train.resume import restore_position

    path = resolve_resume(cfg, checkpoints, dist)
    if path is None:
        return Position(), None
    position = restore_position(train_step, path, steps_per_epoch)
    logger.info("resumed from %s at epoch %d step %d/%d, global step %d", path, position.epochs_done + 1,
                position.step_in_epoch, steps_per_epoch, position.global_step)
    return position, path


def build_run(cfg: Config, write_outputs: bool = True) -> Run:
    """Check the config and data, start MindSpore (and the ranks), build everything and restore a resume.

    ``write_outputs=False`` (benchmarks) leaves logging, config.yaml and the output directory alone.
    """
    from mindzoo.cli.common import ensure_writable_dir, set_mindspore_context
    from mindzoo.distributed import broadcast_from_rank0, init_data_parallel, set_all_reduce_fusion

    check_train_config(cfg)
    output_dir = ensure_writable_dir(Path(cfg.output_dir)) if write_outputs else Path(cfg.output_dir)
    train_info, val_info = _validate_folders(cfg)
    set_mindspore_context(cfg.device_target, cfg.mode, cfg.seed)
    dist = init_data_parallel(cfg.run_distribute)
    if write_outputs:
        _start_outputs(cfg, output_dir, dist, train_info)
    net = build_network(cfg)
    data = _build_data(cfg, net, dist, train_info, val_info)
    steps_per_epoch = data.train_dataset(0).get_dataset_size()
    if dist.distributed:
        set_all_reduce_fusion(cfg.all_reduce_fusion_config, len(net.trainable_params()))
    global_batch = cfg.batch_size * dist.group_size
    train_step, lr = make_train_step(cfg, net, steps_per_epoch, global_batch)
    checkpoints = CheckpointManager(output_dir / "checkpoints", cfg.net_name, cfg.keep_checkpoint_max)
    position, resume_path = _resume(cfg, train_step, checkpoints, dist, steps_per_epoch)
    if dist.distributed:
        broadcast_from_rank0(train_step.get_parameters())()  # every rank starts from rank 0's state
    logger.info("training %s: %d epochs x %d steps, global batch %d, base lr %.5f (%s), image %d, eval image %d",
                cfg.net_name, cfg.epoch_size, steps_per_epoch, global_batch, base_learning_rate(cfg, global_batch),
                cfg.lr_schedule, data.train_size, data.eval_geometry.crop_size)
    return Run(cfg, dist, output_dir, net, train_step, lr, data, steps_per_epoch, checkpoints, position, resume_path)


# ---------------------------------------------------------------- fitting


def default_callbacks(run: Run) -> List[Callback]:
    """Step/epoch logs and metrics.jsonl, eval-while-train (``run_eval``), checkpoints, curves.png (rank 0)."""
    metrics_path = run.output_dir / "metrics.jsonl"
    if run.dist.is_main and run.resumed_from is None and metrics_path.exists():
        metrics_path.unlink()  # a fresh run starts a fresh history; a resumed one appends
    metrics = MetricsWriter(metrics_path if run.dist.is_main else None)
    callbacks: List[Callback] = [LogCallback(run, metrics)]
    if run.cfg.run_eval:
        callbacks.append(EvalCallback(run, metrics))
    callbacks.append(CheckpointCallback())
    if run.dist.is_main:
        callbacks.append(CurvesCallback(metrics_path, run.output_dir / "curves.png"))
    return callbacks


def default_stepper(run: Run):
    """Sink mode on Ascend/GPU, the host loop on CPU (``sink_size`` is then unused and says so)."""
    from mindzoo.train.stepping import SINK_DEVICES

    stepper = make_stepper(run.cfg.device_target, MonitoredStep(run.train_step), run.cfg.sink_size,
                           run.steps_per_epoch)
    if run.cfg.device_target in SINK_DEVICES:
        logger.info("dataset sink mode: host reads every %d steps at most (sink_size=%d)", stepper.granularity,
                    run.cfg.sink_size)
    elif run.cfg.sink_size:
        logger.info("sink_size=%d ignored: dataset sink mode needs Ascend or GPU; %s runs the host loop",
                    run.cfg.sink_size, run.cfg.device_target)
    return stepper


def fit(run: Run, callbacks: Optional[Sequence[Callback]] = None, stepper=None) -> Position:
    """Train from ``run.position`` to ``epoch_size``; ``callbacks`` default to :func:`default_callbacks`."""
    if run.position.epochs_done >= run.cfg.epoch_size:
        logger.info("nothing to do: %s already finished %d epochs", run.resumed_from, run.position.epochs_done)
        return run.position
    callbacks = default_callbacks(run) if callbacks is None else list(callbacks)
    stepper = stepper or default_stepper(run)
    plan = ReadPlan(run.steps_per_epoch, run.cfg.log_interval, run.cfg.save_checkpoint_steps, stepper.granularity)
    _notify(callbacks, "on_train_begin", run)
    while run.position.epochs_done < run.cfg.epoch_size:
        summary = train_epoch(run, stepper, plan, callbacks)
        _notify(callbacks, "on_epoch_end", run, summary)
    _notify(callbacks, "on_train_end", run)
    return run.position


def train_epoch(run: Run, stepper, plan: ReadPlan, callbacks: Sequence[Callback]) -> EpochSummary:
    """The rest of the current epoch, from ``run.position``, reading the host only at the plan's read points."""
    position = run.position
    enter_training_mode(run, stepper.step)
    stepper.start_epoch(run.data.train_dataset(position.epochs_done, skip=position.step_in_epoch))
    epoch_start = window_start = time.time()
    steps_run, loss_total, readout = 0, 0.0, None
    while position.step_in_epoch < run.steps_per_epoch:
        steps = plan.next_read(position.step_in_epoch, position.global_step) - position.step_in_epoch
        stepper.run(steps)
        position.advance(steps)
        readout = _readout(position, steps, time.time() - window_start, stepper.read())
        check_finite(run.cfg, readout)
        steps_run, loss_total = steps_run + steps, loss_total + readout.loss_sum
        _notify(callbacks, "on_read", run, readout)
        window_start = time.time()
    stepper.end_epoch()
    position.finish_epoch()
    return EpochSummary(position.epochs_done, steps_run, loss_total / max(steps_run, 1), time.time() - epoch_start,
                        readout)


def enter_training_mode(run: Run, cell) -> None:
    """Training mode for the step (evaluation switched it off); FixRes keeps all but the last BN frozen."""
    cell.set_train(True)
    if run.cfg.fixres_finetune:
        from mindzoo.train.fixres import freeze_for_fixres

        freeze_for_fixres(run.net)


def _readout(position: Position, steps: int, seconds: float, values: Tuple[float, float, int, bool, float]) -> Readout:
    loss, loss_sum, overflows, overflow, scale = values
    return Readout(position.epochs_done + 1, position.step_in_epoch, position.global_step, steps, seconds, loss,
                   loss_sum, overflows, overflow, scale)


def check_finite(cfg: Config, readout: Readout) -> None:
    """With a fixed loss scale a non-finite loss is fatal; it is seen at the first read point after it."""
    if cfg.loss_scale_type != "fixed" or math.isfinite(readout.loss_sum):
        return
    first = readout.step - readout.steps + 1
    raise MindzooError(
        f"loss became non-finite in epoch {readout.epoch} between steps {first} and {readout.step} (seen at the "
        f"next host read point) with a fixed loss scale of {cfg.loss_scale}; lower --lr, or use "
        "--loss_scale_type=dynamic with mixed precision; the last checkpoint is intact"
    )


def _notify(callbacks: Sequence[Callback], hook: str, run: Run, *args: Any) -> None:
    for callback in callbacks:
        getattr(callback, hook)(run, *args)

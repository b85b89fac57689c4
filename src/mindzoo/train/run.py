"""A training run's shared state: its data pipelines and :class:`Run`, what the engine builds and every callback
reads (its own module, so the engine and the callbacks both import it and not each other)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import numpy as np

from mindzoo.config import Config
from mindzoo.data import ImageFolderInfo
from mindzoo.runtime import DistInfo
from mindzoo.train.resume import CheckpointManager, Position, config_record
from mindzoo.train.stepping import SinkGrid

#: Devices where Model.train's dataset sink mode really sinks (on CPU MindSpore runs its host loop).
SINK_DEVICES = ("ASCEND", "GPU")

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
        from mindzoo.train.recipes import mix_batches

        cfg = self.cfg
        ms.dataset.config.set_seed(cfg.seed + epoch)
        dataset = create_dataset(str(self.root), "train", self.train_transforms, cfg.batch_size,
                                 shuffle=cfg.train_shuffle, num_parallel_workers=cfg.num_parallel_workers,
                                 drop_remainder=True, info=self.train_info, **self.shard)
        dataset = mix_batches(cfg, dataset, epoch)  # Mixup/CutMix (off by default), seeded by (seed, epoch)
        return dataset.skip(skip) if skip else dataset

    def eval_dataset(self):
        """Every val image once across the ranks, in order."""
        from mindzoo.data import create_dataset, geometry_transforms

        cfg = self.cfg
        return create_dataset(str(self.root), "val", geometry_transforms(self.eval_geometry), cfg.eval_batch_size,
                              shuffle=False, num_parallel_workers=cfg.num_parallel_workers, drop_remainder=False,
                              info=self.val_info, **self.shard)


def is_sinking(cfg: Config) -> bool:
    return bool(cfg.dataset_sink_mode) and cfg.device_target.upper() in SINK_DEVICES


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
    monitor: Any  # MonitoredStep(train_step): what Model.train runs
    grid: SinkGrid
    resumed_from: Optional[Path] = None
    _model: Any = field(default=None, repr=False)
    _sync_bn: Optional[Callable[[], None]] = field(default=None, repr=False)
    _synced_at: int = field(default=-1, repr=False)

    @property
    def global_batch(self) -> int:
        return self.cfg.batch_size * self.dist.group_size

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.cfg.epoch_size

    @property
    def sinking(self) -> bool:
        """Whether Model.train really sinks (dataset sink mode on a device that has it)."""
        return is_sinking(self.cfg)

    @property
    def model(self):
        """The run's one ``mindspore.train.Model`` (its graph compiles once, whatever the number of calls)."""
        if self._model is None:
            from mindspore.train import Model

            self._model = Model(self.monitor)
        return self._model

    def checkpoint_record(self) -> Dict[str, Any]:
        """The checkpoint's extra entries: the position and the run's config (what a resumed run compares)."""
        return {**self.position.record(), **config_record(self.cfg)}

    def sync_statistics(self) -> None:
        """Give every rank rank 0's BatchNorm statistics (what rank 0 checkpoints), once per global step."""
        if not self.dist.distributed or self._synced_at == self.position.global_step:
            return
        if self._sync_bn is None:
            from mindzoo.distributed import batchnorm_statistics, broadcast_from_rank0

            self._sync_bn = broadcast_from_rank0(batchnorm_statistics(self.net))
        self._sync_bn()
        self._synced_at = self.position.global_step

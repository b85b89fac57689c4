"""Where a run stands, how a checkpoint records it, and which checkpoint a resumed run starts from.

A train.py checkpoint holds the train-step Cell (weights, BatchNorm statistics, optimizer moments,
``global_step``, LR array, loss-scale state) plus the position: epochs done, steps done in the epoch under
way (0 for an epoch checkpoint; a step checkpoint of ``save_checkpoint_steps`` stops mid-epoch), the best
eval top-1 and the run's config (JSON). A resumed run rebuilds the interrupted epoch's pipeline with the same
seed and skips the steps already taken, so it continues on the same batches an unbroken run would see.

A resumed run follows the command line it is resumed with: the checkpoint gives the state (weights, BN
statistics, optimizer moments, ``global_step``, a dynamic loss scale's state) and the position; the LR array,
momentum, weight decay and a fixed loss scale are the current config's (:data:`FROM_CONFIG`), taken at the
resumed global step. So ``--epoch_size`` may grow and ``--lr`` may change; the global batch may not.

Names, listing and the newest checkpoint are :mod:`mindzoo.weights.naming`'s.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import json
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from mindzoo.errors import CheckpointError, UsageError
from mindzoo.weights.files import save_checkpoint_atomic
from mindzoo.weights.naming import checkpoint_name, list_checkpoints, newest_checkpoint

if TYPE_CHECKING:
    from mindspore import nn

EPOCHS_KEY = "mindzoo_epochs_done"
STEPS_KEY = "mindzoo_steps_in_epoch"
BEST_KEY = "mindzoo_best_top1"
CONFIG_KEY = "mindzoo_config"
#: Train-step Parameters a resumed run takes from its own config: the LR array (its length is the run's steps)
#: and SGD's momentum; with a fixed loss scale, the scale too (a dynamic scale is state and is restored).
FROM_CONFIG = ("learning_rate", "momentum")
FIXED_SCALE = ("loss_scale", "loss_scale_clean_steps")
#: Config keys a checkpoint does not record: where a run writes and what it resumed from, not how it trains
#: (so an unbroken run and a resumed one write identical checkpoints).
UNRECORDED = ("output_dir", "resume_ckpt")


@dataclass
class Position:
    """Progress of a run; ``step_in_epoch`` counts the steps done of epoch ``epochs_done + 1``."""

    epochs_done: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_top1: float = -1.0

    def advance(self, steps: int) -> None:
        self.step_in_epoch += steps
        self.global_step += steps

    def finish_epoch(self) -> None:
        self.epochs_done += 1
        self.step_in_epoch = 0

    def label(self, steps_per_epoch: int) -> Tuple[int, int]:
        """``(epoch, step)`` of the checkpoint name: the last step taken, 1-based epoch."""
        if self.step_in_epoch == 0 and self.epochs_done > 0:
            return self.epochs_done, steps_per_epoch
        return self.epochs_done + 1, self.step_in_epoch

    def record(self) -> Dict[str, float]:
        """The extra checkpoint entries (the global step is the optimizer's own Parameter)."""
        return {EPOCHS_KEY: self.epochs_done, STEPS_KEY: self.step_in_epoch, BEST_KEY: self.best_top1}


def explicit_resume_path(resume_ckpt: str) -> Path:
    path = Path(resume_ckpt)
    if not path.is_file():
        raise UsageError(f"resume_ckpt {path} does not exist")
    return path


def config_parameters(loss_scale_type: str) -> Tuple[str, ...]:
    """The train-step Parameters whose values come from the current config, not from the checkpoint."""
    return FROM_CONFIG + (FIXED_SCALE if loss_scale_type == "fixed" else ())


def config_record(config: Mapping[str, Any]) -> Dict[str, Any]:
    """The checkpoint entry recording a run's config: its JSON as a uint8 Tensor (every checkpoint value stays
    a Tensor, so readers that ``asnumpy()`` every entry keep working)."""
    import mindspore as ms
    import numpy as np

    text = json.dumps({k: v for k, v in config.items() if k not in UNRECORDED}, sort_keys=True, default=str)
    return {CONFIG_KEY: ms.Tensor(np.frombuffer(text.encode("utf-8"), np.uint8))}


def recorded_config(state: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The config a train.py checkpoint recorded (None for checkpoints written before it did)."""
    if CONFIG_KEY not in state:
        return None
    return json.loads(state[CONFIG_KEY].asnumpy().tobytes().decode("utf-8"))


def config_changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> List[str]:
    """``key old -> new`` for every config key the resumed run sets differently from the checkpoint's run."""
    return [f"{key} {recorded[key]} -> {current[key]}" for key in sorted(current)
            if key in recorded and recorded[key] != _comparable(current[key])]


def _comparable(value: Any) -> Any:
    """A config value as the checkpoint's JSON holds it."""
    return json.loads(json.dumps(value, default=str))


def restore_position(train_step: "nn.Cell", path: Path, steps_per_epoch: int,
                     loss_scale_type: str = "fixed") -> Tuple[Position, Optional[Dict[str, Any]]]:
    """Load a train.py checkpoint's state into ``train_step``; return where it stopped and its recorded config.

    The parameters of :func:`config_parameters` keep this run's values. The recorded position must agree with
    the optimizer's ``global_step`` at this run's steps per epoch: a different global batch (batch size x
    ranks) would replay other batches, so it is refused.
    """
    import mindspore as ms

    from mindzoo.weights.checkpoint import check_compatible
    from mindzoo.weights.files import read_checkpoint

    state = read_checkpoint(path)
    if EPOCHS_KEY not in state:
        raise UsageError(f"{path} is not a train.py checkpoint (no '{EPOCHS_KEY}'); "
                         "to start from its weights use --pretrained")
    own = {p.name: p for p in train_step.get_parameters()}
    from_config = [name for name in config_parameters(loss_scale_type) if name in own]
    current = {name: own[name] for name in from_config}  # loaded onto themselves: they keep this run's values
    check_compatible(train_step, {**state, **current}, str(path))
    ms.load_param_into_net(train_step, {**{k: v for k, v in state.items() if k in own}, **current})
    position = Position(
        epochs_done=int(state[EPOCHS_KEY].asnumpy()),
        step_in_epoch=int(state[STEPS_KEY].asnumpy()) if STEPS_KEY in state else 0,
        global_step=int(state["global_step"].asnumpy().reshape(-1)[0]),
        best_top1=float(state[BEST_KEY].asnumpy()) if BEST_KEY in state else -1.0,
    )
    expected = position.epochs_done * steps_per_epoch + position.step_in_epoch
    if position.global_step != expected or position.step_in_epoch >= steps_per_epoch:
        raise CheckpointError(
            f"{path} stopped at global step {position.global_step} (epoch {position.epochs_done + 1}, step "
            f"{position.step_in_epoch}), which does not fit this run's {steps_per_epoch} steps per epoch; resume "
            "with the batch_size and number of devices it was trained with, or start from its weights with "
            "--pretrained")
    return position, recorded_config(state)


class CheckpointManager:
    """Checkpoints ``<net>-<epoch>_<step>.ckpt`` (atomic, newest ``keep_max`` kept) and ``best_acc.ckpt``."""

    def __init__(self, directory: Path, net_name: str, keep_max: int) -> None:
        self.directory = Path(directory)
        self.net_name = net_name
        self.keep_max = max(1, keep_max)

    def save(self, save_obj: Any, epoch: int, step: int, append_dict: Dict[str, Any]) -> Path:
        path = save_checkpoint_atomic(save_obj, self.directory / checkpoint_name(self.net_name, epoch, step), append_dict)
        for old in self.epoch_checkpoints()[: -self.keep_max]:
            old.unlink()
        return path

    def save_best(self, save_obj: Any, append_dict: Dict[str, Any]) -> Path:
        return save_checkpoint_atomic(save_obj, self.directory / "best_acc.ckpt", append_dict)

    def epoch_checkpoints(self) -> List[Path]:
        """This run's epoch and step checkpoints, oldest first."""
        return list_checkpoints(self.directory, self.net_name)

    def latest(self) -> Optional[Path]:
        return newest_checkpoint(self.directory, self.net_name)

"""Per-step learning-rate schedules as float32 numpy arrays.

Every schedule returns one value per optimizer step, ``epochs * steps_per_epoch`` long, and is indexed by the
*global* step (0-based, counted from the start of training, not of the current run): a run resumed at global
step ``g`` uses ``lr[g]`` for its first step. ``nn.Momentum`` given this array as a Tensor looks the value up with
its ``global_step`` Parameter, so a resumed run must restore that Parameter (the train step also advances it on
steps it skips for loss-scale overflow, keeping the index equal to the number of steps taken).

Warmup is linear from ``warmup_lr_init`` to ``base_lr`` over the first ``warmup_steps``; the main schedule then
starts exactly at ``base_lr`` on step ``warmup_steps``. Milestones of the step schedule are absolute epochs
(warmup epochs included), as in ``torch.optim.lr_scheduler.MultiStepLR``.

``warmup_cosine_annealing`` and ``warmup_step`` are the mindspore/models ResNeXt152_64x4d schedules
(``src/lr_generator.py``; its ``lr_scheduler: cosine_annealing | exponential``), ported step for step: their
warmup reaches the base LR on its last step, the cosine moves once per epoch with its phase counted from epoch 0,
and a milestone that falls inside the warmup is lost.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Sequence

import numpy as np

from mindzoo.errors import ConfigError

SCHEDULES = ("constant", "step", "cosine", "poly", "warmup_cosine_annealing", "warmup_step")


def scale_lr(lr: float, global_batch: int, base_batch: int) -> float:
    """Linear scaling rule: ``lr * global_batch / base_batch``; ``base_batch <= 0`` disables it."""
    if base_batch <= 0:
        return float(lr)
    if global_batch <= 0:
        raise ConfigError(f"global batch size must be positive, got {global_batch}")
    return float(lr) * global_batch / base_batch


def warmup_lr(warmup_lr_init: float, base_lr: float, warmup_steps: int) -> np.ndarray:
    """Linear ramp ``init + (base - init) * i / warmup_steps`` for ``i < warmup_steps`` (``base`` is never reached
    here: it is the first value of the schedule that follows)."""
    steps = np.arange(warmup_steps, dtype=np.float64)
    return (warmup_lr_init + (base_lr - warmup_lr_init) * steps / max(warmup_steps, 1)).astype(np.float32)


def _split(steps_per_epoch: int, epochs: int, warmup_epochs: float) -> tuple:
    """Validate the sizes and return ``(total_steps, warmup_steps)``."""
    if steps_per_epoch < 1:
        raise ConfigError(f"steps_per_epoch must be >= 1, got {steps_per_epoch} (is the dataset smaller than a batch?)")
    if epochs < 1:
        raise ConfigError(f"epoch_size must be >= 1, got {epochs}")
    if warmup_epochs < 0 or warmup_epochs >= epochs:
        raise ConfigError(f"warmup_epochs must be in [0, epoch_size={epochs}), got {warmup_epochs}")
    total = epochs * steps_per_epoch
    return total, int(round(warmup_epochs * steps_per_epoch))


def _with_warmup(main: np.ndarray, warmup_lr_init: float, base_lr: float, warmup_steps: int) -> np.ndarray:
    return np.concatenate([warmup_lr(warmup_lr_init, base_lr, warmup_steps), main.astype(np.float32)])


def constant_lr(
    base_lr: float, steps_per_epoch: int, epochs: int, warmup_epochs: float = 0, warmup_lr_init: float = 0.0
) -> np.ndarray:
    """Warmup, then ``base_lr`` for every remaining step."""
    total, warm = _split(steps_per_epoch, epochs, warmup_epochs)
    return _with_warmup(np.full(total - warm, base_lr, dtype=np.float64), warmup_lr_init, base_lr, warm)


def step_lr(
    base_lr: float,
    steps_per_epoch: int,
    epochs: int,
    milestones: Sequence[int],
    gamma: float,
    warmup_epochs: float = 0,
    warmup_lr_init: float = 0.0,
) -> np.ndarray:
    """Warmup, then ``base_lr * gamma**k`` where ``k`` counts the milestone epochs already reached."""
    total, warm = _split(steps_per_epoch, epochs, warmup_epochs)
    if any(m < 0 for m in milestones):
        raise ConfigError(f"lr_milestones must be non-negative epochs, got {list(milestones)}")
    epoch_of_step = np.arange(warm, total) // steps_per_epoch
    passed = np.searchsorted(np.sort(np.asarray(milestones, dtype=np.int64)), epoch_of_step, side="right")
    return _with_warmup(base_lr * np.power(float(gamma), passed), warmup_lr_init, base_lr, warm)


def cosine_lr(
    base_lr: float,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float = 0,
    warmup_lr_init: float = 0.0,
    eta_min: float = 0.0,
) -> np.ndarray:
    """Warmup, then the half cosine ``eta_min + (base - eta_min) * (1 + cos(pi * t / T)) / 2``, ``t = 0..T-1``
    over the ``T`` steps after warmup."""
    total, warm = _split(steps_per_epoch, epochs, warmup_epochs)
    t = np.arange(total - warm, dtype=np.float64)
    main = eta_min + (base_lr - eta_min) * (1.0 + np.cos(math.pi * t / (total - warm))) / 2.0
    return _with_warmup(main, warmup_lr_init, base_lr, warm)


def poly_lr(
    base_lr: float,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float = 0,
    warmup_lr_init: float = 0.0,
    eta_min: float = 0.0,
    power: float = 2.0,
) -> np.ndarray:
    """Warmup, then ``eta_min + (base - eta_min) * (1 - t / T) ** power``, ``t = 0..T-1`` after warmup."""
    total, warm = _split(steps_per_epoch, epochs, warmup_epochs)
    t = np.arange(total - warm, dtype=np.float64)
    main = eta_min + (base_lr - eta_min) * np.power(1.0 - t / (total - warm), power)
    return _with_warmup(main, warmup_lr_init, base_lr, warm)


def _model_zoo_warmup(warmup_lr_init: float, base_lr: float, warmup_steps: int) -> np.ndarray:
    """The model zoo's ``linear_warmup_lr(i + 1, ...)``: ``init + (base - init) * (i + 1) / warmup_steps``."""
    steps = np.arange(1, warmup_steps + 1, dtype=np.float64)
    return warmup_lr_init + (base_lr - warmup_lr_init) * steps / max(warmup_steps, 1)


def warmup_cosine_annealing_lr(
    base_lr: float,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float = 0,
    warmup_lr_init: float = 0.0,
    eta_min: float = 0.0,
) -> np.ndarray:
    """The model zoo's ``warmup_cosine_annealing_lr`` with ``T_max = epochs``: after warmup, step ``i`` gets
    ``eta_min + (base - eta_min) * (1 + cos(pi * (i // steps_per_epoch) / epochs)) / 2``."""
    total, warm = _split(steps_per_epoch, epochs, warmup_epochs)
    epoch_of_step = np.arange(warm, total) // steps_per_epoch
    main = eta_min + (base_lr - eta_min) * (1.0 + np.cos(math.pi * epoch_of_step / epochs)) / 2.0
    return np.concatenate([_model_zoo_warmup(warmup_lr_init, base_lr, warm), main]).astype(np.float32)


def warmup_step_lr(
    base_lr: float,
    steps_per_epoch: int,
    epochs: int,
    milestones: Sequence[int],
    gamma: float,
    warmup_epochs: float = 0,
    warmup_lr_init: float = 0.0,
) -> np.ndarray:
    """The model zoo's ``warmup_step_lr`` (its "exponential"): after warmup, ``base * gamma**k`` where ``k`` counts
    the milestone steps ``m * steps_per_epoch`` in ``[warmup_steps, i]`` (earlier ones are lost, as there)."""
    total, warm = _split(steps_per_epoch, epochs, warmup_epochs)
    if any(m < 0 for m in milestones):
        raise ConfigError(f"lr_milestones must be non-negative epochs, got {list(milestones)}")
    milestone_steps = np.sort(np.asarray(milestones, dtype=np.int64) * steps_per_epoch)
    milestone_steps = milestone_steps[milestone_steps >= warm]
    passed = np.searchsorted(milestone_steps, np.arange(warm, total), side="right")
    main = base_lr * np.power(float(gamma), passed)
    return np.concatenate([_model_zoo_warmup(warmup_lr_init, base_lr, warm), main]).astype(np.float32)


def build_lr_schedule(
    name: str,
    base_lr: float,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float = 0,
    warmup_lr_init: float = 0.0,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    eta_min: float = 0.0,
    poly_power: float = 2.0,
) -> np.ndarray:
    """The config's ``lr_schedule`` as a float32 array indexed by global step (see the module docstring)."""
    builders: Dict[str, Callable[[], np.ndarray]] = {
        "constant": lambda: constant_lr(base_lr, steps_per_epoch, epochs, warmup_epochs, warmup_lr_init),
        "step": lambda: step_lr(base_lr, steps_per_epoch, epochs, milestones, gamma, warmup_epochs, warmup_lr_init),
        "cosine": lambda: cosine_lr(base_lr, steps_per_epoch, epochs, warmup_epochs, warmup_lr_init, eta_min),
        "poly": lambda: poly_lr(base_lr, steps_per_epoch, epochs, warmup_epochs, warmup_lr_init, eta_min, poly_power),
        "warmup_cosine_annealing": lambda: warmup_cosine_annealing_lr(base_lr, steps_per_epoch, epochs, warmup_epochs,
                                                                      warmup_lr_init, eta_min),
        "warmup_step": lambda: warmup_step_lr(base_lr, steps_per_epoch, epochs, milestones, gamma, warmup_epochs,
                                              warmup_lr_init),
    }
    if name not in builders:
        raise ConfigError(f"unknown lr_schedule '{name}'; choose one of: {', '.join(SCHEDULES)}")
    return builders[name]()

"""Where the host reads device values during training, and the device-side sums that make a read cover every step.

Read points. The host reads device values (``.asnumpy()``: loss, loss-scale state) only at *read points*:
the next log line (``log_interval`` steps into the epoch), the next step checkpoint (``save_checkpoint_steps``
global steps) and the epoch's end, whichever comes first (:class:`ReadPlan`). Between them steps are only
dispatched. :class:`MonitoredStep` sums the loss and counts overflowing steps on the device, so a read point
still sees every step: the epoch's mean loss covers all steps, and a non-finite loss at any step shows in the
sum at the next read point (that is where a fixed-loss-scale run stops).

Sinks. ``mindspore.train.Model.train`` in dataset sink mode (Ascend/GPU) hands control back to the host once
per sink of ``sink_size`` steps, so there the read points must be multiples of the sink (:class:`SinkGrid`
snaps ``log_interval`` and ``save_checkpoint_steps`` up to it and says so in one log line); on CPU MindSpore
runs its host loop and every step is a possible read point.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import mindspore as ms
from mindspore import nn, ops


def crossed(before: int, after: int, interval: int) -> bool:
    """Whether a multiple of ``interval`` lies in ``(before, after]``."""
    return interval > 0 and after // interval > before // interval


@dataclass(frozen=True)
class ReadPlan:
    """Where the next host read happens, in steps of the current epoch."""

    steps_per_epoch: int
    log_interval: int
    checkpoint_steps: int = 0  # global-step interval of step checkpoints, 0: none
    granularity: int = 1  # reads only on multiples of this, counted from the epoch's start (sink_size)

    def next_read(self, step_in_epoch: int, global_step: int) -> int:
        """The step (of this epoch, > ``step_in_epoch``) after which the host reads next."""
        interval = max(1, self.log_interval)
        target = min(self.steps_per_epoch, (step_in_epoch // interval + 1) * interval)
        if self.checkpoint_steps:
            to_checkpoint = self.checkpoint_steps - global_step % self.checkpoint_steps
            target = min(target, step_in_epoch + to_checkpoint)
        grid = max(1, self.granularity)
        return min(self.steps_per_epoch, -(-target // grid) * grid)


@dataclass(frozen=True)
class Readout:
    """What the host learns at a read point about the ``steps`` steps since the previous one."""

    epoch: int  # 1-based
    step: int  # steps done in this epoch
    global_step: int
    steps: int
    seconds: float
    loss: float  # the last step's
    loss_sum: float  # over the window; non-finite if any step's loss was
    overflows: int  # steps whose gradients overflowed
    overflow: bool  # the last step's
    loss_scale: float  # the last step's


@dataclass
class EpochSummary:
    epoch: int  # 1-based
    steps: int  # steps this process ran in the epoch (fewer after a mid-epoch resume)
    mean_loss: float
    seconds: float
    last_read: Readout


@dataclass(frozen=True)
class SinkGrid:
    """The steps per sink and the read intervals snapped to it (all 1-step grids on the host loop)."""

    sink_size: int  # divides the steps per epoch
    log_interval: int
    checkpoint_steps: int
    notes: Tuple[str, ...] = ()  # one log line per adjustment made


def snap_up(value: int, grid: int) -> int:
    return -(-value // grid) * grid


def largest_divisor_up_to(number: int, limit: int) -> int:
    return max(d for d in range(1, min(number, limit) + 1) if number % d == 0)


def sink_grid(steps_per_epoch: int, sink_size: int, sinking: bool, log_interval: int,
              checkpoint_steps: int) -> SinkGrid:
    """``sink_size`` (-1: the epoch) as Model.train will sink, and where log lines and step checkpoints can fall.

    A sink never crosses an epoch's end (each epoch is its own seeded pipeline), so the sink must divide the
    epoch: otherwise the largest divisor below it is used. Log lines and step checkpoints can only happen between
    sinks, so their intervals snap up to multiples of the sink. Each adjustment is reported, never silent.
    """
    log_interval = max(1, log_interval)
    if not sinking:
        return SinkGrid(1, log_interval, checkpoint_steps)
    notes = []
    wanted = steps_per_epoch if sink_size == -1 else min(sink_size, steps_per_epoch)
    size = largest_divisor_up_to(steps_per_epoch, wanted)
    if size != wanted:
        notes.append(f"sink_size {sink_size} -> {size}: a sink must divide the epoch's {steps_per_epoch} steps")
    snapped = {"log_interval": (log_interval, snap_up(log_interval, size)),
               "save_checkpoint_steps": (checkpoint_steps, snap_up(checkpoint_steps, size))}
    moved = [f"{key} {old} -> {new}" for key, (old, new) in snapped.items() if new != old and old > 0]
    if moved:
        notes.append(f"{', '.join(moved)}: the host reads only between sinks of {size} steps")
    return SinkGrid(size, snapped["log_interval"][1], snapped["save_checkpoint_steps"][1], tuple(notes))


class MonitoredStep(nn.Cell):
    """``train_step`` plus a device-side loss sum and overflow count, read and reset at read points.

    The accumulators are this Cell's own Parameters; checkpoints save ``train_step``, so they never enter one.
    """

    def __init__(self, train_step: nn.Cell) -> None:
        super().__init__(auto_prefix=False)
        self.train_step = train_step
        self.loss_sum = ms.Parameter(ms.Tensor(0.0, ms.float32), name="monitor_loss_sum", requires_grad=False)
        self.overflows = ms.Parameter(ms.Tensor(0, ms.int32), name="monitor_overflows", requires_grad=False)

    def construct(self, *inputs: ms.Tensor) -> Tuple[ms.Tensor, ms.Tensor, ms.Tensor]:
        loss, overflow, scale = self.train_step(*inputs)
        loss = ops.depend(loss, ops.assign_add(self.loss_sum, loss))
        loss = ops.depend(loss, ops.assign_add(self.overflows, ops.cast(overflow, ms.int32)))
        return loss, overflow, scale

    def read(self, last: Tuple[ms.Tensor, ms.Tensor, ms.Tensor]) -> Tuple[float, float, int, bool, float]:
        """``(loss, loss_sum, overflows, overflow, scale)`` on the host; the sums restart from zero."""
        loss, overflow, scale = last
        values = (float(loss.asnumpy()), float(self.loss_sum.asnumpy()), int(self.overflows.asnumpy()),
                  bool(overflow.asnumpy()), float(scale.asnumpy()))
        self.loss_sum.set_data(ms.Tensor(0.0, ms.float32))
        self.overflows.set_data(ms.Tensor(0, ms.int32))
        return values

"""How the engine advances training between host read points: the host loop (CPU) and dataset sink mode.

Read points. The host reads device values (``.asnumpy()``: loss, loss-scale state) only at *read points*:
the next log line (``log_interval`` steps into the epoch), the next step checkpoint (``save_checkpoint_steps``
global steps) and the epoch's end, whichever comes first (:class:`ReadPlan`). Between them steps are only
dispatched. :class:`MonitoredStep` sums the loss and counts overflowing steps on the device, so a read point
still sees every step: the epoch's mean loss covers all steps, and a non-finite loss at any step shows in the
sum at the next read point (that is where a fixed-loss-scale run stops).

Steppers. :class:`HostStepper` (every device, the only one on CPU) pulls each batch through the dataset
iterator to the host and calls the step. :class:`SinkStepper` (Ascend/GPU) uses ``mindspore.data_sink``: the
pipeline feeds a device queue and each step takes its batch there, so host-to-device copies overlap the
steps. In sink mode read points additionally snap to a grid of ``sink_size`` steps from the epoch's start
(``sink_size: 0`` = one read per epoch), so a step checkpoint, and with it a resumed run, falls on a sink
boundary. ``data_sink`` is called without a ``jit_config``: per MindSpore 2.10's ``train/data_sink.py`` each
call then runs ``GetNext`` and the train-step Cell, which keeps its one compiled graph (each epoch's new
pipeline does not recompile it), and the step loop stays on the host. ``data_sink`` raises on CPU, so the sink
path was never run on this project's machines; the read-point arithmetic it uses is the host loop's and is
tested on CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

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


class HostStepper:
    """The host loop: each batch comes through the dataset iterator, then one step call."""

    def __init__(self, step: MonitoredStep, granularity: int = 1) -> None:
        self.step = step
        self.granularity = granularity
        self._iterator = None
        self._last: Optional[tuple] = None

    def start_epoch(self, dataset: "ms.dataset.Dataset") -> None:
        self._iterator = dataset.create_tuple_iterator(num_epochs=1)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            images, labels = next(self._iterator)
            self._last = self.step(images, labels)

    def read(self) -> Tuple[float, float, int, bool, float]:
        return self.step.read(self._last)

    def end_epoch(self) -> None:
        self._iterator.stop()
        self._iterator = None


class SinkStepper:
    """Dataset sink mode (Ascend/GPU only): ``mindspore.data_sink`` over each epoch's pipeline.

    ``granularity`` is ``sink_size`` (steps per epoch when 0): the host reads only on that grid.
    """

    def __init__(self, step: MonitoredStep, granularity: int) -> None:
        self.step = step
        self.granularity = granularity
        self._dataset = None
        self._sink = None
        self._last: Optional[tuple] = None

    def start_epoch(self, dataset: "ms.dataset.Dataset") -> None:
        self._dataset = dataset
        self._sink = ms.data_sink(self.step, dataset, sink_size=1)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self._last = self._sink()

    def read(self) -> Tuple[float, float, int, bool, float]:
        return self.step.read(self._last)

    def end_epoch(self) -> None:
        """Stop this epoch's device queue (data_sink sends the pipeline repeatedly until told to stop)."""
        transfer = self._dataset.__transfer_dataset__
        transfer.stop_send()
        transfer.release()
        self._dataset = self._sink = None


SINK_DEVICES = ("Ascend", "GPU")


def make_stepper(device_target: str, step: MonitoredStep, sink_size: int, steps_per_epoch: int):
    """Sink mode on Ascend/GPU (read grid ``sink_size``, 0 = one epoch), the host loop on CPU."""
    if device_target in SINK_DEVICES:
        return SinkStepper(step, sink_size or steps_per_epoch)
    return HostStepper(step)

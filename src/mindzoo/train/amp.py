"""The one train-step Cell: mixed precision, fixed/dynamic loss scaling, data-parallel gradient reduction, and the
recipe options EMA, gradient clipping and gradient accumulation (MindCV's ``TrainStep`` keys).

MindSpore's ``TrainOneStepWithLossScaleCell`` + ``DynamicLossScaleUpdateCell`` detect overflow with
``NPUGetFloatStatusV2``, which does not exist on CPU; this Cell uses ``mindspore.amp.all_finite`` instead, which
works on CPU, GPU and Ascend, so every device runs the same code.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import mindspore as ms
from mindspore import nn, ops
from mindspore.amp import all_finite, auto_mixed_precision
from mindspore.communication import get_group_size

from mindzoo.weights.formats import EMA_PREFIX
from mindzoo.train.checks import AMP_LEVELS, LOSS_SCALE_TYPES

_unscale = ops.MultitypeFuncGraph("unscale")


_ema_update = ops.MultitypeFuncGraph("ema_update")
_add = ops.MultitypeFuncGraph("add")

EMA_WARMUP_STEPS = 2000.0  # MindCV's decay warm-up: decay_t = ema_decay * (1 - exp(-t / 2000))


@_unscale.register("Tensor", "Tensor")
def _unscale_grad(scale: ms.Tensor, grad: ms.Tensor) -> ms.Tensor:
    return grad / ops.cast(scale, grad.dtype)


@_ema_update.register("Tensor", "Tensor", "Tensor")
def _ema_update_param(decay: ms.Tensor, ema: ms.Parameter, param: ms.Parameter) -> ms.Tensor:
    return ops.assign(ema, ema * decay + param * (1.0 - decay))


@_add.register("Tensor", "Tensor")
def _add_tensors(total: ms.Tensor, part: ms.Tensor) -> ms.Tensor:
    return total + part


def apply_amp(network: nn.Cell, amp_level: str) -> nn.Cell:
    """Apply MindSpore's fp16 ``auto_mixed_precision`` (in place for O2/O3: it converts the given cells).

    O0 fp32; O1 fp16 for white-listed ops (conv, matmul, ...); O2 fp16 except BatchNorm (kept fp32); O3 all fp16.
    Parameters stay fp32 and keep their names; the output is cast back to fp32 (O2/O3). bf16 is not offered: CPU
    convolutions reject it.
    """
    if amp_level not in AMP_LEVELS:
        raise ValueError(f"amp_level must be one of {', '.join(AMP_LEVELS)}, got '{amp_level}'")
    return auto_mixed_precision(network, amp_level, dtype=ms.float16)


class _WithLossFp32(nn.Cell):
    """``loss_fn(network(x), label)`` with the logits cast to fp32, so the loss is never computed in fp16."""

    def __init__(self, network: nn.Cell, loss_fn: nn.Cell) -> None:
        super().__init__(auto_prefix=False)
        self.network = network
        self.loss_fn = loss_fn

    def construct(self, data: ms.Tensor, label: ms.Tensor) -> ms.Tensor:
        return self.loss_fn(ops.cast(self.network(data), ms.float32), label)


class TrainStep(nn.Cell):
    """One optimizer step: forward, scaled backward, (all-reduce), unscale, overflow check, update.

    ``construct(*inputs)`` (``inputs`` = ``(images, labels)`` when ``loss_fn`` is given, else whatever
    ``network`` takes) returns ``(loss, overflow, scale)``: the unscaled fp32 loss, a bool scalar that is True
    when some gradient was inf/NaN, and the fp32 loss scale this step used.

    The loss is multiplied by ``scale`` (as the backward sensitivity) and gradients are divided by it before
    the optimizer, so the optimizer never sees scaled gradients (it must have ``loss_scale=1``).

    - ``fixed``: the scale never changes and every step updates, overflow or not (as MindSpore's
      ``FixedLossScaleManager(drop_overflow_update=False)``); ``overflow`` is reported so the caller can stop.
    - ``dynamic``: an overflowing step leaves every parameter and optimizer moment untouched and divides the scale
      by ``scale_factor`` (not below 1); after ``scale_window`` consecutive clean steps the scale is multiplied by
      ``scale_factor`` (unless that overflows fp32). A skipped step still advances ``optimizer.global_step``, so the
      LR array index always equals the number of steps taken.

    The scale and the clean-step counter are the Parameters ``loss_scale`` and ``loss_scale_clean_steps``: saving
    this Cell checkpoints them with the weights and the optimizer state, and loading restores them on resume.

    In data-parallel mode (``parallel_mode`` data_parallel/hybrid_parallel in the auto-parallel context, set before
    building this Cell) gradients go through ``nn.DistributedGradReducer`` before the overflow check; an inf/NaN on
    any rank survives the all-reduce, so every rank makes the same skip decision and stays in sync.

    Recipe options (MindCV's keys; each off by default, and off it adds no op to the graph):

    - ``gradient_accumulation_steps=k``: the batch is split into ``k`` equal micro-batches inside the step; their
      gradients are summed on the device and averaged, then one optimizer update runs. One call is still one
      optimizer step (LR schedule, logs, checkpoints and resume count optimizer steps). BatchNorm sees
      micro-batches. (Whether the compiled graph keeps only one micro-batch's activations live was not measured.)
    - ``clip_grad``: the gradients are clipped to global norm ``clip_value`` after unscaling, all-reduce and the
      overflow check (so an overflow is still detected, and the norm is that of the true gradients).
    - ``ema``: after every applied update, ``ema.X = d * ema.X + (1 - d) * X`` for every network parameter ``X``
      (BatchNorm statistics included) with MindCV's warm-up ``d = ema_decay * (1 - exp(-t / 2000))``, ``t`` the
      number of EMA updates (the Parameter ``ema_updates``). The ``ema.*`` Parameters belong to this Cell, so
      checkpoints carry them under MindCV's names and resume restores them; a skipped (overflowing) step does not
      update them.
    """

    def __init__(
        self,
        network: nn.Cell,
        optimizer: nn.Optimizer,
        loss_fn: Optional[nn.Cell] = None,
        amp_level: str = "O0",
        loss_scale_type: str = "fixed",
        loss_scale: float = 1.0,
        scale_factor: float = 2.0,
        scale_window: int = 1000,
        ema: bool = False,
        ema_decay: float = 0.9999,
        clip_grad: bool = False,
        clip_value: float = 15.0,
        gradient_accumulation_steps: int = 1,
    ) -> None:
        super().__init__(auto_prefix=False)
        check_recipe_step(ema_decay, clip_value, gradient_accumulation_steps)
        if loss_scale_type not in LOSS_SCALE_TYPES:
            raise ValueError(f"loss_scale_type must be one of {', '.join(LOSS_SCALE_TYPES)}, got '{loss_scale_type}'")
        if loss_scale < 1.0:
            raise ValueError(f"loss_scale must be >= 1, got {loss_scale}")
        if loss_scale_type == "dynamic" and (scale_factor <= 1.0 or scale_window < 1):
            raise ValueError(f"dynamic loss scale needs scale_factor > 1 and scale_window >= 1, "
                             f"got {scale_factor} and {scale_window}")
        if getattr(optimizer, "loss_scale", 1.0) != 1.0:
            raise ValueError("the optimizer must have loss_scale=1: TrainStep unscales the gradients itself")
        network = apply_amp(network, amp_level)
        if loss_fn is not None:
            network = _WithLossFp32(network, loss_fn)
        self.network = network
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad = ops.GradOperation(get_by_list=True, sens_param=True)
        self.hyper_map = ops.HyperMap()
        self.dynamic = loss_scale_type == "dynamic"
        self.scale_factor = float(scale_factor)
        self.scale_window = int(scale_window)
        self.loss_scale = ms.Parameter(ms.Tensor(float(loss_scale), ms.float32), name="loss_scale",
                                       requires_grad=False)
        self.clean_steps = ms.Parameter(ms.Tensor(0, ms.int32), name="loss_scale_clean_steps", requires_grad=False)
        self.grad_reducer = self._grad_reducer()
        self.accumulation_steps = int(gradient_accumulation_steps)
        self.clip_grad = bool(clip_grad)
        self.clip_value = float(clip_value)
        self.ema = bool(ema)
        self.ema_decay = float(ema_decay)
        if self.ema:
            self.ema_sources = ms.ParameterTuple(list(network.get_parameters()))
            self.ema_weights = self.ema_sources.clone(EMA_PREFIX.rstrip("."), init="same")  # "ema.X"
            self.ema_updates = ms.Parameter(ms.Tensor(0.0, ms.float32), name="ema_updates", requires_grad=False)

    def _grad_reducer(self) -> nn.Cell:
        mode = ms.get_auto_parallel_context("parallel_mode")
        if mode not in (ms.ParallelMode.DATA_PARALLEL, ms.ParallelMode.HYBRID_PARALLEL):
            return nn.Identity()
        mean = ms.get_auto_parallel_context("gradients_mean")
        return nn.DistributedGradReducer(self.weights, mean, get_group_size())

    def construct(self, *inputs: ms.Tensor) -> Tuple[ms.Tensor, ms.Tensor, ms.Tensor]:
        scale = self.loss_scale * 1.0  # a copy: ops.identity would alias the Parameter and see the update below
        if self.accumulation_steps > 1:
            loss, grads = self._accumulated_grads(scale, inputs)
        else:
            loss = self.network(*inputs)
            sens = ops.ones_like(loss) * ops.cast(scale, loss.dtype)
            grads = self.grad(self.network, self.weights)(*inputs, sens)
        grads = self.grad_reducer(grads)
        if self.accumulation_steps > 1:
            grads = self.hyper_map(ops.partial(_unscale, scale * self.accumulation_steps), grads)
        else:
            grads = self.hyper_map(ops.partial(_unscale, scale), grads)
        finite = all_finite(grads)
        if self.clip_grad:
            grads = ops.clip_by_global_norm(grads, self.clip_value)
        if self.dynamic:
            if finite:
                loss = self._apply(loss, grads)
            else:
                step = self.optimizer.global_step
                loss = ops.depend(loss, ops.assign_add(step, ops.ones_like(step)))
            loss = ops.depend(loss, self._adjust_scale(scale, finite))
        else:
            loss = self._apply(loss, grads)
        return ops.cast(loss, ms.float32), ops.logical_not(finite), scale

    def _apply(self, loss: ms.Tensor, grads: Tuple[ms.Tensor, ...]) -> ms.Tensor:
        """The optimizer update, then (``ema``) the EMA update of the updated parameters."""
        loss = ops.depend(loss, self.optimizer(grads))
        if self.ema:
            loss = ops.depend(loss, self._update_ema())
        return loss

    def _update_ema(self) -> Tuple[ms.Tensor, ...]:
        updates = self.ema_updates + 1.0
        decay = self.ema_decay * (1.0 - ops.exp(-updates / EMA_WARMUP_STEPS))
        updates = ops.assign(self.ema_updates, updates)
        decay = ops.depend(decay, updates)
        return self.hyper_map(ops.partial(_ema_update, decay), self.ema_weights, self.ema_sources)

    def _accumulated_grads(self, scale: ms.Tensor, inputs: Tuple[ms.Tensor, ...]
                           ) -> Tuple[ms.Tensor, Tuple[ms.Tensor, ...]]:
        """Mean loss and summed (scaled) gradients of ``accumulation_steps`` equal slices of the batch."""
        micro = inputs[0].shape[0] // self.accumulation_steps
        loss, grads = self._micro_step(scale, inputs, 0, micro)
        for index in range(1, self.accumulation_steps):
            part_loss, part_grads = self._micro_step(scale, inputs, index * micro, micro)
            loss = loss + part_loss
            grads = self.hyper_map(_add, grads, part_grads)
        return loss / self.accumulation_steps, grads

    def _micro_step(self, scale: ms.Tensor, inputs: Tuple[ms.Tensor, ...], start: int, size: int
                    ) -> Tuple[ms.Tensor, Tuple[ms.Tensor, ...]]:
        part = tuple([x[start:start + size] for x in inputs])
        loss = self.network(*part)
        sens = ops.ones_like(loss) * ops.cast(scale, loss.dtype)
        return loss, self.grad(self.network, self.weights)(*part, sens)

    def _adjust_scale(self, scale: ms.Tensor, finite: ms.Tensor) -> ms.Tensor:
        """Shrink on overflow (floor 1), grow after ``scale_window`` clean steps; both Parameters updated."""
        clean = self.clean_steps + 1
        grown = scale * self.scale_factor
        grow = ops.logical_and(finite, clean >= self.scale_window)
        new_scale = ops.select(
            finite,
            ops.select(ops.logical_and(grow, ops.isfinite(grown)), grown, scale),
            ops.maximum(scale / self.scale_factor, ops.ones_like(scale)),
        )
        new_clean = ops.select(ops.logical_and(finite, ops.logical_not(grow)), clean, ops.zeros_like(clean))
        ops.assign(self.clean_steps, new_clean)
        return ops.assign(self.loss_scale, new_scale)


def check_recipe_step(ema_decay: float, clip_value: float, gradient_accumulation_steps: int) -> None:
    """The step options' ranges (``mindzoo.train.checks`` runs the same checks on a config, with its key names)."""
    if not 0.0 < ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay}")
    if not clip_value > 0.0:
        raise ValueError(f"clip_value must be > 0, got {clip_value}")
    if gradient_accumulation_steps < 1:
        raise ValueError(f"gradient_accumulation_steps must be >= 1, got {gradient_accumulation_steps}")


def build_train_step(
    net: nn.Cell,
    loss_fn: Optional[nn.Cell],
    optimizer: nn.Optimizer,
    amp_level: str = "O0",
    loss_scale_type: str = "fixed",
    loss_scale: float = 1.0,
    scale_factor: float = 2.0,
    scale_window: int = 1000,
    **recipe: Any,
) -> TrainStep:
    """The config's ``amp_level`` / ``loss_scale*`` / ``scale_*`` keys as a :class:`TrainStep` in train mode.

    ``recipe``: TrainStep's ``ema``, ``ema_decay``, ``clip_grad``, ``clip_value``, ``gradient_accumulation_steps``.
    """
    step = TrainStep(net, optimizer, loss_fn, amp_level, loss_scale_type, loss_scale, scale_factor, scale_window,
                     **recipe)
    step.set_train()
    return step

"""The optimizers of the config's ``opt`` key, with weight decay on weights only (on every trained parameter in a
FixRes fine-tune): ``momentum`` (SGD, Nesterov optional), ``adamw`` and ``lamb`` (timm's, step for step).

Nesterov: MindSpore 2.10's CPU ``ApplyMomentum`` kernel ignores ``use_nesterov`` (it does the plain momentum
update; checked on this machine in GRAPH and PyNative mode), so :class:`SGDMomentum` applies the Nesterov update
with plain tensor ops on every device, one code path that the tests check.

Loss-scale convention: the optimizer never sees scaled gradients. ``TrainStep`` (``mindzoo.train.amp``) divides
the gradients by the loss scale itself (it must, to check them for overflow and because a dynamic scale changes
every few steps), so ``nn.Momentum``'s own ``loss_scale`` argument is always left at 1.0.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from mindzoo.train.checks import OPTIMIZERS

NO_DECAY_SUFFIXES = (".gamma", ".beta", ".bias")


def is_no_decay(param: ms.Parameter) -> bool:
    """BatchNorm gamma/beta and biases (any 1-D parameter) are not decayed: decaying them only hurts accuracy."""
    return param.name.endswith(NO_DECAY_SUFFIXES) or len(param.shape) <= 1


def param_groups(net_or_params: Union[nn.Cell, Sequence[ms.Parameter]], weight_decay: float,
                 decay_all: bool = False) -> List[Dict[str, Any]]:
    """``nn.Optimizer`` parameter groups: ``weight_decay`` on weights, 0 on BN parameters and biases.

    ``decay_all`` decays every parameter instead: the FixRes reference fine-tune (``imnet_finetune/train.py``:
    torch ``SGD(model.parameters(), weight_decay=1e-4)``) decays all it trains, ``fc.bias`` included.
    Only trainable parameters (``requires_grad``) are included, so a frozen backbone (FixRes fine-tune) trains just
    what is left. ``order_params`` keeps the network's parameter order, so optimizer state is laid out like the net.
    """
    params = list(net_or_params.trainable_params() if isinstance(net_or_params, nn.Cell) else net_or_params)
    if not params:
        raise ValueError("no trainable parameters to optimize")
    decay = [p for p in params if decay_all or not is_no_decay(p)]
    no_decay = [p for p in params if not decay_all and is_no_decay(p)]
    groups: List[Dict[str, Any]] = []
    if decay:
        groups.append({"params": decay, "weight_decay": float(weight_decay)})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    groups.append({"order_params": params})
    return groups


_nesterov_opt = ops.MultitypeFuncGraph("nesterov_opt")


@_nesterov_opt.register("Tensor", "Tensor", "Tensor", "Tensor", "Tensor")
def _nesterov_update(
    momentum: ms.Tensor, lr: ms.Tensor, grad: ms.Tensor, param: ms.Parameter, moment: ms.Parameter
) -> ms.Tensor:
    new_moment = moment * momentum + grad
    ops.assign(moment, new_moment)
    return ops.assign(param, param - lr * (grad + momentum * new_moment))


class SGDMomentum(nn.Momentum):
    """``nn.Momentum`` whose Nesterov update is correct on CPU (see the module docstring).

    Same Parameters (``moments.*``, ``momentum``, ``global_step``, ``learning_rate``) as ``nn.Momentum``, so
    checkpoints are interchangeable; without Nesterov it is ``nn.Momentum`` unchanged.
    """

    def construct(self, gradients: Tuple[ms.Tensor, ...]) -> Tuple[ms.Tensor, ...]:
        if not self.use_nesterov:
            return super().construct(gradients)
        gradients = self.decay_weight(gradients)
        gradients = self.gradients_centralization(gradients)
        gradients = self.scale_grad(gradients)
        lr = self.get_lr()
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        if self.is_group_lr:
            return self.hyper_map(ops.partial(_nesterov_opt, self.momentum), lr, gradients, self.params, self.moments)
        return self.hyper_map(ops.partial(_nesterov_opt, self.momentum, lr), gradients, self.params, self.moments)


_adam_update = ops.MultitypeFuncGraph("adam_update")


@_adam_update.register("Bool", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor",
                       "Tensor", "Tensor")
def _adam_param_update(layerwise: bool, beta1: ms.Tensor, beta2: ms.Tensor, eps: ms.Tensor, step: ms.Tensor,
                       lr: ms.Tensor, weight_decay: ms.Tensor, param: ms.Parameter, m: ms.Parameter,
                       v: ms.Parameter, grad: ms.Tensor) -> ms.Tensor:
    next_m = beta1 * m + (1.0 - beta1) * grad
    next_v = beta2 * v + (1.0 - beta2) * ops.square(grad)
    m_hat = next_m / (1.0 - ops.pow(beta1, step))
    v_hat = next_v / (1.0 - ops.pow(beta2, step))
    update = m_hat / (ops.sqrt(v_hat) + eps) + weight_decay * param
    if layerwise:
        w_norm = ops.norm(param)
        u_norm = ops.norm(update)
        ratio = ops.select(ops.logical_and(w_norm > 0.0, u_norm > 0.0), w_norm / u_norm, ops.ones_like(w_norm))
        update = update * ops.select(weight_decay > 0.0, ratio, ops.ones_like(ratio))
    ops.assign(m, next_m)
    ops.assign(v, next_v)
    return ops.assign(param, param - lr * update)


class AdamW(nn.Optimizer):
    """torch's / timm's AdamW: bias-corrected Adam with decoupled weight decay.

    ``w -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * w)``, the same as torch's ``w *= 1 - lr * wd`` followed by the
    Adam step. MindSpore's ``nn.AdamWeightDecay`` has no bias correction, hence this class (MindCV writes its own
    for the same reason). ``global_step`` is the step count ``t`` of the bias correction.
    """

    layerwise = False

    def __init__(self, params: List[Dict[str, Any]], learning_rate: Union[float, ms.Tensor], beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(learning_rate, params)
        self.beta1 = ms.Tensor(beta1, ms.float32)
        self.beta2 = ms.Tensor(beta2, ms.float32)
        self.eps = ms.Tensor(eps, ms.float32)
        self.moments1 = self._parameters.clone(prefix="adam_m", init="zeros")
        self.moments2 = self._parameters.clone(prefix="adam_v", init="zeros")
        self.decays = tuple(ms.Tensor(float(wd), ms.float32) for wd in self._weight_decays())

    def _weight_decays(self) -> List[float]:
        """Each parameter's weight decay (the groups of :func:`param_groups`)."""
        if not self.is_group:
            return [float(self.weight_decay)] * len(self._parameters)
        return [float(wd) for wd in self.group_weight_decay]

    def prepare(self, gradients: Tuple[ms.Tensor, ...]) -> Tuple[ms.Tensor, ...]:
        return gradients

    def construct(self, gradients: Tuple[ms.Tensor, ...]) -> Tuple[ms.Tensor, ...]:
        gradients = self.prepare(gradients)
        lr = self.get_lr()
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        step = ops.reshape(ops.cast(self.global_step, ms.float32), ())
        return self.hyper_map(ops.partial(_adam_update, self.layerwise, self.beta1, self.beta2, self.eps, step, lr),
                              self.decays, self._parameters, self.moments1, self.moments2, gradients)


class Lamb(AdamW):
    """timm's ``Lamb`` (its defaults: ``max_grad_norm=1.0``, ``trust_clip=False``, ``always_adapt=False``).

    The AdamW update of each decayed parameter is scaled by the trust ratio ``||w|| / ||update||`` (1 when either
    norm is 0); parameters without weight decay (BN, biases) take the plain AdamW update; the gradients are first
    clipped to global norm 1. MindSpore's ``nn.Lamb`` adapts every parameter and does not clip.
    """

    layerwise = True
    max_grad_norm = 1.0

    def prepare(self, gradients: Tuple[ms.Tensor, ...]) -> Tuple[ms.Tensor, ...]:
        return ops.clip_by_global_norm(gradients, self.max_grad_norm)




def build_optimizer(
    net_or_params: Union[nn.Cell, Sequence[ms.Parameter]],
    lr: Union[float, np.ndarray],
    momentum: float,
    weight_decay: float,
    nesterov: bool = False,
    decay_all: bool = False,
    opt: str = "momentum",
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> nn.Optimizer:
    """:class:`SGDMomentum` (an ``nn.Momentum``) over :func:`param_groups`.

    ``lr`` is a float or the per-global-step array from ``mindzoo.train.lr`` (looked up with the optimizer's
    ``global_step`` Parameter, which a resumed run must restore). The update is torch's SGD without dampening:
    ``v = momentum * v + (g + wd * w)``; ``w -= lr * v`` (nesterov: ``w -= lr * (g + wd * w + momentum * v)``).
    ``decay_all``: see :func:`param_groups` (train.py sets it for ``fixres_finetune``).
    ``opt``: ``momentum`` (the above), ``adamw`` (:class:`AdamW`) or ``lamb`` (:class:`Lamb`), the latter two with
    ``betas`` and ``eps`` (``momentum`` and ``nesterov`` unused).
    """
    if opt not in OPTIMIZERS:
        raise ValueError(f"opt must be one of {', '.join(OPTIMIZERS)}, got '{opt}'")
    if isinstance(lr, np.ndarray):
        learning_rate: Union[float, ms.Tensor] = ms.Tensor(lr.astype(np.float32))
    else:
        learning_rate = float(lr)
    if opt != "momentum":
        adam = AdamW if opt == "adamw" else Lamb
        return adam(param_groups(net_or_params, weight_decay, decay_all), learning_rate, float(betas[0]),
                    float(betas[1]), float(eps))
    return SGDMomentum(
        param_groups(net_or_params, weight_decay, decay_all),
        learning_rate=learning_rate,
        momentum=float(momentum),
        use_nesterov=bool(nesterov),
    )

"""SGD-momentum with weight decay on weights only (on every trained parameter in a FixRes fine-tune).

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


def build_optimizer(
    net_or_params: Union[nn.Cell, Sequence[ms.Parameter]],
    lr: Union[float, np.ndarray],
    momentum: float,
    weight_decay: float,
    nesterov: bool = False,
    decay_all: bool = False,
) -> SGDMomentum:
    """:class:`SGDMomentum` (an ``nn.Momentum``) over :func:`param_groups`.

    ``lr`` is a float or the per-global-step array from ``mindzoo.train.lr`` (looked up with the optimizer's
    ``global_step`` Parameter, which a resumed run must restore). The update is torch's SGD without dampening:
    ``v = momentum * v + (g + wd * w)``; ``w -= lr * v`` (nesterov: ``w -= lr * (g + wd * w + momentum * v)``).
    ``decay_all``: see :func:`param_groups` (train.py sets it for ``fixres_finetune``).
    """
    if isinstance(lr, np.ndarray):
        learning_rate: Union[float, ms.Tensor] = ms.Tensor(lr.astype(np.float32))
    else:
        learning_rate = float(lr)
    return SGDMomentum(
        param_groups(net_or_params, weight_decay, decay_all),
        learning_rate=learning_rate,
        momentum=float(momentum),
        use_nesterov=bool(nesterov),
    )

"""Fold inference BatchNorm into the preceding convolution, for exported and evaluated graphs.

``gamma * (conv(x, W) + b - mean) / sqrt(var + eps) + beta`` equals ``conv(x, W * s) + (beta + (b - mean) * s)``
with ``s = gamma / sqrt(var + eps)`` per output channel, so each conv -> BN pair of an eval-mode network
becomes one conv with a bias and the BN leaves the graph. On an AMD Zen 5 CPU this is +8% batch-32 throughput for
the ResNet50 eval network and +5% for its MINDIR (``bench/results/2026-11-23-vm-fold.json``, bench/NOTES.md
section 3); on the Intel Xeon (``bench/results/2026-12-01-vm-avx512-bf16-amx.json``) the difference is within noise.
Training graphs keep their BN: the fold bakes in the running statistics.

The arithmetic is one function, :func:`fold_conv_bn`, used both ways: :func:`fold_batchnorm` rewrites a network
in place, and :func:`load_folded` assigns a later checkpoint's folded values into an already folded (and
compiled) network, so evaluating many checkpoints compiles one graph (``mindzoo.eval.sweep``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import mindspore as ms
import numpy as np
from mindspore import nn

from mindzoo.errors import MindzooError
from mindzoo.models.resnet import renew_compile_stamp

# (conv, bn) attribute pairs of the ResNet stem and of BasicBlock / Bottleneck.
CONV_BN_ATTRIBUTES: Tuple[Tuple[str, str], ...] = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))


def _as64(array: Optional[np.ndarray]) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


def fold_conv_bn(weight: np.ndarray, conv_bias: Optional[np.ndarray], gamma: np.ndarray, beta: np.ndarray,
                 mean: np.ndarray, variance: np.ndarray, eps: float) -> Tuple[np.ndarray, np.ndarray]:
    """(weight, bias) of the conv computing ``bn(conv(x))`` in the BN's inference mode, float32 (math in float64)."""
    scale = _as64(gamma) / np.sqrt(_as64(variance) + eps)
    shift = _as64(beta) + ((_as64(conv_bias) if conv_bias is not None else 0.0) - _as64(mean)) * scale
    return (_as64(weight) * scale[:, None, None, None]).astype(np.float32), shift.astype(np.float32)


@dataclass(frozen=True)
class FoldedPair:
    """One conv -> BN pair: the unfolded network's parameter names and the folded conv's ``name.weight/.bias``."""

    name: str
    conv_weight: str
    conv_bias: Optional[str]
    gamma: str
    beta: str
    moving_mean: str
    moving_variance: str
    eps: float


def folded_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d, name: str) -> nn.Conv2d:
    """A conv with bias computing ``bn(conv(x))`` of the BN's inference mode; parameters named ``name.*``."""
    weight, bias = fold_conv_bn(conv.weight.asnumpy(), conv.bias.asnumpy() if conv.has_bias else None,
                                bn.gamma.asnumpy(), bn.beta.asnumpy(), bn.moving_mean.asnumpy(),
                                bn.moving_variance.asnumpy(), bn.eps)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                      pad_mode=conv.pad_mode, padding=conv.padding, dilation=conv.dilation, group=conv.group,
                      has_bias=True, weight_init="zeros", bias_init="zeros")
    fused.weight = ms.Parameter(ms.Tensor(weight), name=f"{name}.weight")
    fused.bias = ms.Parameter(ms.Tensor(bias), name=f"{name}.bias")
    return fused


def _conv_bn_pairs(net: nn.Cell) -> Iterator[Tuple[nn.Cell, str, Optional[str], str]]:
    """(parent cell, conv attribute, bn attribute or None for a downsample, parameter prefix) of every pair."""
    for name, cell in list(net.cells_and_names()):
        for conv_attr, bn_attr in CONV_BN_ATTRIBUTES:
            conv, bn = getattr(cell, conv_attr, None), getattr(cell, bn_attr, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                yield cell, conv_attr, bn_attr, f"{name}.{conv_attr}".lstrip(".")
        down = getattr(cell, "downsample", None)
        if (isinstance(down, nn.SequentialCell) and len(down) == 2 and isinstance(down[0], nn.Conv2d)
                and isinstance(down[1], nn.BatchNorm2d)):
            yield cell, "downsample", None, f"{name}.downsample.0".lstrip(".")


def _conv_and_bn(parent: nn.Cell, conv_attr: str, bn_attr: Optional[str]) -> Tuple[nn.Conv2d, nn.BatchNorm2d]:
    if bn_attr is None:
        down = getattr(parent, conv_attr)
        return down[0], down[1]
    return getattr(parent, conv_attr), getattr(parent, bn_attr)


def fold_plan(net: nn.Cell) -> List[FoldedPair]:
    """What :func:`fold_batchnorm` would fold in ``net`` (an unfolded network), by parameter name."""
    plan = []
    for parent, conv_attr, bn_attr, prefix in _conv_bn_pairs(net):
        conv, bn = _conv_and_bn(parent, conv_attr, bn_attr)
        plan.append(FoldedPair(prefix, conv.weight.name, conv.bias.name if conv.has_bias else None, bn.gamma.name,
                               bn.beta.name, bn.moving_mean.name, bn.moving_variance.name, float(bn.eps)))
    return plan


def folded_values(params: Mapping[str, np.ndarray], plan: List[FoldedPair]) -> Dict[str, np.ndarray]:
    """The folded convs' ``name.weight`` / ``name.bias`` computed from an unfolded network's parameter arrays."""
    values: Dict[str, np.ndarray] = {}
    for pair in plan:
        values[f"{pair.name}.weight"], values[f"{pair.name}.bias"] = fold_conv_bn(
            params[pair.conv_weight], params[pair.conv_bias] if pair.conv_bias else None, params[pair.gamma],
            params[pair.beta], params[pair.moving_mean], params[pair.moving_variance], pair.eps)
    return values


def load_folded(folded_net: nn.Cell, plan: List[FoldedPair], params: Mapping[str, np.ndarray]) -> None:
    """Set every Parameter of a network folded with ``plan`` from an unfolded network's parameter arrays.

    Values only (``set_data``, same shapes): the network's structure and its compiled GRAPH-mode graph stay.
    """
    values = folded_values(params, plan)
    for param in folded_net.get_parameters():
        value = values.get(param.name, params.get(param.name))
        if value is None:
            raise MindzooError(f"no value for folded parameter '{param.name}': the network was not folded with "
                               "this plan")
        if tuple(value.shape) != tuple(param.shape):
            raise MindzooError(f"folded parameter '{param.name}' has shape {tuple(param.shape)}, the checkpoint "
                               f"gives {tuple(value.shape)}")
        param.set_data(ms.Tensor(np.asarray(value, dtype=np.float32)))


def fold_batchnorm(net: nn.Cell) -> int:
    """Fold every conv -> BN pair of a mindzoo ResNet in place; return how many BNs were removed.

    The network must be in eval mode (``set_train(False)``). GRAPH mode caches a cell's compiled graph under
    its creation time, so the stamp of every changed cell and of ``net`` is renewed: the next call compiles
    the folded graph even if the unfolded one already ran. A cell *wrapping* ``net`` (a ``TopKCorrect``) that
    already compiled keeps its stale graph: fold before wrapping.
    """
    if net.training:
        raise MindzooError("fold_batchnorm needs an eval-mode network: call net.set_train(False) first")
    pairs = list(_conv_bn_pairs(net))
    for parent, conv_attr, bn_attr, prefix in pairs:
        fused = folded_conv(*_conv_and_bn(parent, conv_attr, bn_attr), prefix)
        if bn_attr is None:
            setattr(parent, conv_attr, nn.SequentialCell([fused]))
        else:
            setattr(parent, conv_attr, fused)
            setattr(parent, bn_attr, nn.Identity())
        fused.weight.name, fused.bias.name = f"{prefix}.weight", f"{prefix}.bias"  # setattr renamed them
    renew_compile_stamp(net, *(parent for parent, *_ in pairs))
    net.set_train(False)
    return len(pairs)

"""Fold inference BatchNorm into the preceding convolution of a mindzoo ResNet (a tuning experiment).

``y = gamma * (conv(x, W) - mean) / sqrt(var + eps) + beta`` equals ``conv(x, W * s) + (beta - mean * s)`` with
``s = gamma / sqrt(var + eps)`` per output channel, so each conv+BN pair becomes one conv with a bias and the
BN disappears from the inference graph (ONNX Runtime does this itself when it loads our ONNX export).
Works in place on eval-mode networks built by ``mindzoo.create_model``; training graphs must keep their BN.
"""
from __future__ import annotations

from typing import Any, Tuple

PAIRS: Tuple[Tuple[str, str], ...] = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))


def _folded_conv(conv: Any, bn: Any, prefix: str) -> Any:
    import mindspore as ms
    import numpy as np
    from mindspore import nn

    w = conv.weight.asnumpy().astype(np.float64)
    gamma, beta = bn.gamma.asnumpy().astype(np.float64), bn.beta.asnumpy().astype(np.float64)
    mean, var = bn.moving_mean.asnumpy().astype(np.float64), bn.moving_variance.asnumpy().astype(np.float64)
    scale = gamma / np.sqrt(var + bn.eps)
    bias = beta - mean * scale
    if conv.has_bias:
        bias = bias + conv.bias.asnumpy().astype(np.float64) * scale
    new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                    pad_mode=conv.pad_mode, padding=conv.padding, dilation=conv.dilation, group=conv.group,
                    has_bias=True)
    new.weight = ms.Parameter(ms.Tensor((w * scale[:, None, None, None]).astype(np.float32)), name=f"{prefix}.weight")
    new.bias = ms.Parameter(ms.Tensor(bias.astype(np.float32)), name=f"{prefix}.bias")
    return new


def fold_batchnorm(net: Any) -> int:
    """Fold every conv -> BN pair of a mindzoo ResNet in place; return how many BNs were removed."""
    from mindspore import nn

    folded = 0
    for name, cell in list(net.cells_and_names()):
        for conv_name, bn_name in PAIRS:
            conv, bn = getattr(cell, conv_name, None), getattr(cell, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(cell, conv_name, _folded_conv(conv, bn, f"{name}.{conv_name}".lstrip(".")))
                setattr(cell, bn_name, nn.Identity())
                folded += 1
        down = getattr(cell, "downsample", None)
        if isinstance(down, nn.SequentialCell) and len(down) == 2 and isinstance(down[1], nn.BatchNorm2d):
            cell.downsample = nn.SequentialCell([_folded_conv(down[0], down[1], f"{name}.downsample.0")])
            folded += 1
    return folded

"""FixRes fine-tune (Touvron et al., 2019): adapt a low-resolution model to the test resolution.

Only the classifier receives gradients. The whole network runs in inference mode except the last
BatchNorm before global pooling, which stays in training mode so that its running statistics are
re-estimated at the new resolution; its gamma/beta stay fixed. The procedure does not depend on the
backbone: any model with ``get_classifier()`` and ``last_bn`` (every ResNet/ResNeXt here) works.
"""
from __future__ import annotations

from typing import List

from mindspore import nn


def freeze_for_fixres(net: nn.Cell) -> List[str]:
    """Freeze all but the classifier and every BatchNorm but the last; return the trainable names.

    The frozen BatchNorms get ``use_batch_statistics=False``: they normalise with their running statistics
    and never update them, whatever ``set_train`` says, so the freeze survives ``Model.train`` (which puts the
    whole network in training mode at every call) and evaluations. The last BN follows the mode as usual.
    """
    classifier = net.get_classifier()
    trainable = {id(p) for p in classifier.get_parameters()}
    for param in net.get_parameters():
        param.requires_grad = id(param) in trainable
    last_bn = net.last_bn
    for _, cell in net.cells_and_names():
        if isinstance(cell, nn.BatchNorm2d) and cell is not last_bn:
            cell.use_batch_statistics = False
    return [p.name for p in classifier.get_parameters()]

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
    """Freeze all but the classifier, set train/eval modes as FixRes needs; return the trainable names.

    Call again after anything that flips the whole network's mode (``set_train``), e.g. wrapping it in
    a train step or evaluating it.
    """
    classifier = net.get_classifier()
    trainable = {id(p) for p in classifier.get_parameters()}
    for param in net.get_parameters():
        param.requires_grad = id(param) in trainable
    net.set_train(False)
    net.last_bn.set_train(True)
    return [p.name for p in classifier.get_parameters()]

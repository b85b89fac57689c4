"""Classification loss."""
from __future__ import annotations

from typing import Optional

import mindspore as ms
from mindspore import nn, ops

from mindzoo.train.checks import LOSSES


class CrossEntropySmooth(nn.Cell):
    """Softmax cross-entropy with label smoothing, averaged over the batch.

    Convention (torch's ``CrossEntropyLoss(label_smoothing=s)`` and timm's): the target distribution is
    ``(1 - s) * onehot(label) + s / C``, so the true class gets ``1 - s + s / C`` and every other class ``s / C``.
    (Older MindSpore model-zoo code spreads ``s / (C - 1)`` over the wrong classes only; the two differ.)
    ``s = 0`` is plain cross-entropy. Logits are computed in float32 whatever their input dtype, so the loss is
    stable under fp16 AMP. Labels are int32 class indices of shape ``(N,)``.
    """

    def __init__(self, num_classes: int, smoothing: float = 0.0) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")
        self.num_classes = num_classes
        self.smoothing = float(smoothing)
        self.on_value = ms.Tensor(1.0 - smoothing + smoothing / num_classes, ms.float32)
        self.off_value = ms.Tensor(smoothing / num_classes, ms.float32)

    def construct(self, logits: ms.Tensor, labels: ms.Tensor) -> ms.Tensor:
        log_prob = ops.log_softmax(ops.cast(logits, ms.float32), axis=-1)
        target = ops.one_hot(labels, self.num_classes, self.on_value, self.off_value, -1)
        return -(target * log_prob).sum(axis=-1).mean()




class SoftTargetCrossEntropy(nn.Cell):
    """Cross-entropy against soft targets ``(N, C)`` (Mixup/CutMix, whose targets already carry the smoothing)."""

    def construct(self, logits: ms.Tensor, target: ms.Tensor) -> ms.Tensor:
        log_prob = ops.log_softmax(ops.cast(logits, ms.float32), axis=-1)
        return -(target * log_prob).sum(axis=-1).mean()


class BinaryCrossEntropy(nn.Cell):
    """timm's ``BinaryCrossEntropy``: sigmoid BCE on every class, averaged over batch and classes.

    Integer labels ``(N,)`` become ``(1 - s) * onehot + s / C`` (the smoothing convention of
    :class:`CrossEntropySmooth`); soft targets ``(N, C)`` (Mixup/CutMix) are used as they are. With
    ``target_threshold`` (timm's ``--bce-target-thresh``; the RSB recipes use 0.2) every target becomes 1 where it
    exceeds the threshold and 0 elsewhere.
    """

    def __init__(self, num_classes: int, smoothing: float = 0.0, target_threshold: Optional[float] = None) -> None:
        super().__init__()
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")
        self.num_classes = num_classes
        self.on_value = ms.Tensor(1.0 - smoothing + smoothing / num_classes, ms.float32)
        self.off_value = ms.Tensor(smoothing / num_classes, ms.float32)
        self.thresholded = target_threshold is not None
        self.target_threshold = float(target_threshold or 0.0)

    def construct(self, logits: ms.Tensor, target: ms.Tensor) -> ms.Tensor:
        logits = ops.cast(logits, ms.float32)
        if target.ndim == 1:
            target = ops.one_hot(target, self.num_classes, self.on_value, self.off_value, -1)
        if self.thresholded:
            target = ops.cast(target > self.target_threshold, ms.float32)
        return ops.binary_cross_entropy_with_logits(logits, target, ops.ones_like(logits), ops.ones_like(logits))


def build_loss(name: str, num_classes: int, smoothing: float, soft_targets: bool = False,
               bce_target_thresh: float = 0.0) -> nn.Cell:
    """The config's ``loss`` (``CE`` | ``BCE``) as timm's train.py builds it.

    ``soft_targets`` (Mixup/CutMix on): the targets arrive as distributions that already include the label
    smoothing, so CE is :class:`SoftTargetCrossEntropy` and BCE gets no smoothing of its own.
    ``bce_target_thresh`` 0 is off.
    """
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got '{name}'")
    threshold = bce_target_thresh or None
    if name == "BCE":
        return BinaryCrossEntropy(num_classes, 0.0 if soft_targets else smoothing, threshold)
    return SoftTargetCrossEntropy() if soft_targets else CrossEntropySmooth(num_classes, smoothing)

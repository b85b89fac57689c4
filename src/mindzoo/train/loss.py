"""Classification loss."""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops


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

"""Top-1 / top-5 accuracy from correct *counts*, so ranks and partial batches add up exactly.

Accuracy is ``sum(correct) / sum(images)`` over every image of the split: the last partial batch is
kept, and in distributed evaluation the counts (not per-rank accuracies) are all-reduced.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import asdict, dataclass
from typing import List, Optional

import mindspore as ms
import numpy as np
from mindspore import nn, ops

logger = logging.getLogger("mindzoo")


@dataclass
class EvalResult:
    correct_top1: int
    correct_top5: int
    total: int
    seconds: float = 0.0

    @property
    def top1(self) -> float:
        return self.correct_top1 / self.total if self.total else 0.0

    @property
    def top5(self) -> float:
        return self.correct_top5 / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "top1": self.top1, "top5": self.top5}


class TopKCorrect(nn.Cell):
    """Network + in-graph counting: returns (#top-1 correct, #top-k correct) for a batch.

    A label is in the top k when fewer than k classes score strictly higher (ties count in its favour).
    """

    def __init__(self, network: nn.Cell, k: int = 5) -> None:
        super().__init__(auto_prefix=False)
        self.network = network
        self.k = k

    def construct(self, images: ms.Tensor, labels: ms.Tensor):
        logits = ops.cast(self.network(images), ms.float32)
        target = ops.gather_elements(logits, 1, labels.astype(ms.int32).reshape((-1, 1)))
        rank = (logits > target).astype(ms.int32).sum(axis=1)  # classes scoring strictly above the label
        return (rank < 1).astype(ms.int32).sum(), (rank < self.k).astype(ms.int32).sum()


class _AllReduceSum(nn.Cell):
    def __init__(self) -> None:
        super().__init__()
        self.all_reduce = ops.AllReduce(ops.ReduceOp.SUM)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.all_reduce(x)


def _progress(done: int, total: Optional[int], start: float) -> None:
    if not sys.stderr.isatty() or not total:
        return
    width = 30
    filled = int(width * done / total)
    rate = done / max(time.time() - start, 1e-9)
    sys.stderr.write(f"\reval [{'#' * filled}{'.' * (width - filled)}] {done}/{total} batches {rate:.1f} it/s")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def evaluate(
    network: nn.Cell,
    dataset: "ms.dataset.Dataset",
    distributed: bool = False,
    show_progress: bool = False,
    counter: Optional[TopKCorrect] = None,
) -> EvalResult:
    """Count top-1/top-5 hits over every batch of ``dataset``; sum across ranks when distributed.

    Pass the same ``counter`` on every call (eval-while-train) so its graph compiles once.
    """
    was_training = network.training
    network.set_train(False)
    counter = counter or TopKCorrect(network)
    counter.set_train(False)
    num_batches = dataset.get_dataset_size()
    correct1 = correct5 = total = 0
    start = time.time()
    for i, batch in enumerate(dataset.create_tuple_iterator(num_epochs=1)):
        images, labels = batch[0], batch[1]
        c1, c5 = counter(images, labels)
        correct1 += int(c1.asnumpy())
        correct5 += int(c5.asnumpy())
        total += int(labels.shape[0])
        if show_progress:
            _progress(i + 1, num_batches, start)
    if distributed:
        summed = _AllReduceSum()(ms.Tensor(np.array([correct1, correct5, total], dtype=np.float32))).asnumpy()
        correct1, correct5, total = (int(round(v)) for v in summed)
    network.set_train(was_training)
    return EvalResult(correct1, correct5, total, time.time() - start)


def result_lines(result: EvalResult, ckpt: object) -> List[str]:
    """What eval.py prints per checkpoint, in both model zoos' formats.

    The official ResNet eval.py's ``result: {...} ckpt= ...`` line, then the ResNeXt152_64x4d eval.py's two
    ``after allreduce eval:`` lines (its ``acc=80.08%(TOP1)`` / ``acc=94.71%(TOP5)``), from the summed counts.
    """
    return [
        f"result: {{'top_1_accuracy': {result.top1}, 'top_5_accuracy': {result.top5}}} ckpt= {ckpt}",
        "after allreduce eval: top1_correct={}, tot={},acc={:.2f}%(TOP1)".format(
            result.correct_top1, result.total, 100.0 * result.correct_top1 / (result.total or 1)),
        "after allreduce eval: top5_correct={}, tot={},acc={:.2f}%(TOP5)".format(
            result.correct_top5, result.total, 100.0 * result.correct_top5 / (result.total or 1)),
    ]

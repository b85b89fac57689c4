"""Top-1 / top-5 accuracy from correct *counts*, so ranks and partial batches add up exactly.

Accuracy is ``sum(correct) / sum(images)`` over every image of the split: the last partial batch is
kept, and in distributed evaluation the counts (not per-rank accuracies) are all-reduced.

What counts as correct (the same rule as ``mindzoo.deploy.harness_files.accuracy``, which scores the C++ harness's
results): an image is top-k correct when **all its logits are finite** and **fewer than k other classes score
greater than or equal to its label**. A NaN or +/-inf anywhere in an image's logits makes it wrong at every k,
and a tie counts against the label, so a diverged (NaN) or constant network scores 0% top-1 instead of 100%.
With fewer than k classes every image with finite logits is top-k correct.
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
    nonfinite: int = 0  # images whose logits held a NaN or inf (all counted wrong)

    @property
    def top1(self) -> float:
        return self.correct_top1 / self.total if self.total else 0.0

    @property
    def top5(self) -> float:
        return self.correct_top5 / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "top1": self.top1, "top5": self.top5}


def improves_on(result: EvalResult, best_top1: float) -> bool:
    """Whether ``result`` should replace the best checkpoint: a higher top-1 from a network whose logits were
    all finite. A diverged network never becomes ``best_acc.ckpt``, whatever it scored."""
    return result.nonfinite == 0 and result.top1 > best_top1


class TopKCorrect(nn.Cell):
    """Network + in-graph counting: (#top-1 correct, #top-k correct, #images with non-finite logits) of a batch.

    The rule is the module docstring's: non-finite logits are never correct; ties count against the label.
    """

    def __init__(self, network: nn.Cell, k: int = 5) -> None:
        super().__init__(auto_prefix=False)
        self.network = network
        self.k = k

    def construct(self, images: ms.Tensor, labels: ms.Tensor):
        logits = ops.cast(self.network(images), ms.float32)
        target = ops.gather_elements(logits, 1, labels.astype(ms.int32).reshape((-1, 1)))
        # other classes scoring >= the label (the label itself is always >= itself); a NaN label compares False
        rank = (logits >= target).astype(ms.int32).sum(axis=1) - 1
        finite = ops.isfinite(logits).all(axis=1)
        top1 = ops.logical_and(finite, rank < 1).astype(ms.int32).sum()
        topk = ops.logical_and(finite, rank < self.k).astype(ms.int32).sum()
        return top1, topk, ops.logical_not(finite).astype(ms.int32).sum()


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
    correct1 = correct5 = total = nonfinite = 0
    start = time.time()
    for i, batch in enumerate(dataset.create_tuple_iterator(num_epochs=1)):
        images, labels = batch[0], batch[1]
        c1, c5, bad = counter(images, labels)
        correct1 += int(c1.asnumpy())
        correct5 += int(c5.asnumpy())
        nonfinite += int(bad.asnumpy())
        total += int(labels.shape[0])
        if show_progress:
            _progress(i + 1, num_batches, start)
    if distributed:
        counts = np.array([correct1, correct5, total, nonfinite], dtype=np.float32)
        correct1, correct5, total, nonfinite = (int(round(v)) for v in _AllReduceSum()(ms.Tensor(counts)).asnumpy())
    network.set_train(was_training)
    if nonfinite:
        logger.warning("%d of %d images got non-finite logits (NaN/inf): the network has diverged; they count as "
                       "wrong", nonfinite, total)
    return EvalResult(correct1, correct5, total, time.time() - start, nonfinite)


def result_lines(result: EvalResult, ckpt: object) -> List[str]:
    """What eval.py prints per checkpoint, in both model zoos' formats.

    The official ResNet eval.py's ``result: {...} ckpt= ...`` line, then the ResNeXt152_64x4d eval.py's two
    ``after allreduce eval:`` lines (its ``acc=80.08%(TOP1)`` / ``acc=94.71%(TOP5)``), from the summed counts.
    """
    lines = [f"result: {{'top_1_accuracy': {result.top1}, 'top_5_accuracy': {result.top5}}} ckpt= {ckpt}"]
    for k, correct, accuracy in ((1, result.correct_top1, result.top1), (5, result.correct_top5, result.top5)):
        lines.append(f"after allreduce eval: top{k}_correct={correct}, tot={result.total},acc={100.0 * accuracy:.2f}%"
                     f"(TOP{k})")
    return lines

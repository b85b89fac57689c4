"""Evaluate many checkpoints of one architecture with one compiled graph (eval.py over a directory).

A training run leaves one checkpoint per epoch (90 is normal), and GRAPH mode compiles a graph per network
structure. Building and folding a fresh network per checkpoint compiled each of them again. Here the network
is built from the first checkpoint and, with ``fold_bn``, folded once; every later checkpoint is loaded into an
unfolded twin with :func:`mindzoo.weights.checkpoint.load_weights` (its strict key/shape checks), folded in numpy with
the arithmetic of :mod:`mindzoo.models.fold` and assigned into the folded network's Parameters. Only values
change, never the structure, so the counting graph compiles once per batch shape (the full batches, and the
last partial batch if the split has one), whatever the number of checkpoints. Without ``fold_bn`` checkpoints are loaded
into the one network directly.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Union

import mindspore as ms
from mindspore import nn

from mindzoo.weights.checkpoint import load_weights
from mindzoo.eval.metrics import EvalResult, TopKCorrect, evaluate
from mindzoo.models import create_model
from mindzoo.models.fold import FoldedPair, fold_batchnorm, fold_plan, load_folded

PathLike = Union[str, Path]


class CheckpointEvaluator:
    """One eval network + counter for a sequence of checkpoints: :meth:`load` one, then :meth:`evaluate`."""

    def __init__(self, net_name: str, num_classes: int, first_checkpoint: PathLike, fold_bn: bool = True,
                 raw_weights: bool = False) -> None:
        self.net_name, self.num_classes, self.fold_bn = net_name, num_classes, fold_bn
        self.raw_weights = raw_weights  # checkpoints with EMA weights: load the raw ones instead
        self.first_checkpoint = Path(first_checkpoint)
        self.network: nn.Cell = create_model(net_name, num_classes=num_classes, pretrained=str(first_checkpoint),
                                             raw_weights=raw_weights)
        self.network.set_train(False)
        self.plan: List[FoldedPair] = []
        self.folded = 0
        if fold_bn:
            self.plan = fold_plan(self.network)
            self.folded = fold_batchnorm(self.network)
        self.counter = TopKCorrect(self.network)
        self._unfolded: Optional[nn.Cell] = None  # built when a second checkpoint is loaded into a folded network
        self.loaded = self.first_checkpoint

    def load(self, checkpoint: PathLike) -> None:
        """Make the network compute ``checkpoint``'s logits, without changing its graph."""
        checkpoint = Path(checkpoint)
        if checkpoint == self.loaded:
            return
        if not self.fold_bn:
            load_weights(self.network, checkpoint, raw_weights=self.raw_weights)
        else:
            if self._unfolded is None:  # the first network's architecture; its weights come from each load
                self._unfolded = create_model(self.net_name, num_classes=self.num_classes,
                                              variant=self.network.variant)
            load_weights(self._unfolded, checkpoint, raw_weights=self.raw_weights)
            load_folded(self.network, self.plan, {p.name: p.asnumpy() for p in self._unfolded.get_parameters()})
        self.loaded = checkpoint

    def evaluate(self, dataset: "ms.dataset.Dataset", distributed: bool = False,
                 show_progress: bool = False) -> EvalResult:
        return evaluate(self.network, dataset, distributed=distributed, show_progress=show_progress,
                        counter=self.counter)

    @property
    def graphs_compiled(self) -> int:
        """Graphs GRAPH mode compiled for the counter so far (its compile cache: one entry per compile)."""
        return len(self.counter.compile_cache)

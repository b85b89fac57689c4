"""Top-1/top-5 counting: in graph against numpy, and one rule for eval.py and postprocess.py on hard cases.

The rule (mindzoo.eval.metrics and mindzoo.deploy.harness_files.accuracy): an image is top-k correct when all its logits are
finite and fewer than k other classes score >= its label; NaN/inf are never correct, ties count against the label.
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindzoo.eval.metrics import EvalResult, TopKCorrect, improves_on
from mindzoo.deploy.harness_files import accuracy

NAN, INF = float("nan"), float("inf")

# (label, logits, top-1 correct, top-5 correct)
CASES_10 = [
    (3, [0, 1, 2, 9, 3, 4, 0, 0, 0, 0], True, True),           # clear winner
    (2, [5, 9, 7, 0, 0, 0, 0, 0, 8, 0], False, True),          # ranked 3rd
    (9, [9, 8, 7, 6, 5, 4, 0, 0, 0, 3], False, False),         # ranked 7th
    (0, [NAN] * 10, False, False),                             # a diverged network
    (4, [0, 0, 0, 0, NAN, 0, 0, 0, 0, 0], False, False),       # NaN in the label's own logit
    (4, [0, 0, 0, 0, 9, 0, 0, NAN, 0, 0], False, False),       # NaN elsewhere: the whole image is untrustworthy
    (1, [0, INF, 0, 0, 0, 0, 0, 0, 0, 0], False, False),       # +inf on the label
    (1, [-INF, 5, 0, 0, 0, 0, 0, 0, 0, 0], False, False),      # -inf elsewhere
    (0, [1.0] * 10, False, False),                             # constant logits, label class 0
    (7, [1.0] * 10, False, False),                             # constant logits, label class 7
    (5, [0, 0, 0, 0, 0, 2, 2, 0, 0, 0], False, True),          # exact tie with one other class
    (6, [0, 0, 0, 0, 0, 2, 2, 0, 0, 0], False, True),          # the same tie seen from the other class
    (0, [3, 3, 3, 3, 3, 3, 0, 0, 0, 0], False, False),         # six-way tie at the top: 5 others >= label
    (0, [3, 3, 3, 3, 3, 0, 0, 0, 0, 0], False, True),          # five-way tie: 4 others >= label
    (2, [0, 0, 1e-7, 0, 0, 0, 0, 0, 0, 0], True, True),        # a tiny but strict margin wins
]
CASES_3 = [  # fewer classes than k = 5: every image with finite logits is top-5 correct
    (2, [0.1, 0.2, 0.05], False, True),
    (1, [0.5, 0.2, 0.3], False, True),
    (0, [0.5, 0.2, 0.3], True, True),
    (1, [1.0, 1.0, 1.0], False, True),
    (1, [1.0, NAN, 1.0], False, False),
    (0, [INF, 0.0, 0.0], False, False),
]


def _graph_counts(network: "nn.Cell | TopKCorrect", inputs: np.ndarray, labels: np.ndarray):
    """Counts of a counter compiled in GRAPH mode; pass a TopKCorrect to reuse its graph across calls."""
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        counter = network if isinstance(network, TopKCorrect) else TopKCorrect(network)
        counter.set_train(False)
        c1, c5, bad = counter(ms.Tensor(inputs), ms.Tensor(labels))
    finally:
        ms.set_context(mode=previous)
    return int(c1.asnumpy()), int(c5.asnumpy()), int(bad.asnumpy())


class _Scale(nn.Cell):
    """A real network layer in front of the counter: logits = 2 * x through a Dense with a fixed weight."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.dense = nn.Dense(num_classes, num_classes, has_bias=False,
                              weight_init=ms.Tensor(2 * np.eye(num_classes, dtype=np.float32)))

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.dense(x)


@pytest.mark.parametrize("cases", [CASES_10, CASES_3], ids=["10_classes", "3_classes"])
@pytest.mark.parametrize("one_at_a_time", [False, True], ids=["batch", "single"])
def test_graph_counter_and_postprocess_agree_on_every_hard_case(cases, one_at_a_time):
    num_classes = len(cases[0][1])
    groups = [[case] for case in cases] if one_at_a_time else [cases]
    identity, scale = TopKCorrect(nn.Identity()), TopKCorrect(_Scale(num_classes))  # one graph each for all groups
    total1 = total5 = 0
    for group in groups:
        logits = np.array([c[1] for c in group], dtype=np.float32)
        labels = np.array([c[0] for c in group], dtype=np.int32)
        expected1, expected5 = sum(c[2] for c in group), sum(c[3] for c in group)
        nonfinite = int((~np.isfinite(logits)).any(axis=1).sum())
        assert _graph_counts(identity, logits, labels) == (expected1, expected5, nonfinite), group
        if not np.isinf(logits).any():  # x -> 2x keeps NaN and ties; inf * 0 in the matmul would make NaN
            assert _graph_counts(scale, logits / 2, labels) == (expected1, expected5, nonfinite)
        total1, total5 = total1 + expected1, total5 + expected5
    results = {f"img{i}": np.array(c[1], dtype=np.float32) for i, c in enumerate(cases)}
    label_map = {f"img{i}": c[0] for i, c in enumerate(cases)}
    total, (top1, top5) = accuracy(results, label_map, ks=(1, 5))
    assert (total, top1, top5) == (len(cases), total1 / len(cases), total5 / len(cases))


def test_a_nan_network_scores_zero_not_one_hundred_percent():
    logits = np.full((6, 4), np.nan, dtype=np.float32)
    labels = np.arange(6, dtype=np.int32) % 4
    assert _graph_counts(nn.Identity(), logits, labels) == (0, 0, 6)
    results = {str(i): row for i, row in enumerate(logits)}
    assert accuracy(results, {str(i): int(label) for i, label in enumerate(labels)}) == (6, [0.0, 0.0])


@pytest.mark.parametrize("num_classes", [3, 10])
def test_counts_match_numpy_topk(num_classes):
    rng = np.random.default_rng(num_classes)
    logits = rng.standard_normal((50, num_classes)).astype(np.float32)
    labels = rng.integers(0, num_classes, 50).astype(np.int32)
    c1, c5, bad = _graph_counts(nn.Identity(), logits, labels)
    order = np.argsort(-logits, axis=1)
    assert c1 == int(np.sum(order[:, 0] == labels))
    assert c5 == int(np.sum((order[:, :5] == labels[:, None]).any(axis=1)))
    assert 0 < c1 < c5 <= 50 and bad == 0


def test_eval_result_is_counts_over_total():
    result = EvalResult(correct_top1=7, correct_top5=9, total=10)
    assert (result.top1, result.top5) == (0.7, 0.9)
    assert result.to_dict()["top1"] == 0.7 and EvalResult(0, 0, 0).top1 == 0.0
    assert result.to_dict()["nonfinite"] == 0


def test_a_diverged_network_never_becomes_the_best_checkpoint():
    assert improves_on(EvalResult(1, 1, 10), best_top1=-1.0)
    assert not improves_on(EvalResult(1, 1, 10), best_top1=0.1)
    assert not improves_on(EvalResult(0, 0, 10, nonfinite=10), best_top1=-1.0)
    assert not improves_on(EvalResult(9, 9, 10, nonfinite=1), best_top1=0.0)


def test_postprocess_label_outside_the_logits_is_an_error():
    from mindzoo.errors import InferIOError

    with pytest.raises(InferIOError, match="label 3 of 'x' is not a class of its 3 logits"):
        accuracy({"x": np.zeros(3, np.float32)}, {"x": 3})

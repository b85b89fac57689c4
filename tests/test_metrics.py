"""Top-1/top-5 counting in graph against numpy, including k larger than the class count."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindzoo.eval import EvalResult, TopKCorrect


@pytest.mark.parametrize("num_classes", [3, 10])
def test_counts_match_numpy_topk(num_classes):
    rng = np.random.default_rng(num_classes)
    logits = rng.standard_normal((50, num_classes)).astype(np.float32)
    labels = rng.integers(0, num_classes, 50).astype(np.int32)
    counter = TopKCorrect(nn.Identity())
    c1, c5 = counter(ms.Tensor(logits), ms.Tensor(labels))
    order = np.argsort(-logits, axis=1)
    assert int(c1.asnumpy()) == int(np.sum(order[:, 0] == labels))
    assert int(c5.asnumpy()) == int(np.sum((order[:, :5] == labels[:, None]).any(axis=1)))
    assert 0 < int(c1.asnumpy()) < int(c5.asnumpy()) <= 50


def test_eval_result_is_counts_over_total():
    result = EvalResult(correct_top1=7, correct_top5=9, total=10)
    assert (result.top1, result.top5) == (0.7, 0.9)
    assert result.to_dict()["top1"] == 0.7 and EvalResult(0, 0, 0).top1 == 0.0

import math

import numpy as np
import pytest

import mindzoo  # noqa: F401  (sets the oneDNN ISA before MindSpore loads)
import mindspore as ms
from mindspore import nn

from mindzoo.train.loss import CrossEntropySmooth

LOGITS = np.array([[2.0, -1.0, 0.5, 0.0], [0.1, 0.2, 3.0, -2.0], [-1.0, 4.0, 0.0, 1.0]], np.float32)
LABELS = np.array([0, 2, 3], np.int32)


def numpy_smoothed_ce(logits: np.ndarray, labels: np.ndarray, s: float) -> float:
    x = logits.astype(np.float64)
    logp = x - x.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    c = x.shape[1]
    target = (1 - s) * np.eye(c)[labels] + s / c
    return float(-(target * logp).sum(1).mean())


# CPU log_softmax is accurate to ~2e-6 relative (not float32 eps), hence rel=1e-5 below.
def run(s: float, logits: np.ndarray = LOGITS, labels: np.ndarray = LABELS) -> ms.Tensor:
    return CrossEntropySmooth(logits.shape[1], s)(ms.Tensor(logits), ms.Tensor(labels))


@pytest.mark.parametrize("s", [0.0, 0.1])
def test_matches_numpy_closed_form(s):
    out = run(s)
    assert out.shape == () and out.dtype == ms.float32
    assert float(out) == pytest.approx(numpy_smoothed_ce(LOGITS, LABELS, s), rel=1e-5)


def test_zero_smoothing_is_plain_cross_entropy():
    plain = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")(ms.Tensor(LOGITS), ms.Tensor(LABELS))
    assert float(run(0.0)) == pytest.approx(float(plain), rel=1e-5)
    logp = LOGITS - np.log(np.exp(LOGITS.astype(np.float64)).sum(1, keepdims=True))
    assert float(run(0.0)) == pytest.approx(-logp[np.arange(3), LABELS].mean(), rel=1e-5)


def test_smoothing_convention_is_s_over_c_on_every_class():
    # One example, uniform logits except the true class: with target (1-s)*onehot + s/C the loss is
    # -(1 - s + s/C) * logp_true - (s/C) * sum(logp_other); with s/(C-1) on the others it would differ.
    logits = np.array([[math.log(3.0), 0.0, 0.0]], np.float32)  # p = [0.6, 0.2, 0.2]
    s = 0.3
    expected = -(1 - s + s / 3) * math.log(0.6) - 2 * (s / 3) * math.log(0.2)
    assert float(run(s, logits, np.array([0], np.int32))) == pytest.approx(expected, rel=1e-5)


def test_uniform_logits_give_log_c_for_any_smoothing():
    logits = np.zeros((2, 5), np.float32)
    for s in (0.0, 0.1, 0.5):
        assert float(run(s, logits, np.array([1, 4], np.int32))) == pytest.approx(math.log(5), rel=1e-5)


def test_fp16_logits_give_fp32_loss():
    out = run(0.1, LOGITS.astype(np.float16))
    assert out.dtype == ms.float32
    assert float(out) == pytest.approx(numpy_smoothed_ce(LOGITS, LABELS, 0.1), rel=1e-3)


def test_rejects_bad_smoothing():
    with pytest.raises(ValueError, match="label smoothing"):
        CrossEntropySmooth(4, 1.0)

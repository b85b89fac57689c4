"""TrainStep in GRAPH mode on CPU: loss scaling, overflow skipping, closed-form SGD-momentum, AMP O2."""
from typing import Dict, Optional, Union

import numpy as np
import pytest

from helpers import conv_bn_dense, dense_net

import mindzoo  # noqa: F401  (sets the oneDNN ISA before MindSpore loads)
import mindspore as ms
from mindspore import nn

from mindzoo.train.amp import TrainStep, build_train_step
from mindzoo.train.loss import CrossEntropySmooth
from mindzoo.train.optim import build_optimizer, param_groups

SCALE_STATE = ("loss_scale", "loss_scale_clean_steps", "global_step")
pytestmark = pytest.mark.usefixtures("graph_mode")

X = np.array([[1.0, -2.0, 0.5], [0.3, 0.8, -1.0]], np.float32)
Y = np.array([0, 1], np.int32)


def snapshot(cell: nn.Cell) -> Dict[str, np.ndarray]:
    return {p.name: p.asnumpy().copy() for p in cell.get_parameters()}


def dense_step(loss_scale_type: str = "dynamic", loss_scale: float = 1.0, scale_window: int = 1000,
               lr: Union[float, np.ndarray] = 0.1, weight_decay: float = 0.0, nesterov: bool = False,
               net: Optional[nn.Dense] = None) -> TrainStep:
    net = net if net is not None else dense_net()
    opt = build_optimizer(net, lr, momentum=0.9, weight_decay=weight_decay, nesterov=nesterov)
    return build_train_step(net, CrossEntropySmooth(2, 0.0), opt, "O0", loss_scale_type, loss_scale, 2.0, scale_window)


def run(step: TrainStep, x: np.ndarray = X, y: np.ndarray = Y):
    loss, overflow, scale = step(ms.Tensor(x), ms.Tensor(y))
    return float(loss), bool(overflow), float(scale)


def test_param_groups_exempt_bn_and_biases_from_weight_decay():
    net = mindzoo.create_model("resnet18", num_classes=4)
    decay, no_decay, order = param_groups(net, 1e-4)
    decay_names = {p.name for p in decay["params"]}
    no_decay_names = {p.name for p in no_decay["params"]}
    assert decay["weight_decay"] == 1e-4 and no_decay["weight_decay"] == 0.0
    assert {"conv1.weight", "layer1.0.conv1.weight", "fc.weight"} <= decay_names
    assert {"bn1.gamma", "bn1.beta", "layer4.1.bn2.gamma", "fc.bias"} <= no_decay_names
    assert all(len(p.shape) > 1 for p in decay["params"])
    assert not any("moving" in n for n in decay_names | no_decay_names)
    assert [p.name for p in order["order_params"]] == [p.name for p in net.trainable_params()]


def test_param_groups_skip_frozen_parameters():
    net = mindzoo.create_model("resnet18", num_classes=4)
    for p in net.get_parameters():
        p.requires_grad = p.name.startswith("fc.")
    groups = param_groups(net, 1e-4)
    assert [[p.name for p in g["params"]] for g in groups[:2]] == [["fc.weight"], ["fc.bias"]]


@pytest.mark.parametrize("nesterov", [False, True])
def test_o0_two_steps_equal_closed_form_sgd_momentum(nesterov):
    """Softmax-CE grads of a Dense, torch-style momentum, decay on the weight only, LR indexed by global step."""
    net = dense_net()
    w, b = net.weight.asnumpy().astype(np.float64), net.bias.asnumpy().astype(np.float64)
    lrs, mom, wd = np.array([0.1, 0.05], np.float32), 0.9, 0.01
    step = dense_step("fixed", lr=lrs, weight_decay=wd, nesterov=nesterov, net=net)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for lr in lrs.astype(np.float64):
        logits = X @ w.T + b
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        dlogits = (p - np.eye(2)[Y]) / len(Y)
        gw, gb = dlogits.T @ X + wd * w, dlogits.sum(0)
        vw, vb = mom * vw + gw, mom * vb + gb
        w = w - lr * ((gw + mom * vw) if nesterov else vw)
        b = b - lr * ((gb + mom * vb) if nesterov else vb)
        expected_loss = -np.log(p[np.arange(2), Y]).mean()
        loss, overflow, _ = run(step)
        assert loss == pytest.approx(expected_loss, rel=1e-5) and not overflow
    np.testing.assert_allclose(net.weight.asnumpy(), w, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(net.bias.asnumpy(), b, rtol=1e-5, atol=1e-7)
    assert int(step.optimizer.global_step.asnumpy()[0]) == 2


def test_fixed_loss_scale_is_unscaled_exactly():
    unscaled, scaled = dense_step("fixed", 1.0), dense_step("fixed", 1024.0)
    for _ in range(2):
        loss1, _, s1 = run(unscaled)
        loss2, overflow, s2 = run(scaled)
        assert loss1 == pytest.approx(loss2, rel=1e-6) and not overflow
        assert (s1, s2) == (1.0, 1024.0)
    for name, value in snapshot(unscaled.network).items():
        np.testing.assert_allclose(snapshot(scaled.network)[name], value, rtol=1e-6, atol=1e-8)
    assert float(scaled.loss_scale.asnumpy()) == 1024.0


@pytest.mark.parametrize("cause", ["scale_overflows_grads", "nan_input"])
def test_dynamic_overflow_skips_update_and_halves_scale(cause):
    step = dense_step("dynamic", 8.0)
    run(step)  # a clean step first, so the momentum buffers are non-zero and the counter is 1
    if cause == "scale_overflows_grads":
        # 2**127 * |grad| > float32 max: the loss is finite, the scaled gradients are inf.
        step.loss_scale.set_data(ms.Tensor(2.0 ** 127, ms.float32))
        x = X * 100
    else:
        x = np.where(np.arange(6).reshape(2, 3) == 4, np.inf, X).astype(np.float32)
    before = snapshot(step)
    loss, overflow, used = run(step, x)
    after = snapshot(step)
    assert overflow and used == float(before["loss_scale"])
    assert (cause == "nan_input") == (not np.isfinite(loss))
    for name, value in before.items():
        if name not in SCALE_STATE:
            np.testing.assert_array_equal(after[name], value, err_msg=name)
    assert after["loss_scale"] == before["loss_scale"] / 2
    assert before["loss_scale_clean_steps"] == 1 and after["loss_scale_clean_steps"] == 0
    assert np.abs(before["moments.weight"]).min() > 0
    assert after["global_step"][0] == before["global_step"][0] + 1


def test_overflow_skip_keeps_conv_bn_weights_and_moments():
    """On a conv+BN net every trainable weight and momentum buffer is untouched by a skipped step (BN running
    statistics are updated by the forward pass itself, as in any framework, so they are not compared)."""
    net = conv_bn_dense()
    opt = build_optimizer(net, 0.1, 0.9, 1e-4)
    step = build_train_step(net, CrossEntropySmooth(3, 0.1), opt, "O0", "dynamic", 2.0 ** 127, 2.0, 10)
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32) * 100
    before = snapshot(step)
    _, overflow, _ = run(step, x, np.array([0, 2], np.int32))
    after = snapshot(step)
    assert overflow
    compared = [n for n in before if n not in SCALE_STATE and "moving_" not in n]
    assert {"conv.weight", "bn.gamma", "fc.weight", "moments.conv.weight", "moments.bn.gamma"} <= set(compared)
    for name in compared:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    assert float(step.loss_scale.asnumpy()) == 2.0 ** 126


def test_dynamic_scale_grows_after_window_and_overflow_resets_the_count():
    step = dense_step("dynamic", 4.0, scale_window=2)
    nan_x = np.full_like(X, np.inf)
    history = []
    for x in (X, nan_x, X, X, X, X):
        _, overflow, _ = run(step, x)
        history.append((overflow, float(step.loss_scale.asnumpy()), int(step.clean_steps.asnumpy())))
    assert history == [
        (False, 4.0, 1),
        (True, 2.0, 0),
        (False, 2.0, 1),
        (False, 4.0, 0),
        (False, 4.0, 1),
        (False, 8.0, 0),
    ]


def test_scale_state_round_trips_through_a_checkpoint(tmp_path):
    """Resume: a fresh TrainStep loaded from a checkpoint of the old one continues exactly like the old one."""
    step = dense_step("dynamic", 16.0, scale_window=3)
    for x in (X, np.full_like(X, np.inf), X):
        run(step, x)
    ms.save_checkpoint(step, str(tmp_path / "s.ckpt"))
    resumed = dense_step("dynamic", 16.0, scale_window=3, net=dense_net(seed=1))
    assert ms.load_param_into_net(resumed, ms.load_checkpoint(str(tmp_path / "s.ckpt")), strict_load=True) == ([], [])
    assert float(resumed.loss_scale.asnumpy()) == 8.0 and int(resumed.clean_steps.asnumpy()) == 1
    assert int(resumed.optimizer.global_step.asnumpy()[0]) == 3
    for _ in range(2):
        assert run(resumed) == run(step)
    assert float(resumed.loss_scale.asnumpy()) == 16.0
    for name, value in snapshot(step).items():
        np.testing.assert_array_equal(snapshot(resumed)[name], value, err_msg=name)


def test_dynamic_scale_never_drops_below_one():
    step = dense_step("dynamic", 1.0)
    _, overflow, _ = run(step, np.full_like(X, np.inf))
    assert overflow and float(step.loss_scale.asnumpy()) == 1.0


def test_fixed_scale_reports_overflow_but_does_not_skip():
    step = dense_step("fixed", 4.0)
    _, overflow, _ = run(step, np.full_like(X, np.inf))
    assert overflow and float(step.loss_scale.asnumpy()) == 4.0
    assert not np.isfinite(step.network.network.weight.asnumpy()).all()


def test_o2_runs_on_cpu_with_fp32_loss_close_to_o0():
    x = np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype(np.float32)
    y = np.array([0, 2], np.int32)
    losses = {}
    for level in ("O0", "O2"):
        ms.set_seed(3)
        net = conv_bn_dense()
        opt = build_optimizer(net, 0.01, 0.9, 1e-4)
        step = build_train_step(net, CrossEntropySmooth(3, 0.1), opt, level, "dynamic", 1.0, 2.0, 1000)
        loss, overflow, _ = step(ms.Tensor(x), ms.Tensor(y))
        assert loss.dtype == ms.float32 and not bool(overflow)
        assert all(np.isfinite(p.asnumpy()).all() and p.dtype == ms.float32 for p in net.get_parameters())
        losses[level] = float(loss)
    assert np.isfinite(losses["O2"])
    assert losses["O2"] == pytest.approx(losses["O0"], abs=1e-2)
    assert losses["O2"] != losses["O0"]  # fp16 compute really happened


def test_rejects_bad_configuration():
    net = dense_net()
    opt = build_optimizer(net, 0.1, 0.9, 0.0)
    with pytest.raises(ValueError, match="amp_level"):
        build_train_step(net, CrossEntropySmooth(2), opt, "O4")
    with pytest.raises(ValueError, match="loss_scale_type"):
        build_train_step(net, CrossEntropySmooth(2), opt, "O0", "static")
    scaled_opt = nn.Momentum(net.trainable_params(), 0.1, 0.9, loss_scale=8.0)
    with pytest.raises(ValueError, match="loss_scale=1"):
        build_train_step(net, CrossEntropySmooth(2), scaled_opt)

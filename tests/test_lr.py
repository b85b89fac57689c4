import math

import numpy as np
import pytest

import mindzoo  # noqa: F401  (sets the oneDNN ISA before MindSpore loads)
from mindzoo.errors import ConfigError
from mindzoo.train.lr import (
    build_lr_schedule,
    constant_lr,
    cosine_lr,
    poly_lr,
    scale_lr,
    step_lr,
    warmup_lr,
)


def test_scale_lr_linear_rule_and_disabled():
    assert scale_lr(0.1, 512, 256) == pytest.approx(0.2)
    assert scale_lr(0.1, 64, 256) == pytest.approx(0.025)
    assert scale_lr(0.1, 512, 0) == 0.1


def test_warmup_is_linear_and_stops_short_of_base():
    np.testing.assert_allclose(warmup_lr(0.0, 0.4, 4), [0.0, 0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(warmup_lr(0.1, 0.5, 2), [0.1, 0.3], rtol=1e-6)
    assert warmup_lr(0.0, 1.0, 0).shape == (0,)


def test_cosine_is_a_true_half_cosine_after_warmup():
    lr = cosine_lr(1.0, steps_per_epoch=2, epochs=3, warmup_epochs=1, warmup_lr_init=0.0, eta_min=0.0)
    expected = [0.0, 0.5] + [(1 + math.cos(math.pi * t / 4)) / 2 for t in range(4)]
    assert lr.dtype == np.float32 and lr.shape == (6,)
    np.testing.assert_allclose(lr, expected, rtol=1e-6, atol=1e-7)
    assert lr[2] == 1.0 and lr[4] == pytest.approx(0.5)


def test_cosine_ends_at_eta_min():
    lr = cosine_lr(0.1, steps_per_epoch=100, epochs=10, warmup_epochs=0, eta_min=0.01)
    t = np.arange(1000)
    np.testing.assert_allclose(lr, 0.01 + 0.09 * (1 + np.cos(np.pi * t / 1000)) / 2, rtol=1e-6)
    assert lr[500] == pytest.approx(0.055)
    assert np.all(np.diff(lr) <= 0) and lr.min() >= 0.01


def test_step_multiplies_by_gamma_at_each_milestone_epoch():
    lr = step_lr(1.0, steps_per_epoch=2, epochs=5, milestones=[2, 4], gamma=0.1, warmup_epochs=1)
    np.testing.assert_allclose(lr, [0.0, 0.5, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01], rtol=1e-6)


def test_step_without_warmup_and_unsorted_milestones():
    lr = step_lr(0.2, steps_per_epoch=1, epochs=4, milestones=[3, 1], gamma=0.5)
    np.testing.assert_allclose(lr, [0.2, 0.1, 0.1, 0.05], rtol=1e-6)


def test_poly():
    lr = poly_lr(1.0, steps_per_epoch=1, epochs=4, power=2.0)
    np.testing.assert_allclose(lr, [1.0, 0.5625, 0.25, 0.0625], rtol=1e-6)
    lr = poly_lr(1.0, steps_per_epoch=2, epochs=2, power=1.0, eta_min=0.2)
    np.testing.assert_allclose(lr, [1.0, 0.8, 0.6, 0.4], rtol=1e-6)


def test_constant_with_warmup():
    np.testing.assert_allclose(constant_lr(0.3, 3, 2, warmup_epochs=1, warmup_lr_init=0.0),
                               [0.0, 0.1, 0.2, 0.3, 0.3, 0.3], rtol=1e-6)


@pytest.mark.parametrize("name", ["constant", "step", "cosine", "poly"])
def test_factory_dispatches_and_has_one_value_per_global_step(name):
    kw = dict(warmup_epochs=2, warmup_lr_init=0.01)
    lr = build_lr_schedule(name, 0.4, 7, 10, milestones=[5, 8], gamma=0.1, eta_min=0.001, poly_power=2.0, **kw)
    direct = {
        "constant": constant_lr(0.4, 7, 10, **kw),
        "step": step_lr(0.4, 7, 10, [5, 8], 0.1, **kw),
        "cosine": cosine_lr(0.4, 7, 10, eta_min=0.001, **kw),
        "poly": poly_lr(0.4, 7, 10, eta_min=0.001, power=2.0, **kw),
    }[name]
    assert lr.dtype == np.float32 and lr.shape == (70,)
    np.testing.assert_array_equal(lr, direct)
    assert lr[0] == pytest.approx(0.01) and lr[14] == pytest.approx(0.4)


def test_factory_rejects_unknown_name_and_bad_sizes():
    with pytest.raises(ConfigError, match="unknown lr_schedule 'linear'.*cosine"):
        build_lr_schedule("linear", 0.1, 10, 5)
    with pytest.raises(ConfigError, match="warmup_epochs"):
        build_lr_schedule("cosine", 0.1, 10, 5, warmup_epochs=5)
    with pytest.raises(ConfigError, match="steps_per_epoch"):
        build_lr_schedule("cosine", 0.1, 0, 5)


def _zoo_warmup(step: int, warmup_steps: int, base: float) -> float:
    """The model zoo's ``linear_warmup_lr(i + 1, ...)`` from 0: step ``i`` of the warmup gets ``base * (i + 1) / W``."""
    return base * (step + 1) / warmup_steps


@pytest.mark.parametrize("steps, epochs, warmup, eta_min", [(7, 12, 1, 0.0), (3, 5, 0, 0.01), (10, 150, 2, 0.0)])
def test_warmup_cosine_annealing_is_the_model_zoos(steps, epochs, warmup, eta_min):
    """mindspore/models resnext152_64x4d ``warmup_cosine_annealing_lr`` (T_max = max_epoch): after the warmup, step
    ``i`` gets ``eta_min + (lr - eta_min) * (1 + cos(pi * (i // steps_per_epoch) / T_max)) / 2`` (per epoch, not
    per step)."""
    base, warm = 0.4, warmup * steps
    expected = [_zoo_warmup(i, warm, base) if i < warm else
                eta_min + (base - eta_min) * (1 + math.cos(math.pi * (i // steps) / epochs)) / 2
                for i in range(steps * epochs)]
    ours = build_lr_schedule("warmup_cosine_annealing", base, steps, epochs, warmup, 0.0, eta_min=eta_min)
    np.testing.assert_allclose(ours, np.float32(expected), rtol=1e-6, atol=1e-8)
    assert ours.dtype == np.float32


@pytest.mark.parametrize("steps, epochs, warmup, milestones", [
    (4, 10, 1, [3, 6, 8]), (5, 6, 0, [2, 2, 4]), (3, 8, 3, [1, 3, 5]),  # 1: inside the warmup, lost as there
])
def test_warmup_step_is_the_model_zoos_exponential(steps, epochs, warmup, milestones):
    """mindspore/models resnext152_64x4d ``warmup_step_lr`` ("exponential"): after the warmup the LR is multiplied
    by ``gamma`` once per milestone at step ``m * steps_per_epoch`` (twice for a repeated milestone); a milestone
    step inside the warmup is never applied."""
    base, gamma, warm = 0.1, 0.1, warmup * steps
    milestone_steps = [m * steps for m in milestones]
    expected, lr = [], base
    for i in range(steps * epochs):
        lr = _zoo_warmup(i, warm, base) if i < warm else lr * gamma ** milestone_steps.count(i)
        expected.append(lr)
    ours = build_lr_schedule("warmup_step", base, steps, epochs, warmup, 0.0, milestones, gamma)
    np.testing.assert_allclose(ours, np.float32(expected), rtol=1e-6, atol=1e-9)

"""The training-recipe keys of the config (MindCV's names) turned into the arguments of what the engine builds.

The engine calls these from a few lines (``build_network``, ``make_train_step``, ``_build_data``,
``TrainData.train_dataset``, ``EvalCallback``); each returns nothing extra when its options are off, so a run
without recipe options builds exactly what it built before.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator

from mindzoo.config import Config
from mindzoo.train.checks import mixup_active


def network_options(cfg: Config) -> Dict[str, Any]:
    """``create_model`` keyword arguments: stochastic depth when ``drop_path_rate > 0``."""
    return {"drop_path_rate": cfg.drop_path_rate} if cfg.drop_path_rate > 0 else {}


def optimizer_options(cfg: Config) -> Dict[str, Any]:
    """``build_optimizer`` keyword arguments: ``opt`` and the Adam betas/eps."""
    return {"opt": cfg.opt, "betas": tuple(cfg.opt_betas), "eps": cfg.opt_eps}


def build_loss_fn(cfg: Config):
    """``loss`` (CE | BCE) with the config's label smoothing; soft targets when Mixup/CutMix is on."""
    from mindzoo.train.loss import build_loss

    return build_loss(cfg.loss, cfg.num_classes, cfg.label_smoothing, mixup_active(cfg), cfg.bce_target_thresh)


def step_options(cfg: Config) -> Dict[str, Any]:
    """``build_train_step`` keyword arguments: EMA, gradient clipping, gradient accumulation."""
    return {"ema": cfg.ema, "ema_decay": cfg.ema_decay, "clip_grad": cfg.clip_grad, "clip_value": cfg.clip_value,
            "gradient_accumulation_steps": cfg.gradient_accumulation_steps}


def transform_options(cfg: Config) -> Dict[str, Any]:
    """``train_transforms`` keyword arguments: the ``auto_augment`` policy and random erasing."""
    from mindzoo.data.auto_augment import erasing_ops

    options: Dict[str, Any] = {}
    if cfg.auto_augment:
        options.update(auto_augment=cfg.auto_augment, seed=cfg.seed)
    if cfg.re_prob > 0:
        options["erasing"] = erasing_ops(cfg.re_prob, cfg.re_scale, cfg.re_ratio, cfg.re_value, cfg.seed)
    return options


def mix_batches(cfg: Config, dataset, epoch: int):
    """Epoch ``epoch``'s batched pipeline with Mixup/CutMix (:mod:`mindzoo.data.mixup`) when it is on.

    Apply it before ``skip``: the mixing of batch ``b`` then depends on the seed, the epoch and ``b`` only.
    """
    if not mixup_active(cfg):
        return dataset
    from mindzoo.data.mixup import Mixup, epoch_seed, mixup_batches

    mixup = Mixup(cfg.mixup, cfg.cutmix, cfg.cutmix_prob, cfg.mixup_switch_prob, cfg.label_smoothing,
                  cfg.num_classes, epoch_seed(cfg.seed, epoch))
    return mixup_batches(dataset, mixup)


@contextmanager
def scored_weights(train_step) -> Iterator[None]:
    """Inside: the network holds the EMA weights when the step keeps them (``ema``), else nothing changes.

    Eval-while-train scores, and ``best_acc.ckpt`` saves, what is inside; the raw weights come back afterwards,
    bit for bit, so training continues from them.
    """
    if not getattr(train_step, "ema", False):
        yield
        return
    import mindspore as ms

    sources = list(train_step.ema_sources)
    raw = [ms.Tensor(param.asnumpy().copy()) for param in sources]
    for param, ema in zip(sources, train_step.ema_weights):
        param.set_data(ms.Tensor(ema.asnumpy().copy()))
    try:
        yield
    finally:
        for param, value in zip(sources, raw):
            param.set_data(value)

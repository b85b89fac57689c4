"""The training options' allowed values and the checks train.py and the launchers run before MindSpore loads.

MindSpore-free on purpose: the launchers check a command line once, before any process starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from mindzoo.config import Config
from mindzoo.data.dataset import ImageFolderInfo, validate_image_folder
from mindzoo.distributed import check_fusion_config
from mindzoo.errors import ConfigError
from mindzoo.runtime import ensure_writable_dir

AMP_LEVELS = ("O0", "O1", "O2", "O3")
LOSS_SCALE_TYPES = ("fixed", "dynamic")
OPTIMIZERS = ("momentum", "adamw", "lamb")
LOSSES = ("CE", "BCE")
POSITIVE_KEYS = ("batch_size", "epoch_size", "num_classes", "save_checkpoint_epochs", "eval_interval")
NON_NEGATIVE_KEYS = ("save_checkpoint_steps",)


def check_train_config(cfg: Config) -> None:
    """Reject values the schema's types cannot catch, before anything is built."""
    if not cfg.data_path:
        raise ConfigError("data_path is empty; pass --data_path=DIR (ImageNet layout: DIR/train/<class>/*)")
    if cfg.amp_level not in AMP_LEVELS:
        raise ConfigError(f"amp_level must be one of {', '.join(AMP_LEVELS)}, got '{cfg.amp_level}'")
    if cfg.loss_scale_type not in LOSS_SCALE_TYPES:
        raise ConfigError(f"loss_scale_type must be one of {', '.join(LOSS_SCALE_TYPES)}, got '{cfg.loss_scale_type}'")
    for key in POSITIVE_KEYS:
        if cfg[key] <= 0:
            raise ConfigError(f"{key} must be positive, got {cfg[key]}")
    for key in NON_NEGATIVE_KEYS:
        if cfg[key] < 0:
            raise ConfigError(f"{key} must be 0 (off) or positive, got {cfg[key]}")
    if cfg.device_id < -1:
        raise ConfigError(f"device_id must be -1 (the launcher's DEVICE_ID, else card 0) or a card number, got "
                          f"{cfg.device_id}")
    if cfg.sink_size == 0 or cfg.sink_size < -1:
        raise ConfigError(f"sink_size must be -1 (a whole epoch per sink) or positive, got {cfg.sink_size}")
    if not 0 <= cfg.warmup_epochs < cfg.epoch_size:
        raise ConfigError(f"warmup_epochs ({cfg.warmup_epochs}) must be in [0, epoch_size={cfg.epoch_size})")
    if cfg.fixres_finetune and not cfg.pretrained:
        raise ConfigError("fixres_finetune=True needs --pretrained=CKPT (the model trained at the low resolution)")
    check_fusion_config(cfg.all_reduce_fusion_config)
    check_recipe_config(cfg)


@dataclass(frozen=True)
class TrainInputs:
    """What a run reads and writes, checked before MindSpore loads: the output directory and the image folders."""

    output_dir: Path
    train: ImageFolderInfo
    val: Optional[ImageFolderInfo]  # eval-while-train's val/, None with run_eval=False


def check_train_inputs(cfg: Config, write_outputs: bool = True) -> TrainInputs:
    """A writable ``output_dir`` (with ``write_outputs``) and valid ``train/`` (and ``val/`` for eval-while-train)
    folders: a wrong path or a bad folder is a one-line error in a fraction of a second, not after MindSpore starts."""
    output_dir = ensure_writable_dir(Path(cfg.output_dir)) if write_outputs else Path(cfg.output_dir)
    root = Path(cfg.data_path)
    train = validate_image_folder(root / "train", cfg.num_classes, skip_bad_images=cfg.skip_bad_images)
    val = (validate_image_folder(root / "val", cfg.num_classes, skip_bad_images=cfg.skip_bad_images)
           if cfg.run_eval else None)
    return TrainInputs(output_dir, train, val)


def check_recipe_config(cfg: Config) -> None:
    """The training-recipe keys (EMA, Mixup/CutMix, augmentation, optimizer, loss, clipping, accumulation)."""
    from mindzoo.data.auto_augment import check_auto_augment, check_random_erasing
    from mindzoo.data.mixup import check_mixup

    if cfg.opt not in OPTIMIZERS:
        raise ConfigError(f"opt must be one of {', '.join(OPTIMIZERS)}, got '{cfg.opt}'")
    if cfg.loss not in LOSSES:
        raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, got '{cfg.loss}'")
    if len(cfg.opt_betas) != 2 or not all(0.0 <= b < 1.0 for b in cfg.opt_betas) or not cfg.opt_eps > 0:
        raise ConfigError(f"opt_betas must be [beta1, beta2] in [0, 1) and opt_eps > 0, got {cfg.opt_betas}, "
                          f"{cfg.opt_eps}")
    if not 0.0 <= cfg.bce_target_thresh < 1.0:
        raise ConfigError(f"bce_target_thresh must be in [0, 1) (0: off), got {cfg.bce_target_thresh}")
    if not 0.0 < cfg.ema_decay < 1.0:
        raise ConfigError(f"ema_decay must be in (0, 1), got {cfg.ema_decay}")
    check_mixup(cfg.mixup, cfg.cutmix, cfg.cutmix_prob, cfg.mixup_switch_prob)
    if mixup_active(cfg) and cfg.batch_size % 2:
        raise ConfigError(f"mixup/cutmix need an even batch_size (each image is mixed with its mirror in the "
                          f"batch, as timm's), got {cfg.batch_size}")
    check_auto_augment(cfg.auto_augment)
    check_random_erasing(cfg.re_prob, cfg.re_scale, cfg.re_ratio, cfg.re_value)
    if not 0.0 <= cfg.drop_path_rate < 1.0:
        raise ConfigError(f"drop_path_rate must be in [0, 1), got {cfg.drop_path_rate}")
    if not cfg.clip_value > 0:
        raise ConfigError(f"clip_value must be > 0, got {cfg.clip_value}")
    steps = cfg.gradient_accumulation_steps
    if steps < 1:
        raise ConfigError(f"gradient_accumulation_steps must be >= 1, got {steps}")
    if cfg.batch_size % steps:
        raise ConfigError(f"batch_size {cfg.batch_size} does not divide into gradient_accumulation_steps={steps} "
                          f"micro-batches; use a batch_size that is a multiple of {steps}")


def mixup_active(cfg: Config) -> bool:
    """Whether batches are mixed (and targets are soft): a Mixup or CutMix alpha above 0 and cutmix_prob above 0."""
    return (cfg.mixup > 0 or cfg.cutmix > 0) and cfg.cutmix_prob > 0

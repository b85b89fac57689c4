"""The training options' allowed values and the checks train.py and the launchers run before MindSpore loads.

MindSpore-free on purpose: the launchers check a command line once, before any process starts.
"""
from __future__ import annotations

from mindzoo.config import Config
from mindzoo.distributed import check_fusion_config
from mindzoo.errors import ConfigError

AMP_LEVELS = ("O0", "O1", "O2", "O3")
LOSS_SCALE_TYPES = ("fixed", "dynamic")
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

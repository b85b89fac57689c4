"""train.py: train any registered model on an ImageNet-layout folder (GRAPH mode by default).

Also the FixRes fine-tune stage (``--fixres_finetune=True --pretrained CKPT``): see mindzoo.train.fixres.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from mindzoo.cli.common import ensure_writable_dir, run_cli, set_mindspore_context, setup_logging
from mindzoo.config import Config, dump_config, load_config
from mindzoo.errors import ConfigError, UsageError

logger = logging.getLogger("mindzoo")

AMP_LEVELS = ("O0", "O1", "O2", "O3")
# Extra entries of train.py checkpoints (the step count is the optimizer's own global_step Parameter).
RESUME_EPOCH_KEY = "mindzoo_epochs_done"
RESUME_BEST_KEY = "mindzoo_best_top1"


def check_train_config(cfg: Config) -> None:
    """Reject values the schema's types cannot catch, before anything is built."""
    if not cfg.data_path:
        raise ConfigError("data_path is empty; pass --data_path=DIR (ImageNet layout: DIR/train/<class>/*)")
    if cfg.amp_level not in AMP_LEVELS:
        raise ConfigError(f"amp_level must be one of {', '.join(AMP_LEVELS)}, got '{cfg.amp_level}'")
    if cfg.loss_scale_type not in ("fixed", "dynamic"):
        raise ConfigError(f"loss_scale_type must be fixed or dynamic, got '{cfg.loss_scale_type}'")
    for key in ("batch_size", "epoch_size", "num_classes", "save_checkpoint_epochs", "eval_interval"):
        if cfg[key] <= 0:
            raise ConfigError(f"{key} must be positive, got {cfg[key]}")
    if not 0 <= cfg.warmup_epochs < cfg.epoch_size:
        raise ConfigError(f"warmup_epochs ({cfg.warmup_epochs}) must be in [0, epoch_size={cfg.epoch_size})")
    if cfg.fixres_finetune and not cfg.pretrained:
        raise ConfigError("fixres_finetune=True needs --pretrained=CKPT (the model trained at the low resolution)")


def resolve_resume(cfg: Config, checkpoints: "CheckpointManager") -> Optional[Path]:  # noqa: F821
    """``--resume_ckpt=PATH``, or ``auto``: the newest epoch checkpoint in output_dir (none: fresh start)."""
    if not cfg.resume_ckpt:
        return None
    if cfg.resume_ckpt == "auto":
        return checkpoints.latest()
    path = Path(cfg.resume_ckpt)
    if not path.is_file():
        raise UsageError(f"resume_ckpt {path} does not exist")
    return path


def _main(argv: Sequence[str]) -> int:
    cfg = load_config(argv)
    check_train_config(cfg)
    output_dir = ensure_writable_dir(Path(cfg.output_dir))

    from mindzoo.data import create_dataset, fixres_finetune_transforms, geometry_from_config, geometry_transforms
    from mindzoo.data import train_transforms, validate_image_folder

    data_root = Path(cfg.data_path)
    train_info = validate_image_folder(data_root / "train", cfg.num_classes, skip_bad_images=cfg.skip_bad_images)
    val_info = (validate_image_folder(data_root / "val", cfg.num_classes, skip_bad_images=cfg.skip_bad_images)
                if cfg.run_eval else None)

    import mindspore as ms

    from mindzoo.checkpoint import load_weights, read_checkpoint, check_compatible
    from mindzoo.distributed import init_data_parallel, parameter_digest
    from mindzoo.eval import TopKCorrect, evaluate, improves_on
    from mindzoo.models import create_model
    from mindzoo.train.amp import build_train_step
    from mindzoo.train.callbacks import CheckpointManager, MetricsWriter, StepLogger, plot_curves
    from mindzoo.train.fixres import freeze_for_fixres
    from mindzoo.train.loss import CrossEntropySmooth
    from mindzoo.train.lr import build_lr_schedule, scale_lr
    from mindzoo.train.optim import build_optimizer

    set_mindspore_context(cfg.device_target, cfg.mode, cfg.seed)
    dist = init_data_parallel(cfg.run_distribute)
    setup_logging(output_dir / f"train_rank{dist.rank}.log")
    if dist.is_main:
        dump_config(cfg, output_dir / "config.yaml")
    logger.info("rank %d/%d, %s classes, %d training images, config: %s", dist.rank, dist.group_size,
                train_info.num_classes, train_info.num_images, dict(cfg))

    net = create_model(cfg.net_name, num_classes=cfg.num_classes, zero_init_last_bn=cfg.zero_init_last_bn)
    if cfg.pretrained:
        load_weights(net, cfg.pretrained)
        logger.info("loaded weights from %s", cfg.pretrained)
    data_cfg = net.data_config
    eval_geometry = geometry_from_config(data_cfg, cfg)
    eval_size = eval_geometry.crop_size
    if cfg.fixres_finetune:
        train_size = eval_size
        transforms = fixres_finetune_transforms(eval_geometry, cfg.fixres_flip, cfg.fixres_color_jitter)
        freeze_for_fixres(net)
    else:
        train_size = cfg.train_image_size or data_cfg.input_size
        transforms = train_transforms(train_size, data_cfg, cfg.color_jitter, cfg.random_augment,
                                      cfg.train_crop_scale, cfg.hflip_prob)
    shard = dict(num_shards=dist.group_size, shard_id=dist.rank) if dist.distributed else {}

    def train_dataset(epoch: int):
        """A fresh pipeline per epoch, seeded by epoch: a resumed run sees the same order as an unbroken one."""
        ms.dataset.config.set_seed(cfg.seed + epoch)
        return create_dataset(str(data_root), "train", transforms, cfg.batch_size, shuffle=cfg.train_shuffle,
                              num_parallel_workers=cfg.num_parallel_workers, drop_remainder=True,
                              info=train_info, **shard)

    steps_per_epoch = train_dataset(0).get_dataset_size()
    global_batch = cfg.batch_size * dist.group_size
    if steps_per_epoch == 0:
        raise UsageError(f"{data_root / 'train'} has {train_info.num_images} images, fewer than one global batch "
                         f"({global_batch}); lower --batch_size")
    total_steps = steps_per_epoch * cfg.epoch_size
    base_lr = scale_lr(cfg.lr, global_batch, cfg.lr_base_batch) if cfg.lr_base_batch else cfg.lr
    lr = build_lr_schedule(cfg.lr_schedule, base_lr, steps_per_epoch, cfg.epoch_size, cfg.warmup_epochs,
                           cfg.warmup_lr_init, cfg.lr_milestones, cfg.lr_gamma, cfg.eta_min, cfg.poly_power)
    optimizer = build_optimizer(net, lr, cfg.momentum, cfg.weight_decay, cfg.nesterov, decay_all=cfg.fixres_finetune)
    loss_fn = CrossEntropySmooth(cfg.num_classes, cfg.label_smoothing)
    train_step = build_train_step(net, loss_fn, optimizer, cfg.amp_level, cfg.loss_scale_type, cfg.loss_scale,
                                  cfg.scale_factor, cfg.scale_window)
    if cfg.fixres_finetune:
        freeze_for_fixres(net)  # the train step switched the whole net to training mode

    checkpoints = CheckpointManager(output_dir / "checkpoints", cfg.net_name, cfg.keep_checkpoint_max)
    start_epoch, global_step, best_top1 = 0, 0, -1.0
    resume_path = resolve_resume(cfg, checkpoints)
    if resume_path is not None:
        state = read_checkpoint(resume_path)
        check_compatible(train_step, state, str(resume_path))
        ms.load_param_into_net(train_step, {k: v for k, v in state.items() if k in _param_names(train_step)})
        if RESUME_EPOCH_KEY not in state:
            raise UsageError(f"{resume_path} is not a train.py checkpoint (no '{RESUME_EPOCH_KEY}'); "
                             "to start from its weights use --pretrained")
        start_epoch = int(state[RESUME_EPOCH_KEY].asnumpy())
        global_step = int(optimizer.global_step.asnumpy().reshape(-1)[0])
        best_top1 = float(state[RESUME_BEST_KEY].asnumpy()) if RESUME_BEST_KEY in state else -1.0
        logger.info("resumed from %s at epoch %d, global step %d", resume_path, start_epoch, global_step)
    if start_epoch >= cfg.epoch_size:
        logger.info("nothing to do: %s already finished %d epochs", resume_path, start_epoch)
        return 0

    metrics_path = output_dir / "metrics.jsonl"
    if dist.is_main and resume_path is None and metrics_path.exists():
        metrics_path.unlink()  # a fresh run starts a fresh history; a resumed one appends
    metrics = MetricsWriter(metrics_path if dist.is_main else None)
    step_logger = StepLogger(cfg.log_interval, steps_per_epoch, total_steps, global_batch)
    eval_ds = None
    if cfg.run_eval:
        eval_ds = create_dataset(str(data_root), "val", geometry_transforms(eval_geometry),
                                 cfg.eval_batch_size, shuffle=False, num_parallel_workers=cfg.num_parallel_workers,
                                 drop_remainder=False, info=val_info, **shard)
        counter = TopKCorrect(net)
    logger.info("training %s: %d epochs x %d steps, global batch %d, base lr %.5f (%s), image %d, eval image %d",
                cfg.net_name, cfg.epoch_size, steps_per_epoch, global_batch, base_lr, cfg.lr_schedule,
                train_size, eval_size)

    run_start = time.time()
    for epoch in range(start_epoch, cfg.epoch_size):
        train_step.set_train(True)
        if cfg.fixres_finetune:
            freeze_for_fixres(net)
        epoch_start, losses = time.time(), []
        step_logger.restart_window()
        for step_in_epoch, (images, labels) in enumerate(
                train_dataset(epoch).create_tuple_iterator(num_epochs=1), start=1):
            loss, overflow, scale = train_step(images, labels)
            global_step += 1
            loss_value = float(loss.asnumpy())
            losses.append(loss_value)
            if not np.isfinite(loss_value) and cfg.loss_scale_type == "fixed":
                raise_nonfinite(epoch + 1, step_in_epoch, cfg)
            record = step_logger.step(epoch + 1, step_in_epoch, global_step, loss_value,
                                      float(lr[min(global_step, total_steps) - 1]), float(scale.asnumpy()),
                                      bool(overflow.asnumpy()))
            if record:
                metrics.write(record)
        epoch_time = time.time() - epoch_start
        logger.info("epoch %d/%d done in %.1f s, mean loss %.4f, %.1f img/s", epoch + 1, cfg.epoch_size,
                    epoch_time, float(np.mean(losses)), steps_per_epoch * global_batch / max(epoch_time, 1e-9))
        metrics.write({"event": "epoch", "epoch": epoch + 1, "global_step": global_step,
                       "mean_loss": float(np.mean(losses)), "seconds": epoch_time})

        is_last = epoch + 1 == cfg.epoch_size
        if eval_ds is not None and epoch + 1 > cfg.eval_start_epoch and ((epoch + 1) % cfg.eval_interval == 0 or is_last):
            result = evaluate(net, eval_ds, distributed=dist.distributed, counter=counter)
            logger.info("epoch %d eval: top1 %.4f top5 %.4f on %d images (%.1f s)", epoch + 1, result.top1,
                        result.top5, result.total, result.seconds)
            metrics.write({"event": "eval", "epoch": epoch + 1, "global_step": global_step, **result.to_dict()})
            if improves_on(result, best_top1):
                best_top1 = result.top1
                if dist.is_main:
                    checkpoints.save_best(net, {"epoch": epoch + 1, "top1": result.top1})
                    logger.info("new best top1 %.4f: saved %s", best_top1, checkpoints.directory / "best_acc.ckpt")
        if dist.is_main and ((epoch + 1) % cfg.save_checkpoint_epochs == 0 or is_last):
            path = checkpoints.save(train_step, epoch + 1, steps_per_epoch,
                                    {RESUME_EPOCH_KEY: epoch + 1, RESUME_BEST_KEY: best_top1})
            logger.info("saved %s", path)

    logger.info("training finished in %.1f s", time.time() - run_start)
    logger.info("rank %d trainable parameters sha256 %s", dist.rank, parameter_digest(net.trainable_params()))
    if dist.is_main:
        png = plot_curves(output_dir / "metrics.jsonl", output_dir / "curves.png")
        if png:
            logger.info("curves: %s", png)
    return 0


def _param_names(cell) -> set:
    return {p.name for p in cell.get_parameters()}


def raise_nonfinite(epoch: int, step: int, cfg: Config) -> None:
    from mindzoo.errors import MindzooError

    raise MindzooError(
        f"loss became non-finite at epoch {epoch} step {step} with a fixed loss scale of {cfg.loss_scale}; "
        "lower --lr, or use --loss_scale_type=dynamic with mixed precision; the last checkpoint is intact"
    )


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(_main, argv)

"""eval.py: top-1/top-5 of a checkpoint (or every checkpoint in a directory) on every val image.

``--data_path`` may be the dataset root (its ``val/`` is used) or the val split directory itself.
Writes ``eval_result.json`` to ``--output_dir``: one object for a checkpoint, a list for a directory.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import List, Optional, Sequence

from mindzoo.cli.common import run_cli
from mindzoo.config import load_config
from mindzoo.errors import ConfigError, DataError, UsageError
from mindzoo.runtime import ensure_writable_dir, set_mindspore_context, setup_logging
from mindzoo.weights.naming import checkpoint_files

logger = logging.getLogger("mindzoo")


def resolve_val_dir(data_path: str) -> Path:
    """The val split: ``DATA/val`` if it exists, else ``DATA`` itself (model-zoo scripts pass the split).

    A dataset root with ``train/`` but no ``val/`` is an error naming the missing ``val/``: read as a split,
    its one ``train`` folder would be taken for a class.
    """
    if not data_path:
        raise ConfigError("data_path is empty; pass --data_path=DIR (a dataset root with val/, or the val dir)")
    root = Path(data_path)
    if (root / "val").is_dir():
        return root / "val"
    if (root / "train").is_dir():
        raise DataError(f"{root} has train/ but no val/: eval.py evaluates {root / 'val'}/<class>/*; create it, "
                        "or pass the val folder itself as --data_path")
    return root


def _main(argv: Sequence[str]) -> int:
    cfg = load_config(argv, command="eval")
    checkpoints = checkpoint_files(cfg.pretrained)
    val_dir = resolve_val_dir(cfg.data_path)
    output_dir = ensure_writable_dir(Path(cfg.output_dir))

    from mindzoo.data import create_dataset, geometry_from_config, geometry_transforms, validate_image_folder

    info = validate_image_folder(val_dir, cfg.num_classes, skip_bad_images=cfg.skip_bad_images)

    from mindzoo.distributed import init_data_parallel
    from mindzoo.eval import result_lines
    from mindzoo.eval.sweep import CheckpointEvaluator

    set_mindspore_context(cfg.device_target, cfg.mode, cfg.seed)
    dist = init_data_parallel(cfg.run_distribute)
    setup_logging(output_dir / f"eval_rank{dist.rank}.log")
    evaluator = CheckpointEvaluator(cfg.net_name, cfg.num_classes, checkpoints[0], fold_bn=cfg.fold_bn,
                                    raw_weights=cfg.raw_weights)
    geometry = geometry_from_config(evaluator.network.data_config, cfg)
    size = geometry.crop_size
    shard = dict(num_shards=dist.group_size, shard_id=dist.rank) if dist.distributed else {}
    dataset = create_dataset(str(val_dir.parent), val_dir.name, geometry_transforms(geometry),
                             cfg.eval_batch_size, shuffle=False, num_parallel_workers=cfg.num_parallel_workers,
                             drop_remainder=False, info=info, **shard)
    logger.info("evaluating %s on %s: %d images, resize %d, crop %d", cfg.net_name, val_dir, info.num_images,
                geometry.resize_size, size)
    results = []
    for ckpt in checkpoints:
        evaluator.load(ckpt)
        result = evaluator.evaluate(dataset, distributed=dist.distributed, show_progress=dist.is_main)
        if result.total != info.num_images:
            raise UsageError(f"evaluated {result.total} images but {val_dir} has {info.num_images}; "
                             "the pipeline dropped or repeated images")
        print("\n".join(result_lines(result, ckpt)), flush=True)
        logger.info("%s: top1 %.4f top5 %.4f on %d images in %.1f s (%.1f img/s)", ckpt, result.top1, result.top5,
                    result.total, result.seconds, result.total / max(result.seconds, 1e-9))
        results.append({"top1": result.top1, "top5": result.top5, "total": result.total, "ckpt": str(ckpt),
                        "image_size": size, "net_name": cfg.net_name})
    logger.info("%d checkpoint(s) evaluated with %d compiled graph(s)", len(checkpoints), evaluator.graphs_compiled)
    if dist.is_main:
        payload = results[0] if len(results) == 1 and Path(cfg.pretrained).is_file() else results
        (output_dir / "eval_result.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(_main, argv)

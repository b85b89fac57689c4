"""eval.py's run: top-1/top-5 of a checkpoint, or of every checkpoint in a directory, on every val image.

``data_path`` may be the dataset root (its ``val/`` is used) or the val split directory itself
(:func:`mindzoo.data.layout.resolve_val_dir`). One :class:`~mindzoo.eval.sweep.CheckpointEvaluator` scores every
checkpoint; each rank of a distributed run reads its own shard and the counts are summed. Writes
``eval_result.json`` to ``output_dir``: one object for a checkpoint, a list for a directory.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List

from mindzoo.config import Config
from mindzoo.data.layout import resolve_val_dir
from mindzoo.errors import UsageError
from mindzoo.runtime import ensure_writable_dir, init_data_parallel, set_mindspore_context, setup_logging
from mindzoo.weights.naming import checkpoint_files

logger = logging.getLogger("mindzoo")


def run_eval(cfg: Config) -> List[Dict[str, Any]]:
    """Evaluate ``cfg.pretrained`` (a file or a directory of checkpoints); print the model zoo's result lines and
    return one record per checkpoint. Cheap checks (checkpoints, val folder, output directory) come first."""
    checkpoints = checkpoint_files(cfg.pretrained)
    val_dir = resolve_val_dir(cfg.data_path)
    output_dir = ensure_writable_dir(Path(cfg.output_dir))

    from mindzoo.data import create_dataset, geometry_from_config, geometry_transforms, validate_image_folder
    from mindzoo.eval.metrics import result_lines
    from mindzoo.eval.sweep import CheckpointEvaluator

    info = validate_image_folder(val_dir, cfg.num_classes, skip_bad_images=cfg.skip_bad_images)
    set_mindspore_context(cfg.device_target, cfg.mode, cfg.seed)
    dist = init_data_parallel(cfg.run_distribute)
    setup_logging(output_dir / f"eval_rank{dist.rank}.log")
    evaluator = CheckpointEvaluator(cfg.net_name, cfg.num_classes, checkpoints[0], fold_bn=cfg.fold_bn,
                                    raw_weights=cfg.raw_weights)
    geometry = geometry_from_config(evaluator.network.data_config, cfg)
    size = geometry.crop_size
    dataset = create_dataset(str(val_dir.parent), val_dir.name, geometry_transforms(geometry),
                             cfg.eval_batch_size, shuffle=False, num_parallel_workers=cfg.num_parallel_workers,
                             drop_remainder=False, info=info, **dist.shard())
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
    return results

"""``python export.py --config_path CFG --ckpt_file CKPT --file_name NAME --file_format MINDIR``.

Writes ``NAME.mindir`` / ``.onnx`` / ``.air`` at batch 1 and the model's test resolution (FixRes
ResNet50: 384) unless ``--batch_size`` / ``--eval_image_size`` / ``--width --height`` say otherwise, checks it
against the live network, and writes ``NAME.json`` for deployment: its ``preprocess`` entry is the eval geometry
(``mindzoo.data.geometry``, ``--crop_pct`` included) that the C++ harness and infer.py read back. BatchNorm
is folded into the convolutions first (``--fold_bn=False`` keeps it), checked against the unfolded network's
logits. ``--quantize=int8 --calib_data=DIR`` writes a calibrated INT8 ONNX instead (``NAME_int8.onnx`` by
default, its own sidecar; ``mindzoo.export.quantize``, docs/int8.md). A relative NAME is taken from the current
directory, or from ``--output_dir`` when that is given on the command line. Cheap checks (format,
device, output directory, checkpoint file, model name) run before the network is built.
``--file_format=MINDIR_LITE`` writes ``NAME_lite.mindir`` + ``NAME_lite.json`` instead: a MindSpore Lite model for
MindSpore's C++ API, by way of the ONNX export (:mod:`mindzoo.export.lite`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional, Sequence

from mindzoo.cli.common import run_cli
from mindzoo.config import load_config
from mindzoo.errors import CheckpointError, UsageError
from mindzoo.export.exporter import (
    LITE_FORMAT,
    ExportResult,
    check_format_supported,
    export_and_verify,
    fold_batchnorm_checked,
    normalize_format,
    resolve_batch_size,
    resolve_output_path,
)
from mindzoo.export.quantize import check_quantize_request, check_sidecar_owner, export_int8, int8_file_name
from mindzoo.runtime import ensure_writable_dir, set_mindspore_context, setup_logging

logger = logging.getLogger("mindzoo.export")


def run_export(argv: Sequence[str], set_context: bool = True) -> ExportResult:
    """Parse the model-zoo command line, export, verify; raise MindzooError subclasses on failure.

    ``set_context=False`` keeps the caller's MindSpore device/mode: MindSpore refuses ``set_device``
    once a kernel has run, so in-process callers (tests, notebooks) that already ran one must skip it.
    """
    cfg = load_config(argv, command="export")
    file_format = normalize_format(cfg.file_format)
    check_format_supported(file_format, cfg.device_target, cfg.dynamic_batch)
    batch_size = resolve_batch_size(cfg, cfg.explicit)
    output_dir = cfg.output_dir if "output_dir" in cfg.explicit else None
    quantize = check_quantize_request(cfg, file_format)
    file_name = int8_file_name(cfg.file_name, cfg.net_name) if quantize else cfg.file_name
    path = resolve_output_path(file_name, file_format, cfg.net_name, output_dir)
    check_sidecar_owner(path, quantized=quantize is not None)
    ensure_writable_dir(path.parent, "choose another --file_name or --output_dir")
    if not cfg.ckpt_file:
        raise UsageError("export needs a checkpoint: --ckpt_file=PATH.ckpt")
    if not Path(cfg.ckpt_file).is_file():
        raise CheckpointError(f"checkpoint not found: {cfg.ckpt_file}")

    from mindzoo.data.geometry import resolve_eval_geometry
    from mindzoo.models import create_model, get_builder

    try:
        get_builder(cfg.net_name)
    except ValueError as exc:
        raise UsageError(f"net_name: {exc}") from None
    if set_context:
        set_mindspore_context(cfg.device_target, cfg.mode, cfg.seed)
    net = create_model(cfg.net_name, num_classes=cfg.num_classes, pretrained=cfg.ckpt_file,
                       raw_weights=cfg.raw_weights)
    net.set_train(False)
    geometry = resolve_eval_geometry(net.data_config, cfg.eval_image_size, cfg.crop_pct, cfg.height, cfg.width,
                                     resize_edge=cfg.resize_edge)
    height, width = geometry.crop_height, geometry.crop_width
    graph_info = {"fold_bn": {"folded": 0}}
    if cfg.fold_bn:
        folded, fold_error = fold_batchnorm_checked(net, (1, 3, height, width))
        graph_info["fold_bn"] = {"folded": folded, "max_relative_error": fold_error}
        logger.info("folded %d BatchNorms into their convolutions (logits change %.2g relative)", folded, fold_error)
    logger.info("exporting %s (%d classes) from %s as %s, input [%s, 3, %d, %d]", cfg.net_name, cfg.num_classes,
                cfg.ckpt_file, file_format, "batch" if cfg.dynamic_batch else batch_size, height, width)
    if quantize:
        return export_int8(net, path, batch_size, geometry, cfg.dynamic_batch, cfg.net_name, quantize, graph_info)
    if file_format == LITE_FORMAT:
        from mindzoo.export.lite import export_lite

        result = export_lite(net, path, batch_size, geometry, cfg.dynamic_batch, cfg.net_name, extra_info=graph_info)
    else:
        result = export_and_verify(net, path, file_format, batch_size, geometry, cfg.dynamic_batch, cfg.net_name,
                                   extra_info=graph_info)
    error = "not verified (AIR)" if result.max_error is None else f"max relative error {result.max_error:.3g}"
    logger.info("wrote %s (input %s, output %s, %s) and %s", result.path, result.input_shape,
                result.output_shape, error, result.sidecar)
    return result


def _main(argv: List[str]) -> int:
    setup_logging()
    run_export(argv)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())

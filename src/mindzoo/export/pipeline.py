"""export.py's run: build the network from a checkpoint, fold BatchNorm, export, verify, write the sidecar.

Cheap checks (format, device, output path, checkpoint file, model name) run before the network is built. The eval
geometry comes from the run config by the one route (:func:`mindzoo.data.geometry.geometry_from_config`), so the
exported input and the sidecar's ``preprocess`` are what eval.py evaluates.
"""
from __future__ import annotations

import logging
from pathlib import Path

from mindzoo.config import Config
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
from mindzoo.runtime import ensure_writable_dir, set_mindspore_context

logger = logging.getLogger("mindzoo.export")


def export_from_config(cfg: Config, set_context: bool = True) -> ExportResult:
    """Export ``cfg.ckpt_file`` as ``cfg.file_format`` (or INT8 with ``quantize``); raise MindzooError subclasses.

    ``set_context=False`` keeps the caller's MindSpore device/mode: MindSpore refuses ``set_device``
    once a kernel has run, so in-process callers (tests, notebooks) that already ran one must skip it.
    """
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

    from mindzoo.data.geometry import geometry_from_config
    from mindzoo.models import create_model, get_builder

    get_builder(cfg.net_name)  # an unknown name fails before the device is set up (create_model would, after)
    if set_context:
        set_mindspore_context(cfg.device_target, cfg.mode, cfg.seed)
    net = create_model(cfg.net_name, num_classes=cfg.num_classes, pretrained=cfg.ckpt_file,
                       raw_weights=cfg.raw_weights)
    net.set_train(False)
    geometry = geometry_from_config(net.data_config, cfg)
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

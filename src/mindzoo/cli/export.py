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

from typing import List, Optional, Sequence

from mindzoo.cli.common import run_cli
from mindzoo.config import load_config
from mindzoo.export.exporter import ExportResult
from mindzoo.runtime import setup_logging


def run_export(argv: Sequence[str], set_context: bool = True) -> ExportResult:
    """Parse the model-zoo command line and export (:func:`mindzoo.export.pipeline.export_from_config`).

    ``set_context=False`` keeps the caller's MindSpore device/mode (in-process callers that already ran a kernel).
    """
    from mindzoo.export.pipeline import export_from_config

    return export_from_config(load_config(argv, command="export"), set_context)


def _main(argv: List[str]) -> int:
    setup_logging()
    run_export(argv)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""``python infer.py IMAGE [IMAGE...] --pretrained CKPT|MODEL.mindir|MODEL.onnx``: top-k classes per image.

Parses the command line and calls :mod:`mindzoo.deploy.predictor`, which preprocesses as eval.py does (a ``.ckpt``:
its config's geometry; an export: what export.py recorded in ``MODEL.json``).
Positional image paths do not fit the ``--key=value`` config parser, so the flags are argparse's.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from mindzoo.cli.common import ArgumentParser, run_cli
from mindzoo.errors import UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="infer.py", description="Print the top-k ImageNet-style classes of each image.")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    parser.add_argument("--pretrained", required=True, help="a .ckpt, or a .mindir/.onnx written by export.py")
    parser.add_argument("--config_path", default="", help="model YAML giving net_name/num_classes for a .ckpt")
    parser.add_argument("--net_name", default="", help="architecture of a .ckpt (default: config, else resnet50)")
    parser.add_argument("--num_classes", type=int, default=0, help="classes of a .ckpt (default: read from it)")
    parser.add_argument("--labels", default="", help="text file with one class name per line")
    parser.add_argument("--topk", type=int, default=5, help="classes to print per image")
    parser.add_argument("--image_size", type=int, default=0,
                        help="crop size (default: the config's eval_image_size, else the model's test size)")
    parser.add_argument("--device_target", default="CPU", help="CPU | GPU | Ascend (for .ckpt / .mindir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--raw_weights", action="store_true",
                        help="a .ckpt with EMA weights (ema.*): use its raw weights instead")
    return parser


def classify(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Check the command line's values, then top-k (class index, label, probability) for each image."""
    from mindzoo.deploy.predictor import classify as classify_images, load_predictor, read_labels

    if args.topk < 1:
        raise UsageError(f"--topk must be >= 1, got {args.topk}")
    if args.image_size < 0:
        raise UsageError(f"--image_size must be > 0, got {args.image_size}")
    for image in args.images:
        if not Path(image).is_file():
            raise UsageError(f"image not found: {image}")
    predictor = load_predictor(args.pretrained, args.config_path, args.net_name, args.num_classes, args.image_size,
                               args.device_target, args.raw_weights)
    labels = read_labels(args.labels, predictor.num_classes) if args.labels else None
    return classify_images(predictor, args.images, args.topk, labels)


def format_results(results: List[Dict[str, Any]]) -> str:
    lines = []
    for result in results:
        lines.append(result["image"])
        for rank, entry in enumerate(result["topk"], 1):
            name = f"{entry['label']} ({entry['index']})" if entry["label"] is not None else f"class {entry['index']}"
            lines.append(f"  {rank}. {entry['prob']:.4f}  {name}")
    return "\n".join(lines)


def _main(argv: List[str]) -> int:
    args = build_parser().parse_args(argv)
    results = classify(args)
    print(json.dumps(results, indent=2) if args.json else format_results(results), flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(_main, argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())

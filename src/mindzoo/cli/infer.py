"""``python infer.py IMAGE [IMAGE...] --pretrained CKPT|MODEL.mindir|MODEL.onnx``: top-k classes per image.

Images go through the evaluation transform (shorter side to ``int(size / crop_pct)``, centre crop,
mean/std) so predictions match eval.py: for a ``.ckpt`` the geometry of ``--config_path`` (its
``eval_image_size`` and ``crop_pct``) resolved by ``mindzoo.data.geometry``, exactly as eval.py does; for an
exported model the geometry export.py recorded in ``MODEL.json``, else the model's data config at the file's
input shape.
Positional image paths do not fit the ``--key=value`` config parser, so the flags are argparse's.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from mindzoo.cli.common import ArgumentParser, run_cli
from mindzoo.errors import UsageError
from mindzoo.runtime import set_mindspore_context

MODEL_SUFFIXES = (".ckpt", ".mindir", ".onnx")


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


@dataclass
class Predictor:
    """A batch function (N,3,H,W) float32 -> (N,C) logits plus the preprocessing it expects."""

    run: Callable[[np.ndarray], np.ndarray]
    geometry: Any  # mindzoo.data.geometry.EvalGeometry
    num_classes: int
    fixed_batch: Optional[int]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (max-subtracted, so large logits do not overflow)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def read_labels(path: str, num_classes: int) -> List[str]:
    """One name per line; the count must match the model so indices cannot silently shift."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read labels file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read labels file {path}: not UTF-8 text") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != num_classes:
        raise UsageError(f"labels file {path} has {len(lines)} lines but the model has {num_classes} classes")
    return [line.strip() for line in lines]


def _checkpoint_num_classes(path: str) -> int:
    """The classifier width stored in a checkpoint (mindzoo's or a foreign one), so ``--num_classes`` is rarely
    needed."""
    from mindzoo.weights.checkpoint import open_checkpoint

    source = open_checkpoint(path)
    if source.num_classes is None:
        raise UsageError(f"{path} has no classifier '{source.source_name('fc.weight')}'; pass --num_classes")
    return source.num_classes


def _ckpt_predictor(args: argparse.Namespace) -> Predictor:
    from mindzoo.config import load_config
    from mindzoo.data.geometry import resolve_eval_geometry
    from mindzoo.models import create_model, get_builder

    cfg = load_config(["--config_path", args.config_path] if args.config_path else [], command="infer")
    net_name = args.net_name or cfg.net_name
    try:
        get_builder(net_name)
    except ValueError as exc:
        raise UsageError(f"net_name: {exc}") from None
    num_classes = args.num_classes
    if not num_classes:
        num_classes = cfg.num_classes if args.config_path else _checkpoint_num_classes(args.pretrained)
    set_mindspore_context(args.device_target, "PYNATIVE")  # a handful of images: no graph compile
    net = create_model(net_name, num_classes=num_classes, pretrained=args.pretrained, raw_weights=args.raw_weights)
    net.set_train(False)
    # eval.py's geometry for this config: its eval_image_size, crop_pct and resize_edge, unless --image_size says
    # otherwise
    geometry = resolve_eval_geometry(net.data_config, args.image_size or cfg.eval_image_size, cfg.crop_pct,
                                     resize_edge=cfg.resize_edge)

    def run(batch: np.ndarray) -> np.ndarray:
        from mindspore import Tensor

        return net(Tensor(batch)).asnumpy()

    return Predictor(run, geometry, num_classes, None)


def _exported_geometry(path: str, sidecar: Optional[Dict[str, Any]], net_name: str, shape: List[int],
                       image_size: int) -> Any:
    """Preprocessing of an export: what export.py recorded in its sidecar, else the named model's data config
    at the file's input size (or ``--image_size`` for a dynamic one)."""
    from mindzoo.data.geometry import EvalGeometry, resolve_eval_geometry
    from mindzoo.errors import ConfigError
    from mindzoo.models import create_model, get_builder

    fixed = shape[2] > 0 and shape[3] > 0
    if fixed and image_size and (image_size, image_size) != (shape[2], shape[3]):
        raise UsageError(f"{path} was exported at {shape[2]}x{shape[3]}; --image_size={image_size} cannot be used")
    if sidecar is not None:
        try:
            geometry = EvalGeometry.from_sidecar(sidecar["preprocess"], where=f"export sidecar of {path}")
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        if fixed and (geometry.crop_height, geometry.crop_width) != (shape[2], shape[3]):
            raise UsageError(f"export sidecar of {path} crops {geometry.crop_height}x{geometry.crop_width} but the "
                             f"model takes {shape[2]}x{shape[3]}; re-export the model")
        if not fixed and image_size and image_size != geometry.crop_height:
            geometry = resolve_eval_geometry(geometry.data_config(), image_size)
        return geometry
    try:
        get_builder(net_name)
    except ValueError as exc:
        raise UsageError(f"net_name: {exc}") from None
    data_config = create_model(net_name, num_classes=1).data_config
    if fixed:
        return resolve_eval_geometry(data_config, height=shape[2], width=shape[3])
    return resolve_eval_geometry(data_config, image_size)


def _exported_predictor(args: argparse.Namespace, suffix: str) -> Predictor:
    from mindzoo.export.exporter import model_io, read_sidecar

    path = args.pretrained
    sidecar = read_sidecar(path)
    net_name = args.net_name or (sidecar or {}).get("net_name") or "resnet50"
    if suffix == ".onnx":
        from mindzoo.export.verify import onnx_session, run_onnx

        session = onnx_session(path)
        shape = [d if isinstance(d, int) and d > 0 else -1 for d in session.get_inputs()[0].shape]
        out_dim = session.get_outputs()[0].shape[-1]

        def run(batch: np.ndarray) -> np.ndarray:
            return run_onnx(session, batch, path)
    else:
        from mindzoo.export.verify import load_mindir, run_mindir

        set_mindspore_context(args.device_target, "GRAPH")
        (_, shape), (_, out_shape) = model_io(path, "MINDIR")
        out_dim = out_shape[-1]
        graph = load_mindir(path)

        def run(batch: np.ndarray) -> np.ndarray:
            return run_mindir(graph, batch, path)

    if len(shape) != 4:
        raise UsageError(f"{path} takes a {len(shape)}-d input; expected (N, 3, H, W)")
    geometry = _exported_geometry(path, sidecar, net_name, shape, args.image_size)
    if not (isinstance(out_dim, int) and out_dim > 0):
        out_dim = int((sidecar or {}).get("num_classes", 0))
    num_classes = int(out_dim)
    return Predictor(run, geometry, num_classes, shape[0] if shape[0] > 0 else None)


def load_predictor(args: argparse.Namespace) -> Predictor:
    suffix = Path(args.pretrained).suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise UsageError(f"--pretrained {args.pretrained} must be a {', '.join(MODEL_SUFFIXES)} file")
    if not Path(args.pretrained).is_file():
        raise UsageError(f"--pretrained file not found: {args.pretrained}")
    return _ckpt_predictor(args) if suffix == ".ckpt" else _exported_predictor(args, suffix)


def predict(predictor: Predictor, batch: np.ndarray) -> np.ndarray:
    """Logits for every row of ``batch``; a fixed-batch export gets zero-padded chunks."""
    if predictor.fixed_batch is None:
        return predictor.run(batch)
    step = predictor.fixed_batch
    outputs = []
    for start in range(0, len(batch), step):
        chunk = batch[start:start + step]
        padded = np.zeros((step, *batch.shape[1:]), dtype=batch.dtype)
        padded[: len(chunk)] = chunk
        outputs.append(predictor.run(padded)[: len(chunk)])
    return np.concatenate(outputs, axis=0)


def classify(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Top-k (class index, label, probability) for each image, best first."""
    from mindzoo.data.transforms import preprocess_image

    if args.topk < 1:
        raise UsageError(f"--topk must be >= 1, got {args.topk}")
    if args.image_size < 0:
        raise UsageError(f"--image_size must be > 0, got {args.image_size}")
    for image in args.images:
        if not Path(image).is_file():
            raise UsageError(f"image not found: {image}")
    predictor = load_predictor(args)
    labels = read_labels(args.labels, predictor.num_classes) if args.labels else None
    arrays = []
    for image in args.images:
        try:
            arrays.append(preprocess_image(image, predictor.geometry))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read image {image}: {exc}") from None
    probs = softmax(predict(predictor, np.stack(arrays).astype(np.float32)))
    k = min(args.topk, probs.shape[1])
    results = []
    for image, row in zip(args.images, probs):
        order = np.argsort(-row, kind="stable")[:k]
        top = [{"index": int(i), "label": labels[i] if labels else None, "prob": float(row[i])} for i in order]
        results.append({"image": image, "topk": top})
    return results


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

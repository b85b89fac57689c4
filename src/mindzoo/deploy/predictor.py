"""Top-k classes of image files from a ``.ckpt``, ``.mindir`` or ``.onnx`` (what infer.py prints).

Images go through the evaluation transform, so predictions match eval.py: for a ``.ckpt`` the geometry of its run
config (:func:`mindzoo.data.geometry.geometry_from_config`, the route eval.py takes); for an exported model the
geometry export.py recorded in its sidecar (:mod:`mindzoo.deploy.sidecar`), else the named model's data config at
the file's input shape. Exported files run on the runtimes a deployment uses (:mod:`mindzoo.deploy.runtimes`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from mindzoo.data.geometry import EvalGeometry, geometry_from_config, resolve_eval_geometry
from mindzoo.deploy.sidecar import read_sidecar, sidecar_geometry
from mindzoo.errors import UsageError
from mindzoo.runtime import set_mindspore_context

MODEL_SUFFIXES = (".ckpt", ".mindir", ".onnx")


@dataclass
class Predictor:
    """A batch function (N,3,H,W) float32 -> (N,C) logits plus the preprocessing it expects."""

    run: Callable[[np.ndarray], np.ndarray]
    geometry: EvalGeometry
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
    """The classifier width stored in a checkpoint (mindzoo's or a foreign one), so ``num_classes`` is rarely
    needed."""
    from mindzoo.weights.checkpoint import open_checkpoint

    source = open_checkpoint(path)
    if source.num_classes is None:
        raise UsageError(f"{path} has no classifier '{source.source_name('fc.weight')}'; pass --num_classes")
    return source.num_classes


def checkpoint_predictor(path: str, config_path: str = "", net_name: str = "", num_classes: int = 0,
                         image_size: int = 0, device_target: str = "CPU", raw_weights: bool = False) -> Predictor:
    """A checkpoint's network in PYNATIVE mode (a handful of images: no graph compile) with eval.py's geometry for
    ``config_path``'s run config; ``image_size`` > 0 is its ``eval_image_size``."""
    from mindzoo.config import load_config
    from mindzoo.models import create_model, get_builder

    argv = ["--config_path", config_path] if config_path else []
    argv += [f"--eval_image_size={image_size}"] if image_size else []
    cfg = load_config(argv, command="infer")
    net_name = net_name or cfg.net_name
    get_builder(net_name)  # an unknown name fails before the checkpoint is read
    if not num_classes:
        num_classes = cfg.num_classes if config_path else _checkpoint_num_classes(path)
    set_mindspore_context(device_target, "PYNATIVE")
    net = create_model(net_name, num_classes=num_classes, pretrained=path, raw_weights=raw_weights)
    net.set_train(False)
    geometry = geometry_from_config(net.data_config, cfg)

    def run(batch: np.ndarray) -> np.ndarray:
        from mindspore import Tensor

        return net(Tensor(batch)).asnumpy()

    return Predictor(run, geometry, num_classes, None)


def exported_geometry(path: str, sidecar: Optional[Dict[str, Any]], net_name: str, shape: Sequence[int],
                      image_size: int = 0) -> EvalGeometry:
    """Preprocessing of an export: what export.py recorded in its sidecar, else the named model's data config
    at the file's input size (or ``image_size`` for a dynamic one)."""
    fixed = shape[2] > 0 and shape[3] > 0
    if fixed and image_size and (image_size, image_size) != (shape[2], shape[3]):
        raise UsageError(f"{path} was exported at {shape[2]}x{shape[3]}; --image_size={image_size} cannot be used")
    if sidecar is not None:
        geometry = sidecar_geometry(sidecar, where=f"export sidecar of {path}")
        if fixed and (geometry.crop_height, geometry.crop_width) != (shape[2], shape[3]):
            raise UsageError(f"export sidecar of {path} crops {geometry.crop_height}x{geometry.crop_width} but the "
                             f"model takes {shape[2]}x{shape[3]}; re-export the model")
        if not fixed and image_size and image_size != geometry.crop_height:
            geometry = resolve_eval_geometry(geometry.data_config(), image_size)
        return geometry
    from mindzoo.models import create_model

    data_config = create_model(net_name, num_classes=1).data_config
    if fixed:
        return resolve_eval_geometry(data_config, height=shape[2], width=shape[3])
    return resolve_eval_geometry(data_config, image_size)


def exported_predictor(path: str, net_name: str = "", image_size: int = 0, device_target: str = "CPU") -> Predictor:
    """An exported ``.onnx`` (ONNX Runtime) or ``.mindir`` (MindSpore's runtime, GRAPH mode) and its geometry."""
    from mindzoo.deploy.runtimes import load_mindir, model_io, onnx_session, run_mindir, run_onnx

    sidecar = read_sidecar(path)
    net_name = net_name or (sidecar or {}).get("net_name") or "resnet50"
    if Path(path).suffix.lower() == ".onnx":
        session = onnx_session(path)
        shape = [d if isinstance(d, int) and d > 0 else -1 for d in session.get_inputs()[0].shape]
        out_dim = session.get_outputs()[0].shape[-1]

        def run(batch: np.ndarray) -> np.ndarray:
            return run_onnx(session, batch, path)
    else:
        set_mindspore_context(device_target, "GRAPH")
        (_, shape), (_, out_shape) = model_io(path, "MINDIR")
        out_dim = out_shape[-1]
        graph = load_mindir(path)

        def run(batch: np.ndarray) -> np.ndarray:
            return run_mindir(graph, batch, path)

    if len(shape) != 4:
        raise UsageError(f"{path} takes a {len(shape)}-d input; expected (N, 3, H, W)")
    geometry = exported_geometry(path, sidecar, net_name, shape, image_size)
    if not (isinstance(out_dim, int) and out_dim > 0):
        out_dim = int((sidecar or {}).get("num_classes", 0))
    return Predictor(run, geometry, int(out_dim), shape[0] if shape[0] > 0 else None)


def load_predictor(path: str, config_path: str = "", net_name: str = "", num_classes: int = 0, image_size: int = 0,
                   device_target: str = "CPU", raw_weights: bool = False) -> Predictor:
    """The predictor for ``path`` by its suffix (:data:`MODEL_SUFFIXES`); a missing or unknown file is one line."""
    suffix = Path(path).suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise UsageError(f"--pretrained {path} must be a {', '.join(MODEL_SUFFIXES)} file")
    if not Path(path).is_file():
        raise UsageError(f"--pretrained file not found: {path}")
    if suffix == ".ckpt":
        return checkpoint_predictor(path, config_path, net_name, num_classes, image_size, device_target, raw_weights)
    return exported_predictor(path, net_name, image_size, device_target)


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


def classify(predictor: Predictor, images: Sequence[str], topk: int = 5,
             labels: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    """Top-k (class index, label, probability) for each image file, best first."""
    from mindzoo.data.transforms import preprocess_image

    arrays = []
    for image in images:
        try:
            arrays.append(preprocess_image(image, predictor.geometry))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read image {image}: {exc}") from None
    probs = softmax(predict(predictor, np.stack(arrays).astype(np.float32)))
    k = min(topk, probs.shape[1])
    results = []
    for image, row in zip(images, probs):
        order = np.argsort(-row, kind="stable")[:k]
        top = [{"index": int(i), "label": labels[i] if labels else None, "prob": float(row[i])} for i in order]
        results.append({"image": image, "topk": top})
    return results

"""Check an exported model against the live network before anyone deploys it.

An export that loads but computes something else (a dropped BatchNorm, a wrong padding, a batch
dimension frozen at 1) is worse than a failed export, so every export is reloaded with the runtime a
deployment uses (:mod:`mindzoo.deploy.runtimes`: ``mindspore.load`` + ``nn.GraphCell`` for MINDIR, ONNX Runtime for
ONNX) and its logits are compared with the network's on random input of every shape the file promises to accept.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from mindzoo.deploy.runtimes import load_mindir, onnx_session, run_mindir, run_onnx
from mindzoo.errors import MindzooError

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]
Shape = Tuple[int, ...]
VERIFY_TOLERANCE = 1e-4
DYNAMIC_VERIFY_BATCHES = (1, 3)
VERIFY_SEED = 0


def relative_error(got: np.ndarray, reference: np.ndarray) -> float:
    """``max|got - reference| / max|reference|``: scale-free, so one tolerance fits every model."""
    got = np.asarray(got, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if got.shape != reference.shape:
        raise MindzooError(f"exported model returned shape {got.shape}, the network {reference.shape}")
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    return float(np.abs(got - reference).max()) / max(scale, 1e-12) if got.size else 0.0


def verify_shapes(batch_size: int, height: int, width: int, dynamic_batch: bool, channels: int = 3) -> List[Shape]:
    """The input shapes to test: the fixed one, or batch 1 and 3 for a dynamic batch (3 != 1 on purpose)."""
    batches = DYNAMIC_VERIFY_BATCHES if dynamic_batch else (batch_size,)
    return [(b, channels, height, width) for b in batches]


def random_input(shape: Shape, seed: int = VERIFY_SEED) -> np.ndarray:
    """Normalised-image-like input: standard normal, what a mean/std-normalised image looks like."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _reference_logits(net: "object", x: np.ndarray) -> np.ndarray:
    from mindspore import Tensor

    net.set_train(False)
    return net(Tensor(x)).asnumpy()


def check_onnx_batch_dims(path: PathLike, dynamic_batch: bool, label: Optional[str] = None) -> None:
    """A dynamic-batch ONNX must say so on its output too: runtimes allocate from the declared shape."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    for kind, values in (("input", graph.input), ("output", graph.output)):
        for value in values:
            dim0 = value.type.tensor_type.shape.dim[0]
            symbolic = dim0.HasField("dim_param") and bool(dim0.dim_param)
            if symbolic != dynamic_batch:
                found = f"dynamic ('{dim0.dim_param}')" if symbolic else f"fixed ({dim0.dim_value})"
                raise MindzooError(f"{label or path}: {kind} '{value.name}' has a {found} batch dimension")


def verify_export(
    path: PathLike,
    file_format: str,
    net: "object",
    shapes: Sequence[Shape],
    dynamic_batch: bool = False,
    tolerance: float = VERIFY_TOLERANCE,
    label: Optional[str] = None,
) -> Dict[int, float]:
    """Compare the exported file with ``net`` (eval mode) on each shape; return {batch: relative error}.

    Raises MindzooError (exit 1) when any error exceeds ``tolerance``. AIR has no host runtime, so it
    returns an empty dict after logging that it was not checked. ``label`` names the file in messages
    when ``path`` is a temporary name.
    """
    label = label or str(path)
    file_format = file_format.upper()
    if file_format == "AIR":
        logger.warning("AIR cannot be run on the host: %s was not verified", label)
        return {}
    if file_format == "ONNX":
        session = onnx_session(path, label)
        check_onnx_batch_dims(path, dynamic_batch, label)

        def run(x: np.ndarray) -> np.ndarray:
            return run_onnx(session, x, label)
    elif file_format == "MINDIR":
        graph = load_mindir(path, label)

        def run(x: np.ndarray) -> np.ndarray:
            return run_mindir(graph, x, label)
    else:
        raise MindzooError(f"cannot verify file format {file_format!r}")
    errors: Dict[int, float] = {}
    for shape in shapes:
        x = random_input(shape)
        expected = _reference_logits(net, x)
        got = run(x)
        err = relative_error(got, expected)
        errors[int(shape[0])] = err
        logger.info("verify %s %s: input %s -> output %s, max relative error %.3g (tolerance %.0e)",
                    file_format, Path(label).name, list(shape), list(got.shape), err, tolerance)
        if not err <= tolerance:
            raise MindzooError(
                f"exported {file_format} {label} disagrees with the network at batch {shape[0]}: "
                f"max relative error {err:.3g} > {tolerance:.0e}"
            )
    return errors

"""Checkpoint I/O: atomic writes and strict, well-explained weight loading."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import mindspore as ms
from mindspore import nn

from mindzoo.errors import CheckpointError, first_line

PathLike = Union[str, Path]


def save_checkpoint_atomic(
    save_obj: Union[nn.Cell, List[Dict[str, Any]]], path: PathLike, append_dict: Optional[Dict[str, Any]] = None
) -> Path:
    """Write a checkpoint to a temp file in the same directory, then rename it into place.

    A run killed mid-write leaves the previous checkpoint intact, never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.ckpt")  # MindSpore appends .ckpt otherwise
    try:
        ms.save_checkpoint(save_obj, str(tmp), append_dict=append_dict)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_checkpoint(path: PathLike) -> Dict[str, ms.Parameter]:
    """Load a checkpoint's parameter dict, with a one-line error for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return ms.load_checkpoint(str(path))
    except Exception as exc:  # MindSpore raises ValueError/RuntimeError with multi-line text
        raise CheckpointError(f"cannot read checkpoint {path}: {first_line(exc)}") from None


def check_compatible(net: nn.Cell, params: Dict[str, Any], source: str) -> None:
    """Raise a CheckpointError naming the first missing key or shape mismatch.

    Extra keys (optimizer moments, step counters) are allowed: train.py checkpoints carry them.
    """
    classifier = getattr(net, "get_classifier", None)
    if classifier is not None and isinstance(classifier(), nn.Dense):
        fc = classifier()
        name = fc.weight.name
        if name in params and params[name].shape[0] != fc.weight.shape[0]:
            raise CheckpointError(
                f"{source} has a {params[name].shape[0]}-class classifier ({name} {tuple(params[name].shape)}) "
                f"but the network has num_classes={fc.weight.shape[0]}; set --num_classes={params[name].shape[0]}"
            )
    for param in net.get_parameters():
        if param.name not in params:
            raise CheckpointError(f"{source} has no parameter '{param.name}' (is it a checkpoint of this architecture?)")
        got = tuple(params[param.name].shape)
        if got != tuple(param.shape):
            raise CheckpointError(
                f"{source}: parameter '{param.name}' has shape {got}, the network expects {tuple(param.shape)}"
            )


def load_weights(net: nn.Cell, path: PathLike) -> Dict[str, Any]:
    """Strictly load a checkpoint's network weights into ``net``; return the full parameter dict."""
    params = read_checkpoint(path)
    check_compatible(net, params, str(path))
    wanted = {p.name for p in net.get_parameters()}
    ms.load_param_into_net(net, {k: v for k, v in params.items() if k in wanted}, strict_load=True)
    return params

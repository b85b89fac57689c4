"""Checkpoint I/O: atomic, durable writes and strict, well-explained weight loading."""
from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import mindspore as ms
from mindspore import nn

from mindzoo.errors import CheckpointError, first_line

PathLike = Union[str, Path]


# ``.<stem>.tmp-<host>-<pid>.ckpt``: MindSpore appends .ckpt to a name without it; the host keeps a writer on
# another machine sharing the directory safe from cleanup here.
TEMP_PATTERN = re.compile(r"^\..+\.tmp-(?P<host>.+)-(?P<pid>\d+)\.ckpt$")


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.stem}.tmp-{socket.gethostname()}-{os.getpid()}.ckpt")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temp_files(directory: Path) -> List[Path]:
    """Delete the temp files that writers on this host which no longer run left in ``directory``; return them.

    A writer killed between writing and renaming (SIGKILL, OOM, power loss) leaves its temp file behind; the
    next save into the directory removes it instead of letting such files pile up.
    """
    removed = []
    host = socket.gethostname()
    for candidate in Path(directory).glob(".*.tmp-*.ckpt"):
        match = TEMP_PATTERN.match(candidate.name)
        if not match or match["host"] != host:
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and not _process_alive(pid):
            try:
                candidate.unlink()
            except FileNotFoundError:  # another saver removed it first
                continue
            removed.append(candidate)
    return removed


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # checkpoints are written read-only (0400); fsync works on a read fd
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint_atomic(
    save_obj: Union[nn.Cell, List[Dict[str, Any]]], path: PathLike, append_dict: Optional[Dict[str, Any]] = None
) -> Path:
    """Write a checkpoint to a temp file in the same directory, fsync it, rename it into place, fsync the directory.

    A run killed mid-write leaves the previous checkpoint intact, never a truncated one, and once this returns
    the new checkpoint survives a power loss (data flushed before the rename, the rename flushed after).
    Leftover temp files of dead writers are removed first (:func:`remove_stale_temp_files`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    tmp = _temp_path(path)
    try:
        ms.save_checkpoint(save_obj, str(tmp), append_dict=append_dict)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
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

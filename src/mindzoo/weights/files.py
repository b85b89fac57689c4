"""Checkpoint files on disk: atomic, durable writes (with cleanup of dead writers' temp files) and reads with
one-line errors. Every write records the :mod:`mindzoo.weights.pretrained` entry of the network it saves.
"""
from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import mindspore as ms
from mindspore import nn

from mindzoo.errors import CheckpointError, first_line
from mindzoo.weights.pretrained import PretrainedCfg, pretrained_cfg_of

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
    save_obj: Union[nn.Cell, List[Dict[str, Any]]], path: PathLike, append_dict: Optional[Dict[str, Any]] = None,
    pretrained_cfg: Optional[PretrainedCfg] = None,
) -> Path:
    """Write a checkpoint to a temp file in the same directory, fsync it, rename it into place, fsync the directory.

    A run killed mid-write leaves the previous checkpoint intact, never a truncated one, and once this returns
    the new checkpoint survives a power loss (data flushed before the rename, the rename flushed after).
    Leftover temp files of dead writers are removed first (:func:`remove_stale_temp_files`). The
    ``mindzoo.pretrained_cfg`` entry is ``pretrained_cfg`` if given, else that of the ResNet in ``save_obj``,
    so a fine-tuned checkpoint keeps the variant of the weights it started from.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    if pretrained_cfg is None and isinstance(save_obj, nn.Cell):
        pretrained_cfg = pretrained_cfg_of(save_obj)
    if pretrained_cfg is not None:
        append_dict = {**(append_dict or {}), **pretrained_cfg.entry()}
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


def mem_available() -> Optional[int]:
    """Bytes the kernel can give a process now: free memory plus reclaimable page cache (``MemAvailable``)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def count_reclaimable_memory_in_load_checks() -> None:
    """Make MindSpore's checkpoint size check count the page cache as available, as the kernel does.

    MindSpore 2.10's ``load_checkpoint`` refuses a file larger than the *free* physical memory
    (``sysconf(SC_AVPHYS_PAGES)``, which leaves out the page cache): after some GB of file I/O a 200 MB ResNet50
    checkpoint was refused on this 24 GB machine with 194 MB "available" while 15 GB were. Its check
    (``mindspore.train.serialization._get_available_memory``, private) then reads ``MemAvailable`` instead; where
    /proc/meminfo is missing, MindSpore's own check stays.
    """
    from mindspore.train import serialization

    if mem_available() is not None and hasattr(serialization, "_get_available_memory"):
        serialization._get_available_memory = mem_available


def read_checkpoint(path: PathLike) -> Dict[str, ms.Parameter]:
    """Load a checkpoint's parameter dict, with a one-line error for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    count_reclaimable_memory_in_load_checks()
    try:
        return ms.load_checkpoint(str(path))
    except Exception as exc:  # MindSpore raises ValueError/RuntimeError with multi-line text
        raise CheckpointError(f"cannot read checkpoint {path}: {first_line(exc)}") from None

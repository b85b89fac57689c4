"""Checkpoint file names and which files a run or an evaluation takes: one implementation, MindSpore-free.

A run's checkpoints are the model zoo's ``<net>-<epoch>_<step>.ckpt`` (epoch 1-based, step within that epoch):
an epoch checkpoint is ``<net>-3_5004.ckpt``, a step checkpoint in epoch 4 is ``<net>-4_1000.ckpt``. The
launchers resolve ``--resume_ckpt=auto`` with :func:`newest_checkpoint` before MindSpore loads, and the demos
pick the checkpoint a run left the same way. Hidden files (``.<name>.tmp-*.ckpt``: a save in progress, or one a
killed writer left; :mod:`mindzoo.weights.files`) are never checkpoints.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

from mindzoo.errors import ConfigError, UsageError

CKPT_PATTERN = re.compile(r"^(?P<net>.+)-(?P<epoch>\d+)_(?P<step>\d+)\.ckpt$")
#: ``--resume_ckpt=auto``: the run's newest checkpoint (:func:`newest_checkpoint`), or a fresh start if none.
AUTO = "auto"


def checkpoint_name(net_name: str, epoch: int, step: int) -> str:
    return f"{net_name}-{epoch}_{step}.ckpt"


def list_checkpoints(directory: Path, net_name: str) -> List[Path]:
    """``net_name``'s ``<net>-<epoch>_<step>.ckpt`` files in ``directory``, oldest first."""
    found = []
    for path in Path(directory).glob(f"{net_name}-*_*.ckpt"):
        match = CKPT_PATTERN.match(path.name)
        if match and match["net"] == net_name:
            found.append((int(match["epoch"]), int(match["step"]), path))
    return [path for _, _, path in sorted(found)]


def newest_checkpoint(directory: Path, net_name: str) -> Optional[Path]:
    checkpoints = list_checkpoints(directory, net_name)
    return checkpoints[-1] if checkpoints else None


def checkpoint_files(pretrained: str) -> List[Path]:
    """eval.py's ``--pretrained``: one checkpoint, or every ``*.ckpt`` in a directory sorted by name, numbers
    compared as numbers (epoch order for train.py's names, and for any other tool's ``*_10.ckpt``)."""
    if not pretrained:
        raise ConfigError("pretrained is empty; pass --pretrained=CKPT (a .ckpt file or a directory of them)")
    path = Path(pretrained)
    if path.is_dir():
        found = sorted((p for p in path.glob("*.ckpt") if not p.name.startswith(".")), key=_natural_key)
        if not found:
            raise UsageError(f"no .ckpt files in {path}")
        return found
    if not path.is_file():
        raise UsageError(f"checkpoint not found: {path}")
    return [path]


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]

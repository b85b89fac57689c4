"""What every run sets up before its work starts: logging, a writable output directory, the MindSpore device,
mode and seed. Below everything that starts a run (cli/, train/, eval/, export/, launch/), above nothing but errors.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional

from mindzoo.errors import UsageError

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def log_formatter() -> logging.Formatter:
    """The one format of mindzoo's log lines (train_rank<r>.log, eval logs, config notes)."""
    return logging.Formatter(LOG_FORMAT, datefmt=LOG_DATE_FORMAT)


def setup_logging(log_file: Optional[Path] = None, level: int = logging.INFO) -> logging.Logger:
    """Log to stdout and, if given, to ``log_file`` (each rank writes its own)."""
    logger = logging.getLogger("mindzoo")
    logger.setLevel(level)
    for old in logger.handlers:  # a previous run in this process (tests, notebooks) left its log file open
        old.close()
    logger.handlers.clear()
    logger.propagate = False
    formatter = log_formatter()
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(formatter)
    logger.addHandler(stream)
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger


def ensure_writable_dir(path: Path, hint: str = "choose another with --output_dir=DIR") -> Path:
    """Create ``path`` if needed and prove a file can be written there, before any expensive work starts.

    A real write, not ``os.access``: as root, ``os.access`` says yes to read-only mounts.
    """
    path = Path(path)
    probe = path / f".mindzoo-write-test-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"directory {path} is not writable ({exc.strerror}); {hint}") from None
    return path


def set_mindspore_context(device_target: str, mode: str, seed: Optional[int] = None) -> None:
    """Select device and execution mode (GRAPH by default), with a usage error for unknown values."""
    import mindspore as ms

    device_target = device_target.upper() if device_target.lower() != "ascend" else "Ascend"
    if device_target not in ("CPU", "GPU", "Ascend"):
        raise UsageError(f"device_target must be CPU, GPU or Ascend, got {device_target!r}")
    modes = {"GRAPH": ms.GRAPH_MODE, "PYNATIVE": ms.PYNATIVE_MODE}
    if mode.upper() not in modes:
        raise UsageError(f"mode must be GRAPH or PYNATIVE, got {mode!r}")
    device_id = os.environ.get("DEVICE_ID", "")
    try:
        if device_target != "CPU" and device_id.isdigit():
            # Rank-table launches give each rank its card in DEVICE_ID (msrun exports the local rank there);
            # without it every rank would open device 0.
            ms.set_device(device_target, int(device_id))
        else:
            ms.set_device(device_target)
    except RuntimeError:  # once a kernel ran, MindSpore refuses set_device even to the same device
        if ms.get_context("device_target") != device_target:
            raise
    ms.set_context(mode=modes[mode.upper()])
    if seed is not None:
        ms.set_seed(seed)

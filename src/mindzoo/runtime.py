"""What every run sets up before its work starts: logging, a writable output directory, the MindSpore device,
mode and seed, data parallelism and the shard a rank reads. Below everything that starts a run (cli/, train/, eval/,
export/, launch/), above nothing but errors.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from mindzoo.errors import MindzooError, UsageError, first_line

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


def set_mindspore_context(device_target: str, mode: str, seed: Optional[int] = None, device_id: int = -1,
                          distributed: bool = False) -> None:
    """Select device, card and execution mode (GRAPH by default); unusable values are one-line usage errors.

    The card: ``device_id`` (``--device_id``) for a standalone run, the launcher's ``DEVICE_ID`` for a
    distributed rank (msrun and the rank-table launchers export each rank's card there); both given and
    different is an error, as is a device this MindSpore cannot use.
    """
    import mindspore as ms

    device_target = device_target.upper() if device_target.lower() != "ascend" else "Ascend"
    if device_target not in ("CPU", "GPU", "Ascend"):
        raise UsageError(f"device_target must be CPU, GPU or Ascend, got {device_target!r}")
    modes = {"GRAPH": ms.GRAPH_MODE, "PYNATIVE": ms.PYNATIVE_MODE}
    if mode.upper() not in modes:
        raise UsageError(f"mode must be GRAPH or PYNATIVE, got {mode!r}")
    card = device_card(device_target, device_id, os.environ.get("DEVICE_ID", ""), distributed)
    try:
        with held_mindspore_warnings() as held:
            if card is None:
                ms.set_device(device_target)
            else:
                ms.set_device(device_target, card)
            held.release_on_success = True
    except RuntimeError as exc:
        # once a kernel ran, MindSpore refuses set_device even to the same device: that one is no error
        same = ms.get_context("device_target") == device_target and (
            card is None or ms.get_context("device_id") == card)
        if not same:
            raise UsageError(unusable_device_message(device_target, exc)) from None
    ms.set_context(mode=modes[mode.upper()])
    if seed is not None:
        ms.set_seed(seed)


class _HeldRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: List[logging.LogRecord] = []
        self.release_on_success = False

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def held_mindspore_warnings() -> Iterator[_HeldRecords]:
    """Hold MindSpore's log records (its device version checks warn on stderr); replay them if the block set
    ``release_on_success``, drop them when it failed: the failure becomes one line of ours."""
    from mindspore import log as ms_log

    ms_logger = ms_log._get_logger()  # MindSpore's one logger; no public accessor
    held = _HeldRecords()
    handlers = list(ms_logger.handlers)
    ms_logger.handlers = [held]
    try:
        yield held
    finally:
        ms_logger.handlers = handlers
        if held.release_on_success:
            for record in held.records:
                ms_logger.handle(record)


def device_card(device_target: str, device_id: int, launcher_device_id: str, distributed: bool) -> Optional[int]:
    """The card to open (None: MindSpore's default, and always on CPU, which has none)."""
    if device_target == "CPU":
        return None
    launcher = int(launcher_device_id) if launcher_device_id.isdigit() else None
    if device_id >= 0 and launcher is not None and device_id != launcher:
        raise UsageError(f"--device_id={device_id} conflicts with DEVICE_ID={launcher} set by the launcher; "
                         "pass only one of them")
    if distributed:
        if launcher is None and device_id >= 0:
            raise UsageError(f"--device_id={device_id} in a distributed run would put every rank on one card; "
                             "each rank's card comes from DEVICE_ID, set by the launcher (msrun, run_distribute_train.sh)")
        return launcher
    return device_id if device_id >= 0 else launcher


def unusable_device_message(device_target: str, exc: BaseException) -> str:
    """One line for a device this MindSpore cannot open: the device, MindSpore's reason, the fix."""
    reason = first_line(exc).split(" Please check")[0].rstrip(".")
    return (f"device_target {device_target} cannot be used here ({reason}); on this machine pass "
            "--device_target CPU (the model zoo's scripts: --platform CPU)")


@dataclass(frozen=True)
class DistInfo:
    """This process's place in a data-parallel job (rank 0 of 1 when it runs alone)."""

    rank: int = 0
    group_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.group_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self) -> Dict[str, int]:
        """This rank's ``num_shards``/``shard_id`` dataset arguments; none for a single process."""
        return dict(num_shards=self.group_size, shard_id=self.rank) if self.distributed else {}


def init_data_parallel(run_distribute: bool) -> DistInfo:
    """``init()`` the collective backend (HCCL/NCCL/mccl, chosen by MindSpore) and set data parallel.

    Call after the device is set. With ``run_distribute=False`` this is a single process.
    """
    if not run_distribute:
        return DistInfo()
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init

    try:
        init()
    except Exception as exc:  # MindSpore's message is long; keep the first line and say how to launch
        raise MindzooError(
            f"run_distribute=True but the collective backend did not start ({first_line(exc)}); launch with "
            "scripts/run_distribute_train.sh (Ascend) or scripts/run_distribute_train_msrun.sh (msrun)"
        ) from None
    info = DistInfo(rank=get_rank(), group_size=get_group_size())
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(
        parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=info.group_size
    )
    os.environ.setdefault("RANK_ID", str(info.rank))
    return info

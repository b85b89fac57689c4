"""What every command line shares: one-line errors with exit codes, --help, logging, MindSpore context."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Callable, List, NoReturn, Optional, Sequence, TextIO

from mindzoo.errors import HelpRequested, MindzooError, UsageError

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def log_formatter() -> logging.Formatter:
    """The one format of mindzoo's log lines (train_rank<r>.log, eval logs, config notes)."""
    return logging.Formatter(LOG_FORMAT, datefmt=LOG_DATE_FORMAT)


def run_cli(main_fn: Callable[[List[str]], Optional[int]], argv: Optional[Sequence[str]] = None) -> int:
    """Run ``main_fn``; a MindzooError becomes ``error: <message>`` on stderr and its exit code.

    ``main_fn`` of ``mindzoo.cli.<name>`` parses as entry point ``<name>`` (``mindzoo.config.ENTRY_POINT``);
    ``-h``/``--help`` on its command line prints that program's help (``mindzoo.cli.help``) and returns 0.
    """
    from mindzoo.config import ENTRY_POINT

    args = list(sys.argv[1:] if argv is None else argv)
    module = getattr(main_fn, "__module__", "") or ""
    token = ENTRY_POINT.set(module.rsplit(".", 1)[-1]) if module.startswith("mindzoo.cli.") else None
    try:
        return int(main_fn(args) or 0)
    except HelpRequested as request:
        from mindzoo.cli.help import render_help

        try:
            print_help(render_help(request.command, request.config_path))
        except MindzooError as exc:  # e.g. --config_path names a missing file
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return exc.exit_code
        return 0
    except MindzooError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr, flush=True)
        return 130
    finally:
        if token is not None:
            ENTRY_POINT.reset(token)


def print_help(text: str, out: Optional[TextIO] = None) -> None:
    """Print a help text; a reader that stops early (``--help | head``) is not an error."""
    out = sys.stdout if out is None else out
    try:
        print(text, file=out, flush=True)
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # Python flushes stdout again at exit


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the CLIs with positional arguments (infer.py, mindzoo.convert): a usage error raises a one-line
    UsageError (``run_cli`` prints it and returns 2) instead of printing the usage and exiting; help is
    :class:`HelpFormatter`'s."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        raise UsageError(message)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse help in the config CLIs' style: each option's type as its metavar, and its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if (action.required or action.default in (None, argparse.SUPPRESS) or isinstance(action.default, bool)
                or "default" in (action.help or "")):
            return action.help or ""
        default = '""' if action.default == "" else "%(default)s"
        return f"{action.help or ''} (default: {default})"

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        return getattr(action.type, "__name__", "str").upper()

    def _get_default_metavar_for_positional(self, action: argparse.Action) -> str:
        return action.dest.upper()


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

"""What every command line shares: one-line errors with exit codes, --help, argparse in the house style.

Logging, output directories and the MindSpore context are :mod:`mindzoo.runtime`'s.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, List, NoReturn, Optional, Sequence, TextIO

from mindzoo.cli.help import render_help
from mindzoo.errors import HelpRequested, MindzooError, UsageError


def run_cli(main_fn: Callable[[List[str]], Optional[int]], argv: Optional[Sequence[str]] = None) -> int:
    """Run ``main_fn``; a MindzooError becomes ``error: <message>`` on stderr and its exit code.

    ``-h``/``--help`` on its command line (``HelpRequested``, raised by ``load_config`` with the command that
    ``main_fn`` named) prints that program's help (``mindzoo.cli.help``) and returns 0.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(main_fn(args) or 0)
    except HelpRequested as request:
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

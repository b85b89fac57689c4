"""eval.py: top-1/top-5 of a checkpoint (or every checkpoint in a directory) on every val image.

Parses the model-zoo command line and runs :func:`mindzoo.eval.run.run_eval`.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from mindzoo.cli.common import run_cli
from mindzoo.config import load_config


def _main(argv: Sequence[str]) -> int:
    from mindzoo.eval.run import run_eval

    run_eval(load_config(argv, command="eval"))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(_main, argv)

"""train.py: train any registered model on an ImageNet-layout folder (GRAPH mode by default).

Argument handling only; the run itself is ``mindzoo.train.engine`` (also the FixRes fine-tune stage:
``--fixres_finetune=True --pretrained CKPT``, see mindzoo.train.fixres).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from mindzoo.cli.common import run_cli
from mindzoo.config import load_config
from mindzoo.train.checks import check_train_config

__all__ = ["check_train_config", "main"]


def _main(argv: Sequence[str]) -> int:
    cfg = load_config(argv, command="train")
    check_train_config(cfg)  # before MindSpore loads: bad usage fails in a second
    from mindzoo.train.engine import build_run, fit

    fit(build_run(cfg))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(_main, argv)

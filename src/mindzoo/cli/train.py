"""train.py: train any registered model on an ImageNet-layout folder (GRAPH mode by default).

Argument handling only; the run itself is ``mindzoo.train.engine`` (also the FixRes fine-tune stage:
``--fixres_finetune=True --pretrained CKPT``, see mindzoo.train.fixres).
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence

from mindzoo.cli.common import run_cli
from mindzoo.config import Config, keys_set_by, load_config
from mindzoo.train.checks import check_train_config, check_train_inputs

__all__ = ["check_train_config", "main"]


def _main(argv: Sequence[str]) -> int:
    cfg = load_config(argv, command="train")
    yield_device_id_to_launcher(cfg, argv)
    check_train_config(cfg)  # before MindSpore loads: bad usage or data fails in a second
    inputs = check_train_inputs(cfg)
    from mindzoo.train.engine import build_run, fit

    fit(build_run(cfg, inputs=inputs))
    return 0


def yield_device_id_to_launcher(cfg: Config, argv: Sequence[str]) -> None:
    """A ``device_id`` from a config file (the model zoo's YAML has ``device_id: 0``) gives way to the launcher's
    ``DEVICE_ID``; one given on the command line is checked against it (a conflict is an error)."""
    if os.environ.get("DEVICE_ID", "").isdigit() and "device_id" not in keys_set_by(argv, "train"):
        cfg.device_id = -1


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(_main, argv)

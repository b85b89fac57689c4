#!/usr/bin/env python3
"""Thin wrapper: `python eval.py --config_path configs/resnet50.yaml ...` (see README.md)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from mindzoo.cli.eval import main  # noqa: E402  (after the path is set; mindzoo sets ONEDNN_MAX_CPU_ISA first)

if __name__ == "__main__":
    sys.exit(main())

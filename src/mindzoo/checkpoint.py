"""Temporary: train/ (being rewritten on another branch) still imports these three names from here.

Their owners are :mod:`mindzoo.weights.files` and :mod:`mindzoo.weights.checkpoint`; delete this module once
train/ imports them from there (the import-linter contract in .importlinter tolerates it until then).
"""
from mindzoo.weights.checkpoint import check_compatible
from mindzoo.weights.files import read_checkpoint, save_checkpoint_atomic

__all__ = ["check_compatible", "read_checkpoint", "save_checkpoint_atomic"]

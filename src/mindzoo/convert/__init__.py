"""Weight import and export: torchvision / timm / MindCV / mindspore/models ResNets <-> mindzoo checkpoints.

Command line: ``python -m mindzoo.convert --arch resnet50 --src resnet50.pth --out resnet50.ckpt`` (the source
format is detected; ``--src_format`` forces it), and back to PyTorch with ``--to torchvision``. The formats, their
renaming rules and the file readers are :mod:`mindzoo.weights`'; this package builds the network and writes the file.
"""
from mindzoo.convert.converter import convert_file, export_torch, resolve_classes

__all__ = ["convert_file", "export_torch", "resolve_classes"]

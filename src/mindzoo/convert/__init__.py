"""Weight import and export: torchvision / timm / MindCV / mindspore/models ResNets <-> mindzoo checkpoints.

Command line: ``python -m mindzoo.convert --arch resnet50 --src resnet50.pth --out resnet50.ckpt`` (the source
format is detected; ``--src_format`` forces it), and back to PyTorch with ``--to torchvision``.
"""
from mindzoo.convert.converter import convert_file, export_torch, resolve_classes
from mindzoo.convert.formats import FORMATS, SOURCE_FORMATS, ms_to_torch_name, torch_to_ms_name
from mindzoo.convert.torch_to_ms import convert_state_dict, load_torch_state_dict

__all__ = [
    "FORMATS", "SOURCE_FORMATS", "convert_file", "convert_state_dict", "export_torch", "load_torch_state_dict",
    "ms_to_torch_name", "resolve_classes", "torch_to_ms_name",
]

"""Weight import: torchvision / timm ResNet and ResNeXt state_dicts -> mindzoo MindSpore checkpoints.

Command line: ``python -m mindzoo.convert --arch resnet50 --src resnet50.pth --out resnet50.ckpt``.
"""
from mindzoo.convert.torch_to_ms import (
    convert_file,
    convert_state_dict,
    load_torch_state_dict,
    ms_to_torch_name,
    resolve_num_classes,
)

__all__ = ["convert_file", "convert_state_dict", "load_torch_state_dict", "ms_to_torch_name", "resolve_num_classes"]

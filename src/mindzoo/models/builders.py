"""Thin named builders over the one ``ResNet`` class; each sets depth, cardinality and data settings."""
from __future__ import annotations

from typing import Sequence

from mindzoo.data.geometry import DataConfig
from mindzoo.models.registry import register_model
from mindzoo.models.resnet import BasicBlock, Block, Bottleneck, ResNet

# FixRes (Touvron et al. 2019): train at 224 with RandomResizedCrop, test at 384 after a short fine-tune.
# crop_pct 0.875 gives the reference test transform Resize(int(384 * 256 / 224) = 438) + CenterCrop(384).
FIXRES_DATA_CONFIG = DataConfig(input_size=224, test_input_size=384, crop_pct=0.875)


def _resnet(block: Block, layers: Sequence[int], data_config: DataConfig = DataConfig(), **kwargs: object) -> ResNet:
    kwargs.setdefault("data_config", data_config)
    return ResNet(block, layers, **kwargs)


@register_model
def resnet18(**kwargs: object) -> ResNet:
    return _resnet(BasicBlock, (2, 2, 2, 2), **kwargs)


@register_model
def resnet34(**kwargs: object) -> ResNet:
    return _resnet(BasicBlock, (3, 4, 6, 3), **kwargs)


@register_model
def resnet50(**kwargs: object) -> ResNet:
    return _resnet(Bottleneck, (3, 4, 6, 3), **kwargs)


@register_model
def resnet101(**kwargs: object) -> ResNet:
    return _resnet(Bottleneck, (3, 4, 23, 3), **kwargs)


@register_model
def resnet152(**kwargs: object) -> ResNet:
    return _resnet(Bottleneck, (3, 8, 36, 3), **kwargs)


@register_model
def resnext50_32x4d(**kwargs: object) -> ResNet:
    return _resnet(Bottleneck, (3, 4, 6, 3), groups=32, width_per_group=4, **kwargs)


@register_model
def resnext101_32x4d(**kwargs: object) -> ResNet:
    """MindCV's and timm's ResNeXt101 (torchvision has only 32x8d and 64x4d)."""
    return _resnet(Bottleneck, (3, 4, 23, 3), groups=32, width_per_group=4, **kwargs)


@register_model
def resnext101_32x8d(**kwargs: object) -> ResNet:
    return _resnet(Bottleneck, (3, 4, 23, 3), groups=32, width_per_group=8, **kwargs)


@register_model
def resnext101_64x4d(**kwargs: object) -> ResNet:
    return _resnet(Bottleneck, (3, 4, 23, 3), groups=64, width_per_group=4, **kwargs)


@register_model
def resnext152_64x4d(**kwargs: object) -> ResNet:
    return _resnet(Bottleneck, (3, 8, 36, 3), groups=64, width_per_group=4, **kwargs)


@register_model
def fixres_resnet50(**kwargs: object) -> ResNet:
    """ResNet50 architecture with FixRes data settings (train 224, test 384)."""
    return _resnet(Bottleneck, (3, 4, 6, 3), data_config=FIXRES_DATA_CONFIG, **kwargs)

"""The mindspore/models networks whose checkpoints mindzoo reads, rewritten from their published source.

The model zoo is not a package, so the parity tests rebuild its networks here, layer for layer, with the
same cell names, padding modes and BatchNorm settings (weights are set from a seeded generator by the tests,
so the zoo's initialisers are left out):

- ``official/cv/ResNet/src/resnet.py`` (``ResidualBlock``, ``ResidualBlockBase``, ``ResNet``): ResNet50/101/152
  pad every conv ``same`` (stem 7x7 and strided 3x3 included), pool ``same``, BN eps 1e-4; ResNet18/34
  (``res_base=True``) pad symmetrically, pool through ``nn.Pad`` + ``valid``, and mix BN eps 1e-4 (``bn1d``,
  ``bn2d``) with 1e-5 (stem and shortcut, ``_bn(channel, res_base)``). ImageNet configs use 1001 classes.
- ``research/cv/resnext152_64x4d/src`` (``backbone/resnet.py``, ``head.py``, ``utils/cunstom_op.py``,
  ``image_classification.py``): symmetric convs, default BN (eps 1e-5), max-pool ``same``, names
  ``backbone.*`` / ``head.fc``; with ``platform="Ascend"`` every grouped 3x3 conv is a ``GroupConv`` of one
  conv per group. The head is built with ``fp16=False`` (what its train.py builds on GPU).
"""
from __future__ import annotations

from typing import Sequence

from mindspore import nn, ops
from mindspore.common import dtype as mstype


# ----------------------------------------------------------------------- official/cv/ResNet/src/resnet.py


def _conv3x3(in_channel: int, out_channel: int, stride: int = 1, res_base: bool = False) -> nn.Conv2d:
    if res_base:
        return nn.Conv2d(in_channel, out_channel, kernel_size=3, stride=stride, padding=1, pad_mode="pad")
    return nn.Conv2d(in_channel, out_channel, kernel_size=3, stride=stride, padding=0, pad_mode="same")


def _conv1x1(in_channel: int, out_channel: int, stride: int = 1, res_base: bool = False) -> nn.Conv2d:
    if res_base:
        return nn.Conv2d(in_channel, out_channel, kernel_size=1, stride=stride, padding=0, pad_mode="pad")
    return nn.Conv2d(in_channel, out_channel, kernel_size=1, stride=stride, padding=0, pad_mode="same")


def _conv7x7(in_channel: int, out_channel: int, stride: int = 1, res_base: bool = False) -> nn.Conv2d:
    if res_base:
        return nn.Conv2d(in_channel, out_channel, kernel_size=7, stride=stride, padding=3, pad_mode="pad")
    return nn.Conv2d(in_channel, out_channel, kernel_size=7, stride=stride, padding=0, pad_mode="same")


def _bn(channel: int, res_base: bool = False) -> nn.BatchNorm2d:
    if res_base:
        return nn.BatchNorm2d(channel, eps=1e-5, momentum=0.1, gamma_init=1, beta_init=0, moving_mean_init=0,
                              moving_var_init=1)
    return nn.BatchNorm2d(channel, eps=1e-4, momentum=0.9, gamma_init=1, beta_init=0, moving_mean_init=0,
                          moving_var_init=1)


def _fc(in_channel: int, out_channel: int) -> nn.Dense:
    return nn.Dense(in_channel, out_channel, has_bias=True, bias_init=0)


class ResidualBlock(nn.Cell):
    expansion = 4

    def __init__(self, in_channel: int, out_channel: int, stride: int = 1) -> None:
        super().__init__()
        channel = out_channel // self.expansion
        self.conv1 = _conv1x1(in_channel, channel, stride=1)
        self.bn1 = _bn(channel)
        self.conv2 = _conv3x3(channel, channel, stride=stride)
        self.bn2 = _bn(channel)
        self.conv3 = _conv1x1(channel, out_channel, stride=1)
        self.bn3 = _bn(out_channel)
        self.relu = nn.ReLU()
        self.down_sample = stride != 1 or in_channel != out_channel
        self.down_sample_layer = None
        if self.down_sample:
            self.down_sample_layer = nn.SequentialCell([_conv1x1(in_channel, out_channel, stride), _bn(out_channel)])

    def construct(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.down_sample:
            identity = self.down_sample_layer(identity)
        return self.relu(out + identity)


class ResidualBlockBase(nn.Cell):
    def __init__(self, in_channel: int, out_channel: int, stride: int = 1, res_base: bool = True) -> None:
        super().__init__()
        self.res_base = res_base
        self.conv1 = _conv3x3(in_channel, out_channel, stride=stride, res_base=self.res_base)
        self.bn1d = _bn(out_channel)
        self.conv2 = _conv3x3(out_channel, out_channel, stride=1, res_base=self.res_base)
        self.bn2d = _bn(out_channel)
        self.relu = nn.ReLU()
        self.down_sample = stride != 1 or in_channel != out_channel
        self.down_sample_layer = None
        if self.down_sample:
            self.down_sample_layer = nn.SequentialCell([_conv1x1(in_channel, out_channel, stride, res_base=res_base),
                                                        _bn(out_channel, res_base)])

    def construct(self, x):
        identity = x
        out = self.relu(self.bn1d(self.conv1(x)))
        out = self.bn2d(self.conv2(out))
        if self.down_sample:
            identity = self.down_sample_layer(identity)
        return self.relu(out + identity)


class ZooResNet(nn.Cell):
    """``official/cv/ResNet``'s ``ResNet`` without the SE option."""

    def __init__(self, block, layer_nums: Sequence[int], in_channels: Sequence[int], out_channels: Sequence[int],
                 strides: Sequence[int], num_classes: int, res_base: bool = False) -> None:
        super().__init__()
        self.res_base = res_base
        self.conv1 = _conv7x7(3, 64, stride=2, res_base=self.res_base)
        self.bn1 = _bn(64, self.res_base)
        self.relu = ops.ReLU()
        if self.res_base:
            self.pad = nn.Pad(paddings=((0, 0), (0, 0), (1, 1), (1, 1)))
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")
        else:
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="same")
        self.layer1 = self._make_layer(block, layer_nums[0], in_channels[0], out_channels[0], strides[0])
        self.layer2 = self._make_layer(block, layer_nums[1], in_channels[1], out_channels[1], strides[1])
        self.layer3 = self._make_layer(block, layer_nums[2], in_channels[2], out_channels[2], strides[2])
        self.layer4 = self._make_layer(block, layer_nums[3], in_channels[3], out_channels[3], strides[3])
        self.mean = ops.ReduceMean(keep_dims=True)
        self.flatten = nn.Flatten()
        self.end_point = _fc(out_channels[3], num_classes)

    @staticmethod
    def _make_layer(block, layer_num: int, in_channel: int, out_channel: int, stride: int) -> nn.SequentialCell:
        layers = [block(in_channel, out_channel, stride=stride)]
        for _ in range(1, layer_num):
            layers.append(block(out_channel, out_channel, stride=1))
        return nn.SequentialCell(layers)

    def construct(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if self.res_base:
            x = self.pad(x)
        c1 = self.maxpool(x)
        c5 = self.layer4(self.layer3(self.layer2(self.layer1(c1))))
        return self.end_point(self.flatten(self.mean(c5, (2, 3))))


ZOO_RESNET_LAYERS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3), "resnet50": (3, 4, 6, 3),
                     "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3)}


def zoo_resnet(name: str, class_num: int = 1001) -> ZooResNet:
    """``resnet18(class_num)`` ... ``resnet152(class_num)`` of the zoo's resnet.py."""
    layers = ZOO_RESNET_LAYERS[name]
    if name in ("resnet18", "resnet34"):
        return ZooResNet(ResidualBlockBase, layers, [64, 64, 128, 256], [64, 128, 256, 512], [1, 2, 2, 2], class_num,
                         res_base=True)
    return ZooResNet(ResidualBlock, layers, [64, 256, 512, 1024], [256, 512, 1024, 2048], [1, 2, 2, 2], class_num)


# --------------------------------------------------------------------- research/cv/resnext152_64x4d/src


def conv7x7(in_channels: int, out_channels: int, stride: int = 1, padding: int = 3) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=7, stride=stride, has_bias=False, padding=padding,
                     pad_mode="pad")


def conv1x1(in_channels: int, out_channels: int, stride: int = 1, padding: int = 0) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, has_bias=False, padding=padding,
                     pad_mode="pad")


class GroupConv(nn.Cell):
    """One conv per group on the split input, concatenated: what the zoo runs on Ascend."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, pad_mode: str = "pad",
                 pad: int = 0, groups: int = 1, has_bias: bool = False) -> None:
        super().__init__()
        assert in_channels % groups == 0 and out_channels % groups == 0
        self.groups = groups
        self.convs = nn.CellList()
        self.op_split = ops.Split(axis=1, output_num=self.groups)
        self.op_concat = ops.Concat(axis=1)
        self.cast = ops.Cast()
        for _ in range(groups):
            self.convs.append(nn.Conv2d(in_channels // groups, out_channels // groups, kernel_size=kernel_size,
                                        stride=stride, has_bias=has_bias, padding=pad, pad_mode=pad_mode, group=1))

    def construct(self, x):
        features = self.op_split(x)
        outputs = ()
        for i in range(self.groups):
            outputs = outputs + (self.convs[i](self.cast(features[i], mstype.float32)),)
        return self.op_concat(outputs)


class _DownSample(nn.Cell):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = conv1x1(in_channels, out_channels, stride=stride, padding=0)
        self.bn = nn.BatchNorm2d(out_channels)

    def construct(self, x):
        return self.bn(self.conv(x))


class Bottleneck(nn.Cell):
    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, down_sample=None, base_width: int = 64,
                 groups: int = 1, platform: str = "Ascend") -> None:
        super().__init__()
        width = int(out_channels * (base_width / 64.0)) * groups
        self.groups = groups
        self.conv1 = conv1x1(in_channels, width, stride=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = ops.ReLU()
        self.conv3x3s = nn.CellList()
        if platform == "GPU":
            self.conv2 = nn.Conv2d(width, width, 3, stride, pad_mode="pad", padding=1, group=groups)
        else:
            self.conv2 = GroupConv(width, width, 3, stride, pad=1, groups=groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_channels * self.expansion, stride=1)
        self.bn3 = nn.BatchNorm2d(out_channels * self.expansion)
        self.down_sample_flag = False
        if down_sample is not None:
            self.down_sample = down_sample
            self.down_sample_flag = True
        self.add = ops.Add()

    def construct(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.down_sample_flag:
            identity = self.down_sample(x)
        return self.relu(self.add(out, identity))


class ZooResNeXtBackbone(nn.Cell):
    def __init__(self, layers: Sequence[int], width_per_group: int = 64, groups: int = 1,
                 platform: str = "Ascend") -> None:
        super().__init__()
        self.in_channels = 64
        self.groups = groups
        self.base_width = width_per_group
        self.conv = conv7x7(3, self.in_channels, stride=2, padding=3)
        self.bn = nn.BatchNorm2d(self.in_channels)
        self.relu = ops.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="same")
        self.layer1 = self._make_layer(64, layers[0], platform=platform)
        self.layer2 = self._make_layer(128, layers[1], stride=2, platform=platform)
        self.layer3 = self._make_layer(256, layers[2], stride=2, platform=platform)
        self.layer4 = self._make_layer(512, layers[3], stride=2, platform=platform)
        self.out_channels = 512 * Bottleneck.expansion

    def construct(self, x):
        x = self.maxpool(self.relu(self.bn(self.conv(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def _make_layer(self, out_channels: int, blocks_num: int, stride: int = 1, platform: str = "Ascend"):
        down_sample = None
        if stride != 1 or self.in_channels != out_channels * Bottleneck.expansion:
            down_sample = _DownSample(self.in_channels, out_channels * Bottleneck.expansion, stride=stride)
        layers = [Bottleneck(self.in_channels, out_channels, stride=stride, down_sample=down_sample,
                             base_width=self.base_width, groups=self.groups, platform=platform)]
        self.in_channels = out_channels * Bottleneck.expansion
        for _ in range(1, blocks_num):
            layers.append(Bottleneck(self.in_channels, out_channels, base_width=self.base_width, groups=self.groups,
                                     platform=platform))
        return nn.SequentialCell(layers)


class CommonHead(nn.Cell):
    def __init__(self, num_classes: int, out_channels: int) -> None:
        super().__init__()
        self.mean = ops.ReduceMean(False)
        self.fc = nn.Dense(out_channels, num_classes, has_bias=True)

    def construct(self, x):
        return self.fc(self.mean(x, (2, 3)))


class ZooResNeXt(nn.Cell):
    """``ImageClassificationNetwork(backbone, head)`` of ``image_classification.py``."""

    def __init__(self, layers: Sequence[int] = (3, 8, 36, 3), groups: int = 64, width_per_group: int = 4,
                 num_classes: int = 1000, platform: str = "Ascend") -> None:
        super().__init__()
        self.backbone = ZooResNeXtBackbone(layers, width_per_group=width_per_group, groups=groups, platform=platform)
        self.head = CommonHead(num_classes, self.backbone.out_channels)

    def construct(self, x):
        return self.head(self.backbone(x))

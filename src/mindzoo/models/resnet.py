"""One ResNet / ResNeXt family (v1.5: stride on the 3x3 conv), parameter-for-parameter torchvision's.

Parameter names follow torchvision's module layout (``layer1.0.conv1.weight``, ``downsample.0``,
``fc``) with MindSpore's BatchNorm names (``gamma``, ``beta``, ``moving_mean``, ``moving_variance``),
so weight import is a name map, not a re-layout. By default every padding is explicit and symmetric: the
stem max-pool is ``nn.Pad`` + ``MaxPool2d(pad_mode="valid")``, which equals torchvision's padded pool
(its input is non-negative after ReLU) and, unlike ``pad_mode="pad"``, exports to ONNX.

A :class:`ResNetVariant` selects what other sources of ResNet weights do differently (MindCV's and the
mindspore/models zoo's ``pad_mode="same"``, BatchNorm eps), so their checkpoints give their exact logits;
the variant is a plain record of :mod:`mindzoo.weights.pretrained`, written into every checkpoint.
"""
from __future__ import annotations

import math
import time
from typing import Dict, Optional, Sequence, Type, Union

import mindspore as ms
from mindspore import nn, ops
from mindspore.common.initializer import HeNormal, HeUniform, Uniform

from mindzoo.data.geometry import DataConfig
from mindzoo.weights.pretrained import BN_EPS, DEFAULT_VARIANT, SAME, SYMMETRIC, ResNetVariant

BN_MOMENTUM = 0.9  # MindSpore keeps `momentum` of the old value: 0.9 here is torch's momentum=0.1.


def _conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
          padding_mode: str = SYMMETRIC) -> nn.Conv2d:
    """A bias-free conv, symmetric (torchvision) or MindSpore ``same`` padded, Kaiming-normal (fan_out) init."""
    padding = kernel_size // 2
    if padding and padding_mode == SAME:
        pad_mode, padding = "same", 0
    else:
        pad_mode = "pad" if padding else "valid"
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        pad_mode=pad_mode,
        padding=padding,
        group=groups,
        has_bias=False,
        weight_init=HeNormal(mode="fan_out", nonlinearity="relu"),
    )


def _bn(channels: int, zero_gamma: bool = False, eps: float = BN_EPS) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(
        channels, eps=eps, momentum=BN_MOMENTUM, gamma_init="zeros" if zero_gamma else "ones", beta_init="zeros"
    )


def renew_compile_stamp(*cells: nn.Cell) -> None:
    """Make GRAPH mode recompile ``cells`` on their next call after their structure changed.

    MindSpore 2.10 caches a cell's compiled graph under the cell's creation time (the private attribute
    ``_create_time``), so a cell whose sub-cells were replaced (a new classifier, folded BatchNorms) would
    otherwise keep running its old graph. tests/test_fold.py and tests/test_models.py fail if this stops working.
    """
    for cell in cells:
        object.__setattr__(cell, "_create_time", time.time_ns())


class DropPath(nn.Cell):
    """Stochastic depth (timm's ``DropPath``): in training, each sample's residual branch is zeroed with
    probability ``rate`` and the kept ones are scaled by ``1 / (1 - rate)``; in eval mode it is the identity
    (GRAPH mode compiles the eval graph without it, so exported graphs are unchanged).

    The per-sample draw is a hash of the branch's output, ``fract(sin(sum(x_n) * 12.9898 + salt) * 43758.5453)``,
    not a MindSpore random op: those keep a per-kernel state on CPU that no checkpoint holds, so a resumed run
    would drop other blocks than the unbroken one. The hash is a function of the step's inputs and weights only,
    so a resumed run drops exactly the same ones. ``salt`` decorrelates the blocks.
    """

    def __init__(self, rate: float, salt: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"drop path rate must be in [0, 1), got {rate}")
        self.keep = 1.0 - float(rate)
        self.salt = float(salt)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        if not self.training:
            return x
        key = ops.stop_gradient(ops.sum(ops.cast(x, ms.float32), (1, 2, 3), keepdim=True))
        noise = ops.sin(key * 12.9898 + self.salt) * 43758.5453
        keep = ops.cast((noise - ops.floor(noise)) < self.keep, x.dtype)
        return x * keep / self.keep


def drop_path_rates(rate: float, num_blocks: int) -> list:
    """timm's ResNet schedule: block ``i`` of ``n`` drops with ``rate * i / (n - 1)`` (0 for the first)."""
    return [rate * i / max(num_blocks - 1, 1) for i in range(num_blocks)]


def _drop_path(rate: float, salt: float) -> Optional[DropPath]:
    return DropPath(rate, salt) if rate > 0 else None


class BasicBlock(nn.Cell):
    """Two 3x3 convs (ResNet18/34)."""

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: Optional[nn.Cell] = None,
        groups: int = 1,
        base_width: int = 64,
        zero_init_last_bn: bool = False,
        variant: ResNetVariant = DEFAULT_VARIANT,
        drop_path_rate: float = 0.0,
        drop_path_salt: float = 0.0,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only groups=1 and width_per_group=64")
        pad, eps = variant.conv_padding, variant.block_bn_eps
        self.conv1 = _conv(in_channels, channels, 3, stride, padding_mode=pad)
        self.bn1 = _bn(channels, eps=eps)
        self.conv2 = _conv(channels, channels, 3, padding_mode=pad)
        self.bn2 = _bn(channels, zero_gamma=zero_init_last_bn, eps=eps)
        self.relu = nn.ReLU()
        self.has_downsample = downsample is not None
        self.downsample = downsample
        self.has_drop_path = drop_path_rate > 0
        self.drop_path = _drop_path(drop_path_rate, drop_path_salt)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.has_drop_path:
            out = self.drop_path(out)
        if self.has_downsample:
            identity = self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Cell):
    """1x1 -> 3x3 (strided, grouped) -> 1x1; the v1.5 stride placement torchvision uses."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: Optional[nn.Cell] = None,
        groups: int = 1,
        base_width: int = 64,
        zero_init_last_bn: bool = False,
        variant: ResNetVariant = DEFAULT_VARIANT,
        drop_path_rate: float = 0.0,
        drop_path_salt: float = 0.0,
    ) -> None:
        super().__init__()
        width = int(channels * (base_width / 64.0)) * groups
        eps = variant.block_bn_eps
        self.conv1 = _conv(in_channels, width, 1)
        self.bn1 = _bn(width, eps=eps)
        self.conv2 = _conv(width, width, 3, stride, groups, padding_mode=variant.conv_padding)
        self.bn2 = _bn(width, eps=eps)
        self.conv3 = _conv(width, channels * self.expansion, 1)
        self.bn3 = _bn(channels * self.expansion, zero_gamma=zero_init_last_bn, eps=eps)
        self.relu = nn.ReLU()
        self.has_downsample = downsample is not None
        self.downsample = downsample
        self.has_drop_path = drop_path_rate > 0
        self.drop_path = _drop_path(drop_path_rate, drop_path_salt)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.has_drop_path:
            out = self.drop_path(out)
        if self.has_downsample:
            identity = self.downsample(x)
        return self.relu(out + identity)


Block = Union[Type[BasicBlock], Type[Bottleneck]]


class ResNet(nn.Cell):
    """ResNet / ResNeXt for image classification.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in each of the four stages.
        num_classes: classifier outputs; 0 makes the head return pooled features.
        in_chans: input image channels.
        groups: grouped-conv cardinality of the 3x3 convs (ResNeXt's C).
        width_per_group: channels per group at the first stage (ResNeXt's d).
        zero_init_last_bn: start each residual branch at zero (gamma of its last BN = 0).
        data_config: the input settings the weights expect; travels with the model.
        variant: padding and BatchNorm eps of the network the weights come from (torchvision's by default).
        drop_path_rate: stochastic depth of the last block; block ``i`` of ``n`` gets ``rate * i / (n - 1)``
            (:func:`drop_path_rates`, timm's schedule); 0 adds nothing to the network.
    """

    def __init__(
        self,
        block: Block,
        layers: Sequence[int],
        num_classes: int = 1000,
        in_chans: int = 3,
        groups: int = 1,
        width_per_group: int = 64,
        zero_init_last_bn: bool = False,
        data_config: Optional[DataConfig] = None,
        variant: ResNetVariant = DEFAULT_VARIANT,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"layers must list 4 stage depths, got {list(layers)}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        self.data_config = data_config or DataConfig()
        self.variant = variant
        self.groups = groups
        self.base_width = width_per_group
        self.in_channels = 64
        self._drop_path_rates = drop_path_rates(drop_path_rate, sum(layers))
        self._blocks_built = 0

        self.conv1 = _conv(in_chans, 64, 7, stride=2, padding_mode=variant.conv_padding)
        self.bn1 = _bn(64, eps=variant.bn_eps)
        self.relu = nn.ReLU()
        if variant.pool_padding == SAME:
            self.pool_pad = nn.Identity()
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="same")
        else:
            self.pool_pad = nn.Pad(((0, 0), (0, 0), (1, 1), (1, 1)))
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")
        self.layer1 = self._make_stage(block, 64, layers[0], 1, zero_init_last_bn)
        self.layer2 = self._make_stage(block, 128, layers[1], 2, zero_init_last_bn)
        self.layer3 = self._make_stage(block, 256, layers[2], 2, zero_init_last_bn)
        self.layer4 = self._make_stage(block, 512, layers[3], 2, zero_init_last_bn)
        self.num_features = 512 * block.expansion
        self.num_classes = num_classes
        self.fc = self._make_classifier(num_classes)

    def _make_stage(self, block: Block, channels: int, depth: int, stride: int, zero_init_last_bn: bool) -> nn.SequentialCell:
        downsample = None
        out_channels = channels * block.expansion
        if stride != 1 or self.in_channels != out_channels:
            downsample = nn.SequentialCell([_conv(self.in_channels, out_channels, 1, stride),
                                            _bn(out_channels, eps=self.variant.bn_eps)])
        blocks = [block(self.in_channels, channels, stride, downsample, self.groups, self.base_width, zero_init_last_bn,
                        self.variant, **self._next_drop_path())]
        self.in_channels = out_channels
        for _ in range(1, depth):
            blocks.append(block(self.in_channels, channels, 1, None, self.groups, self.base_width, zero_init_last_bn,
                                self.variant, **self._next_drop_path()))
        return nn.SequentialCell(blocks)

    def _next_drop_path(self) -> Dict[str, float]:
        """The next block's stochastic-depth rate (and its hash salt: the block's index)."""
        index = self._blocks_built
        self._blocks_built += 1
        return {"drop_path_rate": self._drop_path_rates[index], "drop_path_salt": float(index)}

    def _make_classifier(self, num_classes: int) -> nn.Cell:
        """torch.nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias."""
        if num_classes == 0:
            return nn.Identity()
        bound = 1.0 / math.sqrt(self.num_features)
        return nn.Dense(
            self.num_features, num_classes,
            weight_init=HeUniform(negative_slope=math.sqrt(5)), bias_init=Uniform(bound),
        )

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The last BatchNorm before global pooling (FixRes re-estimates its statistics)."""
        return self.layer4[len(self.layer4) - 1].last_bn

    def get_classifier(self) -> nn.Cell:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a freshly initialised one of ``num_classes`` outputs.

        GRAPH mode caches a cell's compiled graph under its creation time, so that stamp is renewed: the
        next call compiles the new head instead of running the old one.
        """
        self.num_classes = num_classes
        self.fc = self._make_classifier(num_classes)
        renew_compile_stamp(self)

    def forward_features(self, x: ms.Tensor) -> ms.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(self.pool_pad(x))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def forward_head(self, x: ms.Tensor, pre_logits: bool = False) -> ms.Tensor:
        x = ops.mean(x, (2, 3), keep_dims=False)
        if pre_logits:
            return x
        return self.fc(x)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.forward_head(self.forward_features(x))


def find_resnet(cell: nn.Cell) -> Optional[ResNet]:
    """The :class:`ResNet` inside ``cell`` (itself, or wrapped by a loss/train-step cell), or None."""
    if isinstance(cell, ResNet):
        return cell
    return next((sub for _, sub in cell.cells_and_names() if isinstance(sub, ResNet)), None)


def count_params(net: nn.Cell) -> int:
    """Trainable parameters, the number torchvision reports (BN running stats excluded)."""
    return sum(int(p.size) for p in net.trainable_params())

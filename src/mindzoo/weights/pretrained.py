"""What a checkpoint says about itself: the network variant and preprocessing its weights need.

A plain record, as timm's ``_pretrained.py``; it imports no model class, so weights/ sits below models/.

Every checkpoint saved through :func:`mindzoo.weights.files.save_checkpoint_atomic` from a network holding a
mindzoo ``ResNet`` (the net itself or a train step wrapping it) carries one extra entry, ``mindzoo.pretrained_cfg`` (timm's
``pretrained_cfg`` idea): a uint8 tensor holding UTF-8 JSON (a tensor, not a string entry, so code that calls
``.asnumpy()`` on every entry keeps working)::

    {"version": 1,
     "variant": {"conv_padding": "same", "pool_padding": "same", "bn_eps": 0.0001, "block_bn_eps": 0.0001},
     "data_config": {"resize_backend": "opencv"},
     "source": {"format": "mindspore_models", "file": "resnet50_ascend_v170_imagenet2012.ckpt"}}

``variant`` is the :class:`ResNetVariant` the weights need; ``data_config`` holds the
:class:`~mindzoo.data.geometry.DataConfig` fields the weights' origin dictates; ``source`` (converted
checkpoints only) says where they came from. A checkpoint without the entry (older ones, other tools') means
torchvision's variant and the model's own data config. ``create_model(name, pretrained=path)`` builds the
network a checkpoint needs from this record.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

import numpy as np

from mindzoo.errors import CheckpointError, first_line

if TYPE_CHECKING:
    import mindspore as ms
    from mindspore import nn

PRETRAINED_CFG_KEY = "mindzoo.pretrained_cfg"
PRETRAINED_CFG_VERSION = 1

BN_EPS = 1e-5
SYMMETRIC = "symmetric"
SAME = "same"
PADDINGS = (SYMMETRIC, SAME)


@dataclass(frozen=True)
class ResNetVariant:
    """The details in which the networks behind published ResNet weights differ; torchvision's by default.

    ``conv_padding`` applies to the 7x7 stem conv and every 3x3 conv, ``pool_padding`` to the 3x3/2 stem
    max-pool: ``"symmetric"`` is torchvision's ``kernel // 2`` on every side, ``"same"`` MindSpore's
    ``pad_mode="same"`` (output ``ceil(size / stride)``, an odd padding pixel at the bottom/right; it differs
    from symmetric wherever a stride-2 window meets an even size). 1x1 convs never pad. ``bn_eps`` is the eps
    of the stem and shortcut BatchNorms, ``block_bn_eps`` of those inside the residual branches (the
    mindspore/models ResNet18/34 use 1e-5 and 1e-4).

    Who uses what: torchvision/timm all default; MindCV and the zoo's ResNeXt152 ``pool_padding="same"``; the
    zoo's ResNet50/101/152 both paddings ``"same"`` and eps 1e-4 everywhere.
    """

    conv_padding: str = SYMMETRIC
    pool_padding: str = SYMMETRIC
    bn_eps: float = BN_EPS
    block_bn_eps: float = BN_EPS

    def __post_init__(self) -> None:
        for name in ("conv_padding", "pool_padding"):
            if getattr(self, name) not in PADDINGS:
                raise ValueError(f"{name} must be one of {', '.join(PADDINGS)}, got {getattr(self, name)!r}")
        for name in ("bn_eps", "block_bn_eps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")

    @property
    def is_torchvision(self) -> bool:
        """True if torchvision's ResNet computes the same function (so the weights export to PyTorch)."""
        return self == DEFAULT_VARIANT

    def differences(self, other: "ResNetVariant") -> str:
        """``field=self_value (other other_value)`` for every field that differs, for one-line errors."""
        return ", ".join(f"{f.name}={getattr(self, f.name)!r} (not {getattr(other, f.name)!r})"
                         for f in fields(self) if getattr(self, f.name) != getattr(other, f.name))

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ResNetVariant":
        """The inverse of :meth:`to_dict`; an unknown field or a bad value raises ValueError naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown variant field '{unknown[0]}' (known: {', '.join(sorted(known))})")
        return cls(**{k: (float(v) if k.endswith("eps") else str(v)) for k, v in values.items()})


DEFAULT_VARIANT = ResNetVariant()


@dataclass(frozen=True)
class PretrainedCfg:
    """What a checkpoint records about the network and preprocessing its weights need."""

    variant: ResNetVariant = DEFAULT_VARIANT
    data_config: Mapping[str, Any] = field(default_factory=dict)
    source: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"version": PRETRAINED_CFG_VERSION, "variant": self.variant.to_dict(),
                           "data_config": dict(self.data_config), "source": dict(self.source)}, sort_keys=True)

    def entry(self) -> Dict[str, ms.Tensor]:
        """The checkpoint entry: ``{PRETRAINED_CFG_KEY: uint8 tensor of the JSON}``."""
        import mindspore as ms  # here, so that reading a record (mindzoo-convert's usage errors) needs no MindSpore

        return {PRETRAINED_CFG_KEY: ms.Tensor(np.frombuffer(self.to_json().encode("utf-8"), dtype=np.uint8))}

    @classmethod
    def from_json(cls, text: str, where: str) -> "PretrainedCfg":
        try:
            data = json.loads(text)
            if int(data.get("version", 0)) > PRETRAINED_CFG_VERSION:
                raise ValueError(f"version {data['version']} is newer than this mindzoo reads "
                                 f"({PRETRAINED_CFG_VERSION}); upgrade mindzoo")
            return cls(variant=ResNetVariant.from_dict(data.get("variant", {})),
                       data_config=dict(data.get("data_config", {})), source=dict(data.get("source", {})))
        except (ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"{where}: bad '{PRETRAINED_CFG_KEY}' entry: {first_line(exc)}") from None

    def apply_data_config(self, data_config: Any, where: str = "checkpoint") -> Any:
        """``data_config`` (a DataConfig) with the recorded fields replaced."""
        known = set(data_config.to_dict())
        unknown = sorted(set(self.data_config) - known)
        if unknown:
            raise CheckpointError(f"{where}: '{PRETRAINED_CFG_KEY}' sets unknown data_config field '{unknown[0]}'")
        try:
            return data_config.replace(**self.data_config)
        except (TypeError, ValueError) as exc:  # ConfigError is a ValueError too
            raise CheckpointError(f"{where}: bad data_config in '{PRETRAINED_CFG_KEY}': {first_line(exc)}") from None


def find_variant_net(cell: nn.Cell) -> Optional[nn.Cell]:
    """The network inside ``cell`` (itself, or wrapped by a loss/train-step cell) that records a
    :class:`ResNetVariant` as ``variant``; None if there is none. Duck-typed so weights/ imports no model class."""
    return next((sub for _, sub in cell.cells_and_names() if isinstance(getattr(sub, "variant", None), ResNetVariant)),
                None)


def pretrained_cfg_of(cell: nn.Cell) -> Optional[PretrainedCfg]:
    """The entry describing the ResNet inside ``cell`` (a network or a train step wrapping one), or None."""
    net = find_variant_net(cell)
    if net is None:
        return None
    return PretrainedCfg(variant=net.variant, data_config={"resize_backend": net.data_config.resize_backend})


def read_pretrained_cfg(params: Mapping[str, Any], where: str) -> PretrainedCfg:
    """The recorded :class:`PretrainedCfg` of a loaded checkpoint; the default one if it has no entry."""
    value = params.get(PRETRAINED_CFG_KEY)
    if value is None:
        return PretrainedCfg()
    text = value if isinstance(value, str) else bytes(np.asarray(value.asnumpy(), dtype=np.uint8)).decode("utf-8")
    return PretrainedCfg.from_json(text, where)

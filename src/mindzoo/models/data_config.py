"""The input settings a model's weights expect, carried by the model (timm's ``pretrained_cfg`` idea)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Tuple

IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class DataConfig:
    """Resolution and normalisation for training and evaluation.

    ``input_size`` is the training crop; ``test_input_size`` the evaluation/export crop (FixRes tests
    higher than it trains). Evaluation resizes the shorter side to ``int(size / crop_pct)`` and
    centre-crops ``size``. Mean/std are on the 0-1 scale.
    """

    input_size: int = 224
    test_input_size: int = 224
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD

    def resize_size(self, size: int) -> int:
        """Shorter-side resize used before a centre crop of ``size`` (256 for 224, 438 for 384)."""
        return int(size / self.crop_pct)

    def replace(self, **changes: object) -> "DataConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

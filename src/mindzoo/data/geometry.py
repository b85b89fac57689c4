"""The one place that decides evaluation / deployment preprocessing: resize, crop, interpolation, mean/std.

A model carries a :class:`DataConfig` (timm's ``pretrained_cfg`` idea); a run may override the test size
(``eval_image_size``) and ``crop_pct``; export may fix a non-square input (``--width/--height``).
:func:`resolve_eval_geometry` turns those into an :class:`EvalGeometry` (from a run config:
:func:`geometry_from_config`), and every consumer uses it: eval.py, eval-while-training, export.py (which writes it
into ``NAME.json`` with :meth:`EvalGeometry.to_sidecar`), infer.py (from a checkpoint's config, or read back from
the sidecar with :meth:`EvalGeometry.from_sidecar`), the C++ harness (``run_infer_310.sh`` reads the sidecar), the
quickstart and the benchmarks. Nothing else computes ``int(size / crop_pct)``.

Only the standard library and numpy are imported here, so deployment tools load it without MindSpore.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Dict, Mapping, Tuple

import numpy as np

from mindzoo.errors import ConfigError

IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "area")
# Which side the resize sets to ``resize_size`` (the other keeps the aspect ratio):
# "shorter": the shorter side (torchvision ``Resize(int)``, MindSpore ``Resize(int)``);
# "height": the height, whatever the orientation: the FixRes reference's ``Resize(size)`` (``largest=False``,
#   facebookresearch/FixRes ``transforms.py``), with which its published ResNet-50 weights were fine-tuned and
#   evaluated; width = ``int(size * w / h)``, so a portrait image comes out narrower than ``resize_size``.
RESIZE_EDGES = ("shorter", "height")
# How the eval resize is computed. "opencv": MindSpore's vision.Resize (OpenCV, no antialiasing), what MindCV and
# the mindspore/models zoo evaluate with. "pil": PIL's resize (antialiased when downscaling) with torchvision's
# output size and centre-crop rounding, what torchvision's and timm's published accuracies use.
OPENCV = "opencv"
PIL = "pil"
RESIZE_BACKENDS = (OPENCV, PIL)


def _check_resize_backend(value: str, where: str) -> None:
    if value not in RESIZE_BACKENDS:
        raise ConfigError(f"{where}: unknown resize_backend '{value}'; use one of {', '.join(RESIZE_BACKENDS)}")


@dataclass(frozen=True)
class DataConfig:
    """Resolution and normalisation a model's weights expect, for training and evaluation.

    ``input_size`` is the training crop; ``test_input_size`` the evaluation/export crop (FixRes tests
    higher than it trains). Evaluation resizes the ``resize_edge`` side (shorter by default) to
    ``int(size / crop_pct)`` and centre-crops ``size``. Mean/std are on the 0-1 scale. ``resize_backend`` is the
    evaluation resize of the weights' origin (see ``RESIZE_BACKENDS``); converted checkpoints record it.
    """

    input_size: int = 224
    test_input_size: int = 224
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    resize_edge: str = "shorter"
    resize_backend: str = OPENCV

    def __post_init__(self) -> None:
        _check_resize_backend(self.resize_backend, "data config")

    def resize_size(self, size: int) -> int:
        """Shorter-side resize used before a centre crop of ``size`` (256 for 224, 438 for 384)."""
        return resize_for_crop(size, self.crop_pct)

    def replace(self, **changes: object) -> "DataConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EvalGeometry:
    """Everything the evaluation transform does to an image, resolved: what eval scores and export records.

    The ``resize_edge`` side (see :data:`RESIZE_EDGES`) is resized to ``resize_size`` with ``interpolation`` by
    ``resize_backend``, a ``crop_height x crop_width`` centre crop is taken, then ``(pixel / 255 - mean) / std`` per
    RGB channel, HWC -> CHW.
    """

    resize_size: int
    crop_height: int
    crop_width: int
    crop_pct: float
    interpolation: str
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]
    resize_edge: str = "shorter"
    resize_backend: str = OPENCV

    @property
    def crop_size(self) -> int:
        """The square crop size; a non-square geometry has none (use crop_height/crop_width)."""
        if self.crop_height != self.crop_width:
            raise ConfigError(f"a {self.crop_height}x{self.crop_width} geometry has no single crop size")
        return self.crop_height

    def data_config(self) -> DataConfig:
        """A DataConfig whose eval transform at ``crop_size`` is this geometry (for the transform builders)."""
        return DataConfig(input_size=self.crop_height, test_input_size=self.crop_height, crop_pct=self.crop_pct,
                          interpolation=self.interpolation, mean=self.mean, std=self.std,
                          resize_edge=self.resize_edge, resize_backend=self.resize_backend)

    def to_sidecar(self) -> Dict[str, Any]:
        """The ``preprocess`` entry of an export's ``NAME.json``."""
        return {
            "resize_size": self.resize_size,
            "crop_size": [self.crop_height, self.crop_width],
            "crop_pct": self.crop_pct,
            "interpolation": self.interpolation,
            "pixel_scale": 1.0 / 255.0,
            "mean": list(self.mean),
            "std": list(self.std),
            "resize_edge": self.resize_edge,
            "resize_backend": self.resize_backend,
        }

    @classmethod
    def from_sidecar(cls, preprocess: Mapping[str, Any], where: str = "export sidecar") -> "EvalGeometry":
        """Read back what :meth:`to_sidecar` wrote; a missing or malformed entry is one ConfigError naming it.

        A sidecar without ``resize_edge`` (written before it existed) resizes the shorter side.
        """
        try:
            crop = preprocess["crop_size"]
            crop_height, crop_width = (int(crop), int(crop)) if isinstance(crop, (int, float)) else map(int, crop)
            geometry = cls(
                resize_size=int(preprocess["resize_size"]), crop_height=crop_height, crop_width=crop_width,
                crop_pct=float(preprocess["crop_pct"]), interpolation=str(preprocess.get("interpolation", "bilinear")),
                mean=_triple(preprocess["mean"], "mean"), std=_triple(preprocess["std"], "std"),
                resize_edge=str(preprocess.get("resize_edge", "shorter")),
                resize_backend=str(preprocess.get("resize_backend", OPENCV)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: bad 'preprocess' entry ({type(exc).__name__}: {exc}); re-export the model") \
                from None
        return geometry.validated(where)

    def validated(self, where: str = "geometry") -> "EvalGeometry":
        if min(self.resize_size, self.crop_height, self.crop_width) < 1:
            raise ConfigError(f"{where}: sizes must be positive, got resize {self.resize_size}, "
                              f"crop {self.crop_height}x{self.crop_width}")
        if self.interpolation.lower() not in INTERPOLATIONS:
            raise ConfigError(f"{where}: unknown interpolation '{self.interpolation}'; use one of "
                              f"{', '.join(INTERPOLATIONS)}")
        if self.resize_edge not in RESIZE_EDGES:
            raise ConfigError(f"{where}: unknown resize_edge '{self.resize_edge}'; use one of "
                              f"{', '.join(RESIZE_EDGES)}")
        _check_resize_backend(self.resize_backend, where)
        return self


def _triple(values: Any, name: str) -> Tuple[float, float, float]:
    out = tuple(float(v) for v in values)
    if len(out) != 3:
        raise ValueError(f"{name} must have 3 values, got {len(out)}")
    return out  # type: ignore[return-value]


def resize_for_crop(size: int, crop_pct: float) -> int:
    """Shorter-side length before a centre crop of ``size``: ``int(size / crop_pct)``."""
    if not crop_pct > 0:
        raise ConfigError(f"crop_pct must be positive, got {crop_pct}")
    return int(size / crop_pct)


def resolve_eval_geometry(data_config: DataConfig, eval_image_size: int = 0, crop_pct: float = 0.0,
                          height: int = 0, width: int = 0, resize_edge: str = "") -> EvalGeometry:
    """The evaluation geometry of a model: its data config, overridden by a run's settings (0 / "" = not set).

    ``eval_image_size`` replaces ``test_input_size``; ``crop_pct`` replaces the data config's; ``height``/
    ``width`` (export's ``--height/--width``) fix a non-square crop, whose resize is computed from its larger
    side so the crop always fits (with ``resize_edge="shorter"``); ``resize_edge`` replaces the data config's.
    """
    for key, value in (("eval_image_size", eval_image_size), ("height", height), ("width", width)):
        if value < 0:
            raise ConfigError(f"{key} must be > 0 (or 0 for the model's default), got {value}")
    if crop_pct < 0:
        raise ConfigError(f"crop_pct must be > 0 (or 0 for the model's default), got {crop_pct}")
    size = eval_image_size or data_config.test_input_size
    crop_height, crop_width = height or size, width or size
    pct = crop_pct or data_config.crop_pct
    return EvalGeometry(
        resize_size=resize_for_crop(max(crop_height, crop_width), pct), crop_height=crop_height,
        crop_width=crop_width, crop_pct=pct, interpolation=data_config.interpolation,
        mean=tuple(data_config.mean), std=tuple(data_config.std), resize_backend=data_config.resize_backend,
        resize_edge=resize_edge or data_config.resize_edge,
    ).validated()


def geometry_from_config(data_config: DataConfig, cfg: Mapping[str, Any]) -> EvalGeometry:
    """The one route from a run config to its eval geometry: :func:`resolve_eval_geometry` with the config's
    ``eval_image_size`` / ``crop_pct`` / ``resize_edge`` and export's ``height`` / ``width`` (absent or 0: not set).

    eval.py, eval-while-training, export.py and infer.py (a ``.ckpt``) all call this, so they cannot disagree.
    """
    def number(key: str, kind: type) -> Any:
        return kind(cfg.get(key, 0) or 0)

    return resolve_eval_geometry(data_config, number("eval_image_size", int), number("crop_pct", float),
                                 number("height", int), number("width", int),
                                 resize_edge=str(cfg.get("resize_edge", "") or ""))


def resized_shape(height: int, width: int, short: int, resize_backend: str = OPENCV,
                  resize_edge: str = "shorter") -> Tuple[int, int]:
    """Output (height, width) of the eval resize of the ``resize_edge`` side to ``short``.

    opencv (MindSpore's ``Resize(short)``): float32 ratio, truncated long side. pil (torchvision's
    ``Resize(short)``): ``int(short * long / shorter)`` in double precision. ``resize_edge="height"`` (the FixRes
    reference's ``Resize(size)``): height ``short``, width ``int(short * width / height)`` in double precision,
    whichever the backend.
    """
    if resize_edge == "height":
        return short, int(short * width / height)
    if resize_backend == PIL:
        if height < width:
            return short, int(short * width / height)
        return int(short * height / width), short
    if height < width:
        return short, int(np.float32(np.float32(width) / np.float32(height)) * np.float32(short))
    return int(np.float32(np.float32(height) / np.float32(width)) * np.float32(short)), short


def _centre_offset(size: int, crop: int, resize_backend: str) -> int:
    if resize_backend == PIL:  # torchvision: round half to even; a larger crop pads (crop - size) // 2 first
        return -((crop - size) // 2) if crop > size else int(round((size - crop) / 2.0))
    return (size - crop) // 2


def crop_offsets(resized_h: int, resized_w: int, crop_h: int, crop_w: int, resize_backend: str = OPENCV
                 ) -> Tuple[int, int]:
    """(top, left) of the centre crop, negative where the crop is larger than the image (zero padding).

    MindSpore floors ``(size - crop) / 2``; torchvision rounds it half to even (Python's ``round``).
    """
    return (_centre_offset(resized_h, crop_h, resize_backend), _centre_offset(resized_w, crop_w, resize_backend))


def crop_box(height: int, width: int, geometry: EvalGeometry) -> Tuple[int, int, int, int]:
    """(resized_h, resized_w, crop_top, crop_left) the eval transform applies to a ``height x width`` image."""
    resized_h, resized_w = resized_shape(height, width, geometry.resize_size, geometry.resize_backend,
                                         geometry.resize_edge)
    top, left = crop_offsets(resized_h, resized_w, geometry.crop_height, geometry.crop_width, geometry.resize_backend)
    return resized_h, resized_w, top, left

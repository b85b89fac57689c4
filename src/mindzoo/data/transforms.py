"""Image transforms for training, evaluation and FixRes fine-tuning, as ``mindspore.dataset.vision`` ops.

Every pipeline takes encoded image bytes (JPEG/PNG/BMP, any colour mode) and ends in a float32 CHW array
normalised with the model's mean/std. ``Decode`` always yields 3-channel RGB: grayscale, CMYK and palette
JPEG/PNG, RGBA and 16-bit PNG decode to RGB, equal to OpenCV's ``imdecode(IMREAD_COLOR)`` + BGR->RGB
(measured on MindSpore 2.10; CMYK within 1 level). GIF and WebP are not decodable.

Evaluation geometry is decided in one place, :mod:`mindzoo.data.geometry` (an :class:`EvalGeometry`);
:func:`geometry_transforms` applies it. What MindSpore 2.10 CPU does with it (measured; the C++ harness
reproduces it):

1. ``Resize(R)`` (``resize_edge="shorter"``, the default): the shorter side becomes exactly ``R``; the longer
   side becomes ``(int)((float)long / (float)short * (float)R)``, computed in float32 and truncated toward zero (not
   rounded; double precision differs in rare cases). A square image becomes ``R x R``. Bilinear is OpenCV
   ``INTER_LINEAR`` (half-pixel centres, no antialiasing), bit-identical to ``cv2.resize`` on uint8; bicubic
   is ``INTER_CUBIC`` within 1 level. With ``resize_edge="height"`` (the FixRes reference's ``Resize``) the
   height becomes ``R`` and the width ``int(R * W / H)`` (double precision), whatever the orientation.
2. ``CenterCrop``: top = ``(H - crop_h) // 2``, left = ``(W - crop_w) // 2`` (floor: an odd surplus leaves
   the extra row/column at the bottom/right; torchvision rounds instead). A crop larger than the image
   zero-pads with the same offsets.
3. ``Normalize`` with mean*255 and std*255 on the uint8 RGB values, then HWC -> CHW.

A geometry with ``resize_backend="pil"`` (weights converted from torchvision/timm) replaces steps 1-2 and the
decode by :class:`PilResizeCenterCrop`, torchvision's eval transform: PIL decode + ``convert("RGB")``, PIL
resize (antialiased when downscaling) to ``int(R * long / short)``, centre crop at ``round((size - crop) / 2)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence, Union

import numpy as np

from mindzoo.data.geometry import (
    INTERPOLATIONS,
    PIL,
    DataConfig,
    EvalGeometry,
    crop_offsets,
    resized_shape,
    resolve_eval_geometry,
)
from mindzoo.errors import ConfigError, DataError, first_line

if TYPE_CHECKING:
    from mindspore.dataset.vision import Inter

TAIL_BYTES = 1024


def interpolation_mode(name: str) -> "Inter":
    """The ``mindspore.dataset.vision.Inter`` member for a data-config interpolation name."""
    from mindspore.dataset.vision import Inter

    modes = {"bilinear": Inter.BILINEAR, "bicubic": Inter.BICUBIC, "nearest": Inter.NEAREST, "area": Inter.AREA}
    try:
        return modes[name.lower()]
    except KeyError:
        known = ", ".join(INTERPOLATIONS)
        raise ConfigError(f"unknown interpolation '{name}' in data config; use one of {known}") from None


class PilResizeCenterCrop:
    """Encoded image bytes -> uint8 HWC RGB, exactly torchvision's ``Resize(R)`` + ``CenterCrop`` on a PIL image.

    A plain picklable callable, so ``dataset.map`` can run it in worker processes.
    """

    # Image.Resampling members; "area" is PIL's box filter.
    RESAMPLING = {"bilinear": "BILINEAR", "bicubic": "BICUBIC", "nearest": "NEAREST", "area": "BOX"}

    def __init__(self, resize_size: int, crop_height: int, crop_width: int, interpolation: str = "bilinear",
                 resize_edge: str = "shorter") -> None:
        if interpolation.lower() not in self.RESAMPLING:
            raise ConfigError(f"unknown interpolation '{interpolation}'; use one of {', '.join(INTERPOLATIONS)}")
        self.resize_size = resize_size
        self.resize_edge = resize_edge
        self.crop_height = crop_height
        self.crop_width = crop_width
        self.interpolation = interpolation.lower()

    def __call__(self, data: np.ndarray) -> np.ndarray:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(np.asarray(data).tobytes())) as opened:
            image = opened.convert("RGB")
        height, width = resized_shape(image.height, image.width, self.resize_size, PIL, self.resize_edge)
        if (height, width) != (image.height, image.width):
            image = image.resize((width, height), getattr(Image.Resampling, self.RESAMPLING[self.interpolation]))
        top, left = crop_offsets(height, width, self.crop_height, self.crop_width, PIL)
        image = image.crop((left, top, left + self.crop_width, top + self.crop_height))
        return np.asarray(image, dtype=np.uint8)


def _color_jitter(strength: float) -> list:
    """A random brightness/contrast/saturation change of ``strength`` (none for 0)."""
    import mindspore.dataset.vision as vision

    if strength < 0:
        raise ConfigError(f"color_jitter must be >= 0, got {strength}")
    if strength == 0:
        return []
    return [vision.RandomColorAdjust(brightness=strength, contrast=strength, saturation=strength)]


def _normalize(settings: Union[DataConfig, EvalGeometry]) -> list:
    import mindspore.dataset.vision as vision

    mean = [255.0 * m for m in settings.mean]
    std = [255.0 * s for s in settings.std]
    return [vision.Normalize(mean=mean, std=std), vision.HWC2CHW()]


def train_transforms(size: int, data_config: DataConfig, color_jitter: float = 0.0,
                     random_augment: bool = True, scale: Sequence[float] = (0.08, 1.0),
                     hflip_prob: float = 0.5, auto_augment: str = "", erasing: Sequence = (), seed: int = 0) -> list:
    """RandomResizedCrop (decode fused, area ``scale``) + flip [+ ``auto_augment`` policy] [+ colour jitter] +
    normalize [+ ``erasing``: ops on the normalised CHW image], on encoded bytes (timm's order).

    ``auto_augment``: a policy string of :mod:`mindzoo.data.auto_augment` (our ops seeded by ``seed``);
    ``erasing``: its ``erasing_ops``.
    ``random_augment=False`` gives the deterministic eval transform at ``size`` instead, so a training
    run can be reproduced exactly (determinism tests).
    """
    import mindspore.dataset.vision as vision

    if not random_augment:
        return eval_transforms(size, data_config)
    jitter = _color_jitter(color_jitter)
    if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
        raise ConfigError(f"train_crop_scale must be [min, max] with 0 < min <= max <= 1, got {list(scale)}")
    if not 0 <= hflip_prob <= 1:
        raise ConfigError(f"hflip_prob must be in [0, 1], got {hflip_prob}")
    ops = [
        vision.RandomCropDecodeResize(size, scale=tuple(scale), ratio=(3.0 / 4.0, 4.0 / 3.0),
                                      interpolation=interpolation_mode(data_config.interpolation)),
    ]
    if hflip_prob > 0:
        ops.append(vision.RandomHorizontalFlip(prob=hflip_prob))
    if auto_augment:
        from mindzoo.data.auto_augment import auto_augment_ops

        ops += auto_augment_ops(auto_augment, data_config.mean, seed)
    return ops + jitter + _normalize(data_config) + list(erasing)


class ResizeHeight:
    """``resize_edge="height"``: the height becomes ``size``, the width keeps the aspect ratio.

    The FixRes reference's ``Resize(size)`` (``facebookresearch/FixRes`` ``transforms.py``, ``largest=False``).
    The output shape depends on each image, which ``vision.Resize`` cannot express, so this Python op applies
    ``vision.Resize((size, int(size * w / h)))`` per image.
    """

    def __init__(self, size: int, interpolation: str) -> None:
        self.size = size
        self.interpolation = interpolation

    def __call__(self, image: np.ndarray) -> np.ndarray:
        import mindspore.dataset.vision as vision

        height, width = image.shape[:2]
        target = resized_shape(height, width, self.size, resize_edge="height")
        return vision.Resize(target, interpolation_mode(self.interpolation))(image)


def _resize(geometry: EvalGeometry) -> Callable[[np.ndarray], np.ndarray]:
    """The resize op of ``geometry``: MindSpore's shorter-side ``Resize``, or :class:`ResizeHeight`."""
    import mindspore.dataset.vision as vision

    if geometry.resize_edge == "height":
        return ResizeHeight(geometry.resize_size, geometry.interpolation)
    return vision.Resize(geometry.resize_size, interpolation_mode(geometry.interpolation))


def geometry_transforms(geometry: EvalGeometry, flip: bool = False, color_jitter: float = 0.0) -> list:
    """Decode to RGB, resize (``geometry.resize_edge``) to ``geometry.resize_size``, centre-crop, normalize.

    The evaluation transform (exactly as in the module docstring). ``flip`` adds a random horizontal flip and
    ``color_jitter`` a random brightness/contrast/saturation change of that strength, after the crop: the
    FixRes fine-tune's options (its reference ``transforms_v2.py`` ``val_train`` uses flip and 0.05).
    """
    import mindspore.dataset.vision as vision

    jitter = _color_jitter(color_jitter)
    if geometry.resize_backend == PIL:
        ops = [PilResizeCenterCrop(geometry.resize_size, geometry.crop_height, geometry.crop_width,
                                   geometry.interpolation, geometry.resize_edge)]
    else:
        ops = [vision.Decode(), _resize(geometry), vision.CenterCrop((geometry.crop_height, geometry.crop_width))]
    if flip:
        ops.append(vision.RandomHorizontalFlip(prob=0.5))
    return ops + jitter + _normalize(geometry)


def eval_transforms(size: int, data_config: DataConfig, crop_pct: Optional[float] = None) -> list:
    """:func:`geometry_transforms` of ``data_config`` evaluated at ``size`` (``crop_pct`` overrides the config's)."""
    return geometry_transforms(resolve_eval_geometry(data_config, size, crop_pct or 0.0))


def fixres_finetune_transforms(geometry: EvalGeometry, flip: bool = False, color_jitter: float = 0.0) -> list:
    """FixRes fine-tune: exactly the test-time geometry [+ a random horizontal flip, colour jitter].

    Fine-tuning the classifier on the test-resolution statistics is the point of FixRes, so the images get
    eval's transform (crop_pct 0.875 gives the reference ``test_size * 256 / 224``). The reference fine-tune
    (``imnet_finetune``, the published FixResNet-50 weights) uses nothing else, hence the defaults; its
    ``transforms_v2`` ``val_train`` variant adds a flip and colour jitter 0.05 (and a horizontally shifted
    centre crop, which is not implemented here).
    """
    return geometry_transforms(geometry, flip=flip, color_jitter=color_jitter)


def image_problem(head: bytes, tail: bytes, size: int) -> Optional[str]:
    """Why MindSpore's ``Decode`` would fail on a file, judged from its first and last bytes; None if fine.

    Catches empty files, non-images and unsupported formats (GIF/WebP), and truncated JPEG/PNG files
    (no end-of-image marker / IEND chunk in the last ``TAIL_BYTES``), on which MindSpore's Decode fails
    (and dumps the file into the working directory). A JPEG may legitimately carry a long trailer after
    its end marker, so a JPEG without one is only a suspect that :func:`confirm_problem` decodes.
    """
    if size == 0:
        return "empty file"
    if head.startswith(b"\xff\xd8\xff"):
        return None if b"\xff\xd9" in tail else "truncated JPEG (no end-of-image marker)"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None if b"IEND" in tail else "truncated PNG (no IEND chunk)"
    if head.startswith((b"BM", b"II*\x00", b"MM\x00*")):
        return None
    if head.startswith(b"GIF8") or (head.startswith(b"RIFF") and head[8:12] == b"WEBP"):
        return "unsupported image format (GIF/WebP); convert it to JPEG or PNG"
    return "not a JPEG, PNG, BMP or TIFF image"


def confirm_problem(source: Union[str, Path, bytes], problem: str) -> Optional[str]:
    """Full PIL decode of a suspect JPEG (path or bytes): keeps ``problem`` only if it really cannot decode."""
    if not problem.startswith("truncated JPEG"):
        return problem
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            image.load()
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... for broken files
        return f"{problem}: {exc}"
    return None


def check_image_file(path: Union[str, Path]) -> Optional[str]:
    """Why ``path`` would fail to decode (reading only its first and last bytes), or None if it looks fine."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
            size = handle.seek(0, 2)
            handle.seek(max(size - TAIL_BYTES, 0))
            tail = handle.read(TAIL_BYTES)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    problem = image_problem(head, tail, size)
    return None if problem is None else confirm_problem(path, problem)


def check_image_bytes(data: bytes) -> Optional[str]:
    """:func:`check_image_file` for an image already in memory."""
    problem = image_problem(data[:16], data[-TAIL_BYTES:], len(data))
    return None if problem is None else confirm_problem(data, problem)


def read_image_bytes(path: Union[str, Path]) -> bytes:
    """The bytes of an image file that passes :func:`check_image_bytes`; otherwise a one-line DataError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read image {path}: {exc.strerror or exc}") from None
    problem = check_image_bytes(data)
    if problem is not None:
        raise DataError(f"unreadable image {path}: {problem}")
    return data


def preprocess_image(path_or_bytes: Union[str, Path, bytes], geometry: EvalGeometry) -> np.ndarray:
    """One image through :func:`geometry_transforms`: a (3, crop_h, crop_w) float32 array (no batch axis)."""
    from mindspore.dataset.transforms import Compose

    if isinstance(path_or_bytes, (bytes, bytearray)):
        data, where = bytes(path_or_bytes), "image bytes"
        problem = check_image_bytes(data)
        if problem is not None:
            raise DataError(f"unreadable image bytes: {problem}")
    else:
        data, where = read_image_bytes(path_or_bytes), str(path_or_bytes)
    try:
        out = Compose(geometry_transforms(geometry))(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError as exc:
        raise DataError(f"cannot decode {where}: {first_line(exc)}") from None
    return np.ascontiguousarray(out, dtype=np.float32)

"""``auto_augment`` policy strings (timm's and MindCV's) as dataset ops, and random erasing.

Policies:

- ``autoaug`` (also ``autoaugment``, ``original``; MindCV's and timm's name for the AutoAugment paper's ImageNet
  policy): MindSpore's ``vision.AutoAugment(AutoAugmentPolicy.IMAGENET)``, which is that policy.
- ``trivialaugwide`` (also ``ta_wide``): MindSpore's ``vision.TrivialAugmentWide()`` (31 magnitude bins), the same
  op as MindCV's and torchvision's.
- ``rand-m9-n2-mstd0.5-inc1`` (timm; MindCV writes ``randaug-...``): :class:`RandAugment`, ours, a port of timm's
  ``rand_augment_transform``. MindSpore's ``vision.RandAugment`` is torchvision's and does not express timm's
  policy (another op set, every op always applied, no magnitude noise ``mstd``, no increasing ops ``inc``), so it
  is not used. Sections: ``m`` magnitude (0-10, default 10), ``n`` ops per image (2), ``mstd`` std of the magnitude's
  Gaussian noise (``inf``: uniform in [0, m]), ``mmax`` upper bound (10), ``inc1`` the "increasing" op set,
  ``p`` probability of each chosen op (0.5).

Determinism. Python ops run in the pipeline's worker threads in no fixed order, so a shared random state would
make runs differ. Ours draw from a generator seeded by the run's seed and a CRC of the image they receive (the
random crop before them is seeded by the dataset seed, which changes every epoch): the same run gives the same
images, and a resumed run the same as an unbroken one.
"""
from __future__ import annotations

import math
import zlib
from typing import Callable, List, Sequence, Tuple

import numpy as np

from mindzoo.errors import ConfigError

LEVEL_DENOM = 10.0
AUTOAUG_NAMES = ("autoaug", "autoaugment", "original")
TRIVIAL_NAMES = ("trivialaugwide", "ta_wide")
RAND_PREFIXES = ("rand", "randaug")
POLICY_HELP = "autoaug | trivialaugwide | rand-m<M>[-n<N>][-mstd<S>][-mmax<X>][-inc1][-p<P>] (MindCV: randaug-...)"


def image_rng(seed: int, image: np.ndarray) -> np.random.Generator:
    """A generator that depends on the run's seed and the image content only (see the module docstring)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(np.ascontiguousarray(image).data)])


# ---------------------------------------------------------------- timm's RandAugment ops (PIL)


def _negate(rng: np.random.Generator, value: float) -> float:
    return -value if rng.random() > 0.5 else value


def _affine(image, matrix: Tuple[float, ...], fill: Tuple[int, ...], resample: int):
    from PIL import Image

    return image.transform(image.size, Image.AFFINE, matrix, resample=resample, fillcolor=fill)


def _solarize_add(image, add: int, threshold: int = 128):
    lut = [min(255, i + add) if i < threshold else i for i in range(256)]
    return image.point(lut * len(image.getbands()))


def _enhance(kind: str) -> Callable:
    def apply(image, factor: float, **_: object):
        from PIL import ImageEnhance

        return getattr(ImageEnhance, kind)(image).enhance(factor)
    return apply


def _ops() -> dict:
    """name -> (apply(image, *args, fill, resample), level(magnitude, rng, translate_pct) -> args)."""
    from PIL import ImageOps

    def rotate(image, degrees, fill, resample):
        return image.rotate(degrees, resample=resample, fillcolor=fill)

    def shear_x(image, factor, fill, resample):
        return _affine(image, (1, factor, 0, 0, 1, 0), fill, resample)

    def shear_y(image, factor, fill, resample):
        return _affine(image, (1, 0, 0, factor, 1, 0), fill, resample)

    def translate_x(image, pct, fill, resample):
        return _affine(image, (1, 0, pct * image.size[0], 0, 1, 0), fill, resample)

    def translate_y(image, pct, fill, resample):
        return _affine(image, (1, 0, 0, 0, 1, pct * image.size[1]), fill, resample)

    def plain(fn):
        return lambda image, *args, fill, resample: fn(image, *args)

    def posterize(image, bits):
        return image if bits >= 8 else ImageOps.posterize(image, bits)

    none = lambda m, rng, t: ()  # noqa: E731
    enhance = lambda m, rng, t: ((m / LEVEL_DENOM) * 1.8 + 0.1,)  # noqa: E731
    enhance_inc = lambda m, rng, t: (max(0.1, 1.0 + _negate(rng, (m / LEVEL_DENOM) * 0.9)),)  # noqa: E731
    posterize_level = lambda m: int((m / LEVEL_DENOM) * 4)  # noqa: E731
    solarize_level = lambda m: int((m / LEVEL_DENOM) * 256)  # noqa: E731
    ops = {
        "AutoContrast": (plain(ImageOps.autocontrast), none),
        "Equalize": (plain(ImageOps.equalize), none),
        "Invert": (plain(ImageOps.invert), none),
        "Rotate": (rotate, lambda m, rng, t: (_negate(rng, (m / LEVEL_DENOM) * 30.0),)),
        "Posterize": (plain(posterize), lambda m, rng, t: (posterize_level(m),)),
        "PosterizeIncreasing": (plain(posterize), lambda m, rng, t: (4 - posterize_level(m),)),
        "Solarize": (plain(ImageOps.solarize), lambda m, rng, t: (solarize_level(m),)),
        "SolarizeIncreasing": (plain(ImageOps.solarize), lambda m, rng, t: (256 - solarize_level(m),)),
        "SolarizeAdd": (plain(_solarize_add), lambda m, rng, t: (int((m / LEVEL_DENOM) * 110),)),
        "ShearX": (shear_x, lambda m, rng, t: (_negate(rng, (m / LEVEL_DENOM) * 0.3),)),
        "ShearY": (shear_y, lambda m, rng, t: (_negate(rng, (m / LEVEL_DENOM) * 0.3),)),
        "TranslateXRel": (translate_x, lambda m, rng, t: (_negate(rng, (m / LEVEL_DENOM) * t),)),
        "TranslateYRel": (translate_y, lambda m, rng, t: (_negate(rng, (m / LEVEL_DENOM) * t),)),
    }
    for kind in ("Color", "Contrast", "Brightness", "Sharpness"):
        ops[kind] = (plain(_enhance(kind)), enhance)
        ops[f"{kind}Increasing"] = (plain(_enhance(kind)), enhance_inc)
    return ops


RAND_TRANSFORMS = ("AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd", "Color",
                   "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
RAND_INCREASING_TRANSFORMS = ("AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                              "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing",
                              "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel",
                              "TranslateYRel")


class RandAugment:
    """timm's RandAugment on uint8 HWC RGB arrays: ``num_ops`` ops drawn with replacement, each applied with
    probability ``prob`` at magnitude ``m`` (+ Gaussian noise ``magnitude_std``, clipped to [0, ``magnitude_max``]).

    Fill colour: the dataset mean; translations are relative (timm's ``translate_pct`` 0.45); geometric ops use
    bilinear or bicubic at random, as timm does unless told otherwise.
    """

    def __init__(self, magnitude: float = 10.0, num_ops: int = 2, magnitude_std: float = 0.0,
                 magnitude_max: float = LEVEL_DENOM, increasing: bool = False, prob: float = 0.5,
                 mean: Sequence[float] = (0.485, 0.456, 0.406), seed: int = 0, translate_pct: float = 0.45) -> None:
        self.magnitude = float(magnitude)
        self.num_ops = int(num_ops)
        self.magnitude_std = float(magnitude_std)
        self.magnitude_max = float(magnitude_max)
        self.names = RAND_INCREASING_TRANSFORMS if increasing else RAND_TRANSFORMS
        self.prob = float(prob)
        self.fill = tuple(min(255, round(255 * m)) for m in mean)
        self.seed = int(seed)
        self.translate_pct = float(translate_pct)
        self._ops = None

    def _magnitude(self, rng: np.random.Generator) -> float:
        magnitude = self.magnitude
        if self.magnitude_std == float("inf"):
            magnitude = rng.uniform(0.0, magnitude)
        elif self.magnitude_std > 0:
            magnitude = rng.normal(magnitude, self.magnitude_std)
        return max(0.0, min(magnitude, self.magnitude_max))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        from PIL import Image

        self._ops = self._ops or _ops()
        rng = image_rng(self.seed, image)
        pil = Image.fromarray(np.asarray(image, np.uint8))
        for name in rng.choice(self.names, self.num_ops, replace=True):
            if self.prob < 1.0 and rng.random() > self.prob:
                continue
            apply, level = self._ops[name]
            args = level(self._magnitude(rng), rng, self.translate_pct)
            resample = (Image.BILINEAR, Image.BICUBIC)[int(rng.integers(2))]
            pil = apply(pil, *args, fill=self.fill, resample=resample)
        return np.asarray(pil, np.uint8)


def parse_rand_policy(policy: str, mean: Sequence[float], seed: int) -> RandAugment:
    """``rand-m9-n2-mstd0.5-mmax10-inc1-p0.5`` (or ``randaug-...``) -> :class:`RandAugment`."""
    sections = policy.split("-")
    args = dict(magnitude=LEVEL_DENOM, num_ops=2, magnitude_std=0.0, magnitude_max=LEVEL_DENOM, increasing=False,
                prob=0.5)
    keys = (("mstd", "magnitude_std"), ("mmax", "magnitude_max"), ("inc", "increasing"), ("m", "magnitude"),
            ("n", "num_ops"), ("p", "prob"))
    for section in sections[1:]:
        key = next((k for k in keys if section.startswith(k[0])), None)
        try:
            if key is None:
                raise ValueError(section)
            value = float(section[len(key[0]):])
        except ValueError:
            raise ConfigError(f"auto_augment '{policy}': cannot read '{section}'; use {POLICY_HELP}") from None
        args[key[1]] = bool(value) if key[1] == "increasing" else (int(value) if key[1] == "num_ops" else value)
    if args["num_ops"] < 1 or not 0.0 <= args["prob"] <= 1.0 or args["magnitude"] < 0:
        raise ConfigError(f"auto_augment '{policy}': needs n >= 1, m >= 0 and p in [0, 1]")
    return RandAugment(mean=mean, seed=seed, **args)


def auto_augment_ops(policy: str, mean: Sequence[float] = (0.485, 0.456, 0.406), seed: int = 0) -> list:
    """The dataset ops of an ``auto_augment`` policy string (``""``: none); an unknown one is a ConfigError."""
    import mindspore.dataset.vision as vision

    name = policy.strip().lower()
    if not name:
        return []
    if name in AUTOAUG_NAMES:
        return [vision.AutoAugment(vision.AutoAugmentPolicy.IMAGENET)]
    if name in TRIVIAL_NAMES:
        return [vision.TrivialAugmentWide()]
    if name.split("-")[0] in RAND_PREFIXES:
        return [parse_rand_policy(name, mean, seed)]
    raise ConfigError(f"unknown auto_augment policy '{policy}'; use {POLICY_HELP}")


def check_auto_augment(policy: str) -> None:
    """The policy check without MindSpore (train.py runs it before anything starts)."""
    name = policy.strip().lower()
    if not name or name in AUTOAUG_NAMES or name in TRIVIAL_NAMES:
        return
    if name.split("-")[0] in RAND_PREFIXES:
        parse_rand_policy(name, (0.5, 0.5, 0.5), 0)
        return
    raise ConfigError(f"unknown auto_augment policy '{policy}'; use {POLICY_HELP}")


# ---------------------------------------------------------------- random erasing (timm's, after normalisation)


class RandomErasing:
    """timm's ``RandomErasing`` on a normalised float32 CHW array (one box per image).

    With probability ``prob`` a box of area ``U(scale) * H * W`` and aspect ratio ``exp(U(log ratio))`` (10 tries
    to fit) is filled with ``value``: a number (0 = the mean colour after normalisation; timm's ``const`` mode) or
    ``"random"``: per-pixel standard normal values (timm's ``pixel`` mode, MindCV's ``random``).
    """

    def __init__(self, prob: float, scale: Sequence[float] = (0.02, 1 / 3), ratio: Sequence[float] = (0.3, 3.3),
                 value: str = "0", seed: int = 0) -> None:
        check_random_erasing(prob, scale, ratio, value)
        self.prob = float(prob)
        self.scale = (float(scale[0]), float(scale[1]))
        self.log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        self.random_fill = str(value).strip().lower() == "random"
        self.value = 0.0 if self.random_fill else float(value)
        self.seed = int(seed)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        rng = image_rng(self.seed, image)
        if rng.random() > self.prob:
            return image
        channels, height, width = image.shape
        for _ in range(10):
            area = rng.uniform(*self.scale) * height * width
            aspect = math.exp(rng.uniform(*self.log_ratio))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if w < width and h < height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                image = np.array(image, np.float32)
                if self.random_fill:
                    image[:, top:top + h, left:left + w] = rng.standard_normal((channels, h, w), np.float32)
                else:
                    image[:, top:top + h, left:left + w] = self.value
                break
        return image


def check_random_erasing(prob: float, scale: Sequence[float], ratio: Sequence[float], value: str) -> None:
    """One-line errors under the config's key names."""
    if not 0.0 <= prob <= 1.0:
        raise ConfigError(f"re_prob must be in [0, 1], got {prob}")
    if len(scale) != 2 or not 0 < scale[0] <= scale[1] < 1:
        raise ConfigError(f"re_scale must be [min, max] with 0 < min <= max < 1, got {list(scale)}")
    if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
        raise ConfigError(f"re_ratio must be [min, max] with 0 < min <= max, got {list(ratio)}")
    if str(value).strip().lower() != "random":
        try:
            float(value)
        except ValueError:
            raise ConfigError(f"re_value must be a number or 'random', got '{value}'") from None


def erasing_ops(prob: float, scale: Sequence[float], ratio: Sequence[float], value: str, seed: int) -> List:
    """``[RandomErasing]`` when ``prob > 0``, else nothing (the pipeline stays as it was)."""
    return [RandomErasing(prob, scale, ratio, value, seed)] if prob > 0 else []

"""Batch-level Mixup / CutMix with soft (label-smoothed) targets: timm's ``Mixup`` in ``mode="batch"``.

Each batch, with probability ``prob`` (MindCV's ``cutmix_prob``), is mixed with itself reversed (image ``i`` with
image ``N - 1 - i``): Mixup blends whole images with ``lam ~ Beta(mixup, mixup)``; CutMix pastes a box of area
about ``1 - lam`` (``lam ~ Beta(cutmix, cutmix)``, then corrected to the box's clipped area). With both on,
CutMix is chosen with probability ``switch_prob``. Targets become ``lam * y + (1 - lam) * y_reversed`` where
``y = (1 - s) * onehot + s / C`` carries the label smoothing ``s``; an unmixed batch gets the smoothed one-hot
targets, so every batch has the same ``(N, C)`` float32 target column.

Random draws come from a ``numpy.random.RandomState`` seeded by ``(seed, epoch)`` and are made in batch order in
the same sequence as timm's (``rand``, ``rand``, ``beta``, ``randint``, ``randint``), so an epoch's mixing depends
on the seed and the epoch only: a resumed run (which replays the epoch's batches and skips the ones done) mixes
exactly as an unbroken one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from mindzoo.errors import ConfigError


@dataclass(frozen=True)
class MixParams:
    """One batch's draw: ``lam`` (1: not mixed) and, for CutMix, the box rows ``[top, bottom)`` cols ``[left, right)``."""

    lam: float = 1.0
    box: Tuple[int, int, int, int] = (0, 0, 0, 0)
    cutmix: bool = False


def smoothed_one_hot(labels: np.ndarray, num_classes: int, smoothing: float) -> np.ndarray:
    """``(1 - s) * onehot + s / C`` as float32 ``(N, C)``."""
    off = smoothing / num_classes
    target = np.full((len(labels), num_classes), off, np.float32)
    target[np.arange(len(labels)), np.asarray(labels, np.int64)] = 1.0 - smoothing + off
    return target


def mix_batch(images: np.ndarray, labels: np.ndarray, params: MixParams, num_classes: int,
              smoothing: float) -> Tuple[np.ndarray, np.ndarray]:
    """Mix an NCHW float batch with its reverse as ``params`` says; return the images and soft targets."""
    target = smoothed_one_hot(labels, num_classes, smoothing)
    if params.lam == 1.0:
        return images, target
    reverse = images[::-1]
    if params.cutmix:
        top, bottom, left, right = params.box
        images = images.copy()
        images[:, :, top:bottom, left:right] = reverse[:, :, top:bottom, left:right]
    else:
        images = (images * np.float32(params.lam) + reverse * np.float32(1.0 - params.lam)).astype(np.float32)
    return images, (target * params.lam + target[::-1] * (1.0 - params.lam)).astype(np.float32)


def cutmix_box(rng: np.random.RandomState, height: int, width: int, lam: float) -> Tuple[Tuple[int, int, int, int], float]:
    """timm's ``rand_bbox`` + ``correct_lam``: a box of side ``sqrt(1 - lam)`` clipped to the image, and the
    ``lam`` of the area actually kept."""
    ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy = rng.randint(0, height)
    cx = rng.randint(0, width)
    top, bottom = int(np.clip(cy - cut_h // 2, 0, height)), int(np.clip(cy + (cut_h + 1) // 2, 0, height))
    left, right = int(np.clip(cx - cut_w // 2, 0, width)), int(np.clip(cx + (cut_w + 1) // 2, 0, width))
    return (top, bottom, left, right), 1.0 - (bottom - top) * (right - left) / float(height * width)


class Mixup:
    """A batch op for ``dataset.map(operations=..., input_columns=["image", "label"])`` after ``batch``.

    One instance per epoch pipeline; it must see the batches in order (a map with one worker), which is how
    :func:`mixup_batches` applies it.
    """

    def __init__(self, mixup_alpha: float, cutmix_alpha: float, prob: float, switch_prob: float,
                 smoothing: float, num_classes: int, seed: int) -> None:
        check_mixup(mixup_alpha, cutmix_alpha, prob, switch_prob)
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.prob = float(prob)
        self.switch_prob = float(switch_prob)
        self.smoothing = float(smoothing)
        self.num_classes = int(num_classes)
        self.rng = np.random.RandomState(seed)

    def draw(self, height: int, width: int) -> MixParams:
        """The next batch's parameters (timm's ``_params_per_batch`` and ``cutmix_bbox_and_lam``)."""
        rng = self.rng
        if not rng.rand() < self.prob:
            return MixParams()
        cutmix = self.cutmix_alpha > 0.0
        if self.mixup_alpha > 0.0 and self.cutmix_alpha > 0.0:
            cutmix = rng.rand() < self.switch_prob
        alpha = self.cutmix_alpha if cutmix else self.mixup_alpha
        lam = float(rng.beta(alpha, alpha))
        if not cutmix or lam == 1.0:
            return MixParams(lam=lam)
        box, lam = cutmix_box(rng, height, width, lam)
        return MixParams(lam=lam, box=box, cutmix=True)

    def __call__(self, images: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        params = self.draw(images.shape[-2], images.shape[-1])
        return mix_batch(images, labels, params, self.num_classes, self.smoothing)


def check_mixup(mixup_alpha: float, cutmix_alpha: float, prob: float, switch_prob: float) -> None:
    """One-line errors under the config's key names."""
    for key, value in (("mixup", mixup_alpha), ("cutmix", cutmix_alpha)):
        if value < 0:
            raise ConfigError(f"{key} must be >= 0 (a Beta alpha; 0 disables), got {value}")
    for key, value in (("cutmix_prob", prob), ("mixup_switch_prob", switch_prob)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{key} must be in [0, 1], got {value}")


def epoch_seed(seed: int, epoch: int) -> int:
    """The Mixup RNG seed of epoch ``epoch`` (0-based) of a run seeded ``seed``."""
    return int(np.random.SeedSequence([seed, epoch, 0x6D6978]).generate_state(1)[0])


def mixup_batches(dataset, mixup: Mixup):
    """``dataset`` (batched, columns image/label) with ``mixup`` applied batch by batch, in order."""
    return dataset.map(operations=mixup, input_columns=["image", "label"], num_parallel_workers=1)

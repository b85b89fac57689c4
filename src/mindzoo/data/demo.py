"""A small real image dataset in ImageNet layout, built offline from scikit-learn's handwritten digits.

``python -m mindzoo.data.demo --out DIR`` writes ``DIR/train/<class>/*.JPEG``, ``DIR/val/<class>/*.JPEG``
and ``DIR/labels.txt`` from ``sklearn.datasets.load_digits`` (1797 8x8 scans bundled with scikit-learn, 10
classes; nothing is downloaded). Each scan is upscaled (bicubic) and colourised with a per-image foreground
and background colour, so colour augmentation has something to act on while the shape carries the label.

The build is deterministic (fixed seed, per-class stratified split, JPEG encoding of identical pixels), so two
builds are byte-identical. The default split is 1438 train / 359 val: 359 is deliberately not a multiple of
32, so evaluation must keep the last partial batch to count every image. A ``.mindzoo_demo.json`` marker
(completed last) makes a rerun with the same settings a no-op; other settings, or an interrupted build,
rebuild the two split folders. A non-empty directory without the marker is never written into.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from mindzoo.errors import DataError, UsageError

CLASS_NAMES: Tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MARKER = ".mindzoo_demo.json"
SPLITS = ("train", "val")
JPEG_QUALITY = 95
FORMAT_VERSION = 1


def class_folder(label: int) -> str:
    """Folder name of a label; the digit prefix makes sorted folder order equal label order."""
    return f"{label}_{CLASS_NAMES[label]}"


def split_indices(labels: np.ndarray, val_fraction: float, seed: int, batch: int = 32) -> Dict[str, np.ndarray]:
    """Stratified split: ``round(val_fraction * n_c)`` of each class to val, the rest to train.

    If the val total is a multiple of ``batch``, one image moves back to train so that a dropped last
    batch would be noticed by a full-val count.
    """
    if not 0.0 < val_fraction < 1.0:
        raise UsageError(f"--val_fraction must be in (0, 1), got {val_fraction}")
    rng = np.random.RandomState(seed)
    train: List[np.ndarray] = []
    val: List[np.ndarray] = []
    for label in range(len(CLASS_NAMES)):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        n_val = min(max(int(round(val_fraction * len(members))), 1), len(members) - 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    if sum(len(v) for v in val) % batch == 0:
        train[0] = np.concatenate([train[0], val[0][-1:]])
        val[0] = val[0][:-1]
    return {"train": np.sort(np.concatenate(train)), "val": np.sort(np.concatenate(val))}


def render(digit: np.ndarray, size: int, rng: np.random.RandomState) -> Image.Image:
    """An 8x8 0-16 scan as a ``size``x``size`` RGB image: bicubic upscale, then bright ink on a dark ground."""
    gray = Image.fromarray(np.clip(digit * (255.0 / 16.0), 0, 255).astype(np.uint8))
    ink = gray.resize((size, size), Image.BICUBIC)
    alpha = np.asarray(ink, dtype=np.float32)[..., None] / 255.0
    foreground = rng.uniform(150, 255, size=3).astype(np.float32)
    background = rng.uniform(0, 90, size=3).astype(np.float32)
    rgb = background + (foreground - background) * alpha
    return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))


def _settings(size: int, val_fraction: float, seed: int) -> Dict[str, object]:
    return {"format": FORMAT_VERSION, "size": size, "val_fraction": val_fraction, "seed": seed,
            "quality": JPEG_QUALITY}


def _is_complete(out: Path, settings: Dict[str, object]) -> bool:
    marker = out / MARKER
    if not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if recorded.get("settings") != settings:
        return False
    for split in SPLITS:
        found = sum(1 for _ in (out / split).glob("*/*.JPEG")) if (out / split).is_dir() else 0
        if found != (recorded.get("counts") or {}).get(split):
            return False
    return True


def _write_marker(out: Path, settings: Dict[str, object], counts: Optional[Dict[str, int]]) -> None:
    """The marker a rerun trusts; ``counts`` None means a build is in progress (never complete)."""
    payload = {"settings": settings, "counts": counts}
    (out / MARKER).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def build_demo_dataset(out: str | Path, size: int = 64, val_fraction: float = 0.2, seed: int = 0) -> Dict[str, int]:
    """Write the demo dataset under ``out`` (or leave a complete identical one alone); return split sizes."""
    out = Path(out)
    if size < 8:
        raise UsageError(f"--size must be at least 8, got {size}")
    settings = _settings(size, val_fraction, seed)
    if _is_complete(out, settings):
        recorded = json.loads((out / MARKER).read_text(encoding="utf-8"))
        return dict(recorded["counts"])
    if out.exists() and not out.is_dir():
        raise DataError(f"demo dataset output is not a directory: {out}")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise DataError(f"refusing to write the demo dataset into non-empty {out}: it has no {MARKER} marker")

    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images, digits.target.astype(np.int64)
    parts = split_indices(labels, val_fraction, seed)
    out.mkdir(parents=True, exist_ok=True)
    _write_marker(out, settings, None)  # claims the directory, so an interrupted build can be redone
    counts: Dict[str, int] = {}
    for split in SPLITS:
        split_dir = out / split
        if split_dir.exists():
            shutil.rmtree(split_dir)
        for label in range(len(CLASS_NAMES)):
            (split_dir / class_folder(label)).mkdir(parents=True)
        for index in parts[split]:
            label = int(labels[index])
            rng = np.random.RandomState([seed, int(index)])
            path = split_dir / class_folder(label) / f"{CLASS_NAMES[label]}_{int(index):04d}.JPEG"
            render(images[index], size, rng).save(path, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
        counts[split] = int(len(parts[split]))
    (out / "labels.txt").write_text("".join(name + "\n" for name in CLASS_NAMES), encoding="utf-8")
    _write_marker(out, settings, counts)
    return counts


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mindzoo.data.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory (created; train/, val/, labels.txt)")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--val_fraction", type=float, default=0.2, help="per-class share for val (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="split and colour seed (default 0)")
    args = parser.parse_args(argv)
    try:
        counts = build_demo_dataset(args.out, size=args.size, val_fraction=args.val_fraction, seed=args.seed)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"demo dataset at {args.out}: {counts['train']} train / {counts['val']} val images, "
          f"{len(CLASS_NAMES)} classes, {args.size}x{args.size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ImageNet folder layout, in one place: ``<split>/<class>/<image>``, class folders sorted by name give labels
0..C-1, images are ``.jpeg .jpg .png .bmp`` in any letter case.

Two listings of the same layout, each matching the reader that consumes it: :func:`imagefolder_listing` is
MindSpore ``ImageFolderDataset``'s order (train.py, eval.py); :func:`list_images` is the C++ harness's
(``ascend310_infer/src/utils.cc: ListDataset``): class folders sorted by name (= label order), files sorted by
name, hidden entries skipped. An image's key is its file name without the last extension; if two images share
that stem (two class folders, or ``a.JPEG`` next to ``a.png``), each of them is keyed ``<class>@<file name>``
instead. ImageNet's val names are unique, so there the keys are the plain stems the model zoo uses.

Only the standard library and :mod:`mindzoo.errors`: ``create_imagenet2012_label.py`` runs without MindSpore.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from mindzoo.errors import ConfigError, DataError, InferIOError

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp")


def extension(name: str) -> str:
    """The suffix as MindSpore's ``Path::Extension`` sees it: from the last dot (".jpg" included)."""
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


def is_image(name: str) -> bool:
    """The one image rule of the layout: the extension, in any letter case."""
    return extension(name).lower() in IMAGE_EXTENSIONS


def resolve_val_dir(data_path: str) -> Path:
    """The val split: ``DATA/val`` if it exists, else ``DATA`` itself (model-zoo scripts pass the split).

    A dataset root with ``train/`` but no ``val/`` is an error naming the missing ``val/``: read as a split,
    its one ``train`` folder would be taken for a class.
    """
    if not data_path:
        raise ConfigError("data_path is empty; pass --data_path=DIR (a dataset root with val/, or the val dir)")
    root = Path(data_path)
    if (root / "val").is_dir():
        return root / "val"
    if (root / "train").is_dir():
        raise DataError(f"{root} has train/ but no val/: eval.py evaluates {root / 'val'}/<class>/*; create it, "
                        "or pass the val folder itself as --data_path")
    return root


def imagefolder_listing(class_dir: str) -> List[str]:
    """Image file names in a class folder, in ImageFolderDataset's order (sorted by code point)."""
    with os.scandir(class_dir) as entries:
        return sorted(e.name for e in entries if is_image(e.name))


@dataclass(frozen=True)
class ImageEntry:
    rel_path: str  # "<class>/<file>" ("<file>" in a flat folder)
    class_name: str  # "" in a flat folder
    label: int  # index of the class folder in sorted order, -1 in a flat folder
    key: str  # result name: result_Files/<key>_0.bin


def _sorted_entries(directory: str, want_dirs: bool) -> List[str]:
    try:
        names = os.listdir(directory)
    except OSError as exc:
        raise InferIOError(f"cannot read directory {directory}: {exc.strerror or exc}") from None
    chosen = []
    for name in names:
        if name.startswith("."):
            continue
        is_dir = os.path.isdir(os.path.join(directory, name))
        if (is_dir if want_dirs else (not is_dir and is_image(name))):
            chosen.append(name)
    return sorted(chosen)


def list_images(split_dir: str, require_classes: bool = False) -> List[ImageEntry]:
    """The images of an ImageNet-layout split dir (or a flat image folder), in the harness's order and keys."""
    if not os.path.isdir(split_dir):
        raise InferIOError(f"image folder not found: {split_dir}")
    classes = _sorted_entries(split_dir, want_dirs=True)
    listed: List[Tuple[str, str, int, str]] = []  # rel_path, class, label, file name
    if not classes:
        if require_classes:
            raise InferIOError(f"no class subfolders in {split_dir}: expected ImageNet layout DIR/<class>/<image>")
        listed = [(name, "", -1, name) for name in _sorted_entries(split_dir, want_dirs=False)]
    else:
        for label, class_name in enumerate(classes):
            for name in _sorted_entries(os.path.join(split_dir, class_name), want_dirs=False):
                listed.append((f"{class_name}/{name}", class_name, label, name))
    if not listed:
        raise InferIOError(f"no images ({' '.join(IMAGE_EXTENSIONS)}) found in {split_dir}")
    stems = [os.path.splitext(name)[0] for _, _, _, name in listed]
    counts: Dict[str, int] = {}
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
    entries = []
    for (rel_path, class_name, label, name), stem in zip(listed, stems):
        if counts[stem] > 1:
            key = f"{class_name}@{name}" if class_name else name
        else:
            key = stem
        entries.append(ImageEntry(rel_path, class_name, label, key))
    return entries


def build_label_map(split_dir: str) -> Dict[str, int]:
    """key -> class index for every image of an ImageNet-layout split dir (imagenet_label.json)."""
    return {entry.key: entry.label for entry in list_images(split_dir, require_classes=True)}

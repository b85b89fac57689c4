"""The one dataset factory for every model: ``mindspore.dataset.ImageFolderDataset`` in ImageNet layout.

``<data_path>/<split>/<class>/<image>``: class folders sorted by name give labels 0..C-1; images are files
ending in .jpeg/.jpg/.png/.bmp in any letter case (ImageFolderDataset matches extensions case-sensitively,
so the exact suffixes found are passed to it). :func:`validate_image_folder` checks the layout before any
pipeline or graph is built and fails with a one-line :class:`DataError` naming the path at fault.

Unreadable images. MindSpore's ``Decode`` stops the whole pipeline mid-epoch on a file it cannot decode,
with a message that does not name the file (it dumps a copy into the working directory instead). So every
image is checked up front, reading only its first 16 and last 1024 bytes (about 20 us a file on a local
disk, 8 threads): empty files, non-images, GIF/WebP, and truncated JPEG/PNG (no end-of-image marker;
JPEG suspects are confirmed by a full PIL decode, since a JPEG may carry a trailer). By default the first
bad file is an error naming it and the count of others; ``skip_bad_images=True`` leaves them out instead
(a sampler over ImageFolderDataset's own file order, so the pipeline stays the same), logs how many, and
still fails if a class is left with no images. Grayscale, CMYK, palette and RGBA images are not errors:
``Decode`` turns them into RGB. A file damaged in the middle decodes with artefacts, as in every loader.

Sharding: training uses ImageFolderDataset's own ``num_shards``/``shard_id``: with N images every shard
yields ``ceil(N / num_shards)`` samples, padded by repeating images when N is not a multiple of the shard
count (measured on 2.10) — harmless for training. Evaluation (``drop_remainder=False``) uses strided
disjoint subsets instead, so summed counts cover every image exactly once.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple, Union

from mindzoo.data.transforms import check_image_file
from mindzoo.data.layout import IMAGE_EXTENSIONS, extension, imagefolder_listing
from mindzoo.errors import ConfigError, DataError

if TYPE_CHECKING:
    from mindspore.dataset import Dataset

CHECK_THREADS = 8
MAX_WORKERS = 8
logger = logging.getLogger("mindzoo.data")


@dataclass(frozen=True)
class ImageFolderInfo:
    """What a split folder holds, in label order, after the checks (``counts`` excludes skipped files)."""

    path: str
    class_names: Tuple[str, ...]
    counts: Tuple[int, ...]
    extensions: Tuple[str, ...]
    skipped: Tuple[str, ...] = ()
    skipped_indices: Tuple[int, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_images(self) -> int:
        """Images the dataset yields (skipped files excluded)."""
        return sum(self.counts)

    @property
    def num_files(self) -> int:
        """Image files found, including skipped ones; positions in ImageFolderDataset's order."""
        return self.num_images + len(self.skipped)


def _check_folder(class_dir: str, names: Sequence[str]) -> List[Tuple[int, str]]:
    problems = []
    for index, name in enumerate(names):
        problem = check_image_file(os.path.join(class_dir, name))
        if problem is not None:
            problems.append((index, problem))
    return problems


def validate_image_folder(split_dir: Union[str, Path], num_classes: Optional[int] = None,
                          check_images: bool = True, skip_bad_images: bool = False) -> ImageFolderInfo:
    """Check an ImageNet-layout split folder and describe it; a one-line DataError names what is wrong.

    ``check_images`` runs the fast header/trailer check of every image (see the module docstring);
    ``skip_bad_images`` turns its failures into skipped files instead of an error.
    """
    root = Path(split_dir)
    if not root.exists():
        raise DataError(f"image folder not found: {root} (expected ImageNet layout {root}/<class>/<image>.JPEG)")
    if not root.is_dir():
        raise DataError(f"not a directory: {root} (expected ImageNet layout {root}/<class>/<image>.JPEG)")
    try:
        with os.scandir(root) as entries:
            class_names = sorted(e.name for e in entries if e.is_dir())
    except OSError as exc:
        raise DataError(f"cannot list {root}: {exc.strerror or exc}") from None
    if not class_names:
        raise DataError(f"no class folders in {root}: expected one sub-folder of images per class")
    hidden = [name for name in class_names if name.startswith(".")]
    if hidden:
        raise DataError(f"hidden folder {root / hidden[0]} would be read as a class by ImageFolderDataset; remove it")
    if num_classes is not None and num_classes != len(class_names):
        raise DataError(f"{root} has {len(class_names)} class folders but num_classes={num_classes}; "
                        f"pass --num_classes={len(class_names)}")

    listings = [imagefolder_listing(str(root / name)) for name in class_names]
    empty = [name for name, files in zip(class_names, listings) if not files]
    if empty:
        more = f" (and {len(empty) - 1} more empty class folders)" if len(empty) > 1 else ""
        raise DataError(f"class folder {root / empty[0]} has no images ({'/'.join(IMAGE_EXTENSIONS)}){more}")
    extensions = tuple(sorted({extension(f) for files in listings for f in files}))

    bad: List[Tuple[int, int, str]] = []
    if check_images:
        with ThreadPoolExecutor(max_workers=CHECK_THREADS) as pool:
            results = pool.map(_check_folder, [str(root / name) for name in class_names], listings)
            bad = [(label, index, why) for label, found in enumerate(results) for index, why in found]
    if bad and not skip_bad_images:
        label, index, why = bad[0]
        more = f" (and {len(bad) - 1} more bad images under {root})" if len(bad) > 1 else ""
        raise DataError(f"unreadable image {root / class_names[label] / listings[label][index]}: {why}{more}")

    counts = [len(files) for files in listings]
    offsets = [sum(counts[:label]) for label in range(len(counts))]
    skipped = []
    for label, index, why in bad:
        counts[label] -= 1
        skipped.append(str(root / class_names[label] / listings[label][index]))
    emptied = [label for label, count in enumerate(counts) if count == 0]
    if emptied:
        raise DataError(f"class folder {root / class_names[emptied[0]]} has no readable images "
                        f"({len(listings[emptied[0]])} unreadable)")
    if bad:
        logger.warning("skipping %d unreadable images under %s, e.g. %s (%s)", len(bad), root, skipped[0], bad[0][2])
    return ImageFolderInfo(
        path=str(root), class_names=tuple(class_names), counts=tuple(counts), extensions=extensions,
        skipped=tuple(skipped), skipped_indices=tuple(offsets[label] + index for label, index, _ in bad),
    )


def auto_num_workers(num_shards: Optional[int] = None) -> int:
    """Parallel workers per pipeline stage: this process's CPU share (cores / shards), clamped to 1..8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores // max(1, num_shards or 1)))


def create_dataset(data_dir: Union[str, Path], split: str, transforms: list, batch_size: int, shuffle: bool,
                   num_shards: Optional[int] = None, shard_id: Optional[int] = None,
                   num_parallel_workers: int = 0, drop_remainder: Optional[bool] = None,
                   num_classes: Optional[int] = None, check_images: bool = True,
                   skip_bad_images: bool = False, info: Optional[ImageFolderInfo] = None) -> "Dataset":
    """Batched ``(image float32 NCHW, label int32)`` dataset over ``<data_dir>/<split>``.

    ``drop_remainder`` defaults to True for "train" (static shapes for graph mode) and False otherwise, so
    evaluation keeps the last partial batch and sees every image. Shuffling and random augmentation follow
    MindSpore's global dataset seed (``mindspore.dataset.config.set_seed``, set by the caller). Pass ``info``
    from an earlier :func:`validate_image_folder` to skip re-checking the folder.
    """
    import mindspore as ms
    import mindspore.dataset as ds
    from mindspore.dataset.transforms import TypeCast

    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if (num_shards is None) != (shard_id is None):
        raise ConfigError(f"num_shards and shard_id go together, got num_shards={num_shards}, shard_id={shard_id}")
    if num_shards is not None and not 0 <= shard_id < num_shards:
        raise ConfigError(f"shard_id must be in [0, {num_shards}), got {shard_id}")
    if not transforms:
        raise ConfigError("the transform list is empty: the pipeline needs at least a decode step")
    if info is None:
        info = validate_image_folder(Path(data_dir) / split, num_classes, check_images, skip_bad_images)
    elif num_classes is not None and num_classes != info.num_classes:
        raise DataError(f"{info.path} has {info.num_classes} class folders but num_classes={num_classes}; "
                        f"pass --num_classes={info.num_classes}")
    if drop_remainder is None:
        drop_remainder = split == "train"
    per_shard = -(-info.num_images // (num_shards or 1))
    if drop_remainder and per_shard < batch_size:
        raise DataError(f"{info.path} gives {per_shard} images per shard, fewer than batch_size={batch_size}: "
                        f"no full batch; lower the batch size")
    workers = num_parallel_workers or auto_num_workers(num_shards)

    source: Dict[str, object] = {
        "num_parallel_workers": workers,
        "extensions": list(info.extensions),
        "class_indexing": {name: label for label, name in enumerate(info.class_names)},
    }
    skipped = set(info.skipped_indices)
    keep = [index for index in range(info.num_files) if index not in skipped]
    if num_shards is not None and not drop_remainder:
        # Sharded evaluation: DistributedSampler pads shards to equal size by repeating images, which
        # would count some twice; strided subsets are disjoint and cover every image exactly once.
        dataset = ds.ImageFolderDataset(info.path, sampler=ds.SubsetSampler(keep[shard_id::num_shards]), **source)
    elif skipped:
        if num_shards is not None:
            sampler = ds.DistributedSampler(num_shards, shard_id, shuffle=shuffle)
            sampler.add_child(ds.SubsetSampler(keep))
        else:
            sampler = ds.SubsetRandomSampler(keep) if shuffle else ds.SubsetSampler(keep)
        dataset = ds.ImageFolderDataset(info.path, sampler=sampler, **source)
    else:
        dataset = ds.ImageFolderDataset(info.path, shuffle=shuffle, num_shards=num_shards, shard_id=shard_id,
                                        **source)
    dataset = dataset.map(operations=list(transforms), input_columns="image", num_parallel_workers=workers)
    dataset = dataset.map(operations=TypeCast(ms.int32), input_columns="label", num_parallel_workers=workers)
    return dataset.batch(batch_size, drop_remainder=drop_remainder)

"""Files of the C++ deployment path: ``ascend310_infer`` results, the label file, and ``acc.log``.

``ascend310_infer/build/<backend>/main`` writes one ``result_Files/<key>_0.bin`` per image (the raw first
output of the model, batch 1) and ``result_Files/meta.json`` (dtype, shape, and the image behind every
result); ``create_imagenet2012_label.py`` writes ``imagenet_label.json`` (key -> class index);
``postprocess.py`` turns both into ``acc.log``.

The images and their keys are :func:`mindzoo.data.layout.list_images` (the harness's listing of the ImageNet layout).

Only numpy, the standard library and :mod:`mindzoo.errors` (plain Python) are imported, so ``postprocess.py``
also runs on an inference host without MindSpore.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mindzoo.errors import InferIOError

RESULT_SUFFIX = "_0.bin"
RESULT_DIR = "result_Files"
META_FILE = "meta.json"
TIMING_FILE = "time_Result/test_perform_static.txt"  # under the harness's --output_dir
ACC_LINE = re.compile(r"Total data: (\d+), top1 accuracy: (\d+(?:\.\d+)?(?:[eE]-?\d+)?), "
                      r"top5 accuracy: (\d+(?:\.\d+)?(?:[eE]-?\d+)?)")
TIMING_LINE = re.compile(r"NN inference cost (?P<stat>average|median) time: (?P<ms>[0-9.eE+-]+) ms of infer_count "
                         r"(?P<count>\d+)")
DTYPES = {"float32": np.float32, "float16": np.float16, "float64": np.float64}
DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "fp64": "float64", "float": "float32", "half": "float16",
                 "double": "float64"}


def load_label_map(path: str) -> Dict[str, int]:
    if not os.path.isfile(path):
        raise InferIOError(f"label file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise InferIOError(f"cannot read label file {path}: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise InferIOError(f"label file {path} is not a non-empty JSON object of image key -> class index")
    labels = {}
    for key, value in data.items():
        try:
            labels[str(key)] = int(value)
        except (TypeError, ValueError):
            raise InferIOError(f"label file {path}: label of {key!r} is not an integer: {value!r}") from None
    return labels


def normalize_dtype(name: str) -> str:
    canonical = DTYPE_ALIASES.get(str(name).lower(), str(name).lower())
    if canonical not in DTYPES:
        raise InferIOError(f"unsupported result dtype {name!r} (use one of {', '.join(DTYPES)})")
    return canonical


def read_meta(result_dir: str) -> Optional[dict]:
    """result_Files/meta.json written by the harness, or None if absent."""
    path = os.path.join(result_dir, META_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError) as exc:
        raise InferIOError(f"cannot read {path}: {exc}") from None
    if not isinstance(meta, dict):
        raise InferIOError(f"{path} is not a JSON object")
    return meta


def result_key(file_name: str) -> str:
    """``<key>_0.bin`` -> key (any other ``name.bin`` -> name)."""
    if file_name.endswith(RESULT_SUFFIX):
        return file_name[: -len(RESULT_SUFFIX)]
    return file_name[: -len(".bin")]


def load_results(result_dir: str, dtype: Optional[str] = None, num_classes: Optional[int] = None
                 ) -> Tuple[Dict[str, np.ndarray], str, int]:
    """Reads every result of a result dir as a 1-D logit vector: (key -> logits, dtype, num_classes).

    dtype and shape come from meta.json if present (flags that contradict it are an error), else from the
    arguments (dtype defaults to float32, num_classes to the size of the first file). Every file must hold
    exactly one row; meta.json's file list, if given, must match the .bin files present.
    """
    if not os.path.isdir(result_dir):
        raise InferIOError(f"result directory not found: {result_dir}")
    meta = read_meta(result_dir)
    shape = None
    if meta is not None:
        if "dtype" in meta:
            meta_dtype = normalize_dtype(meta["dtype"])
            if dtype is not None and normalize_dtype(dtype) != meta_dtype:
                raise InferIOError(f"--dtype {dtype} contradicts {os.path.join(result_dir, META_FILE)} "
                                   f"(dtype {meta_dtype})")
            dtype = meta_dtype
        if "shape" in meta:
            shape = [int(d) for d in meta["shape"]]
            if not shape or any(d < 1 for d in shape):
                raise InferIOError(f"{os.path.join(result_dir, META_FILE)} has an invalid shape {meta['shape']}")
            meta_classes = int(np.prod(shape))
            if num_classes is not None and num_classes != meta_classes:
                raise InferIOError(f"--num_classes {num_classes} contradicts {os.path.join(result_dir, META_FILE)} "
                                   f"(shape {shape})")
            num_classes = meta_classes
    dtype = normalize_dtype(dtype or "float32")
    np_dtype = DTYPES[dtype]
    itemsize = np.dtype(np_dtype).itemsize
    if num_classes is not None and num_classes < 1:
        raise InferIOError(f"--num_classes must be >= 1, got {num_classes}")

    names = sorted(name for name in os.listdir(result_dir) if name.endswith(".bin"))
    if not names:
        raise InferIOError(f"no .bin results in {result_dir}")
    if meta is not None and isinstance(meta.get("files"), list):
        listed = {str(item.get("result")) for item in meta["files"] if isinstance(item, dict)}
        missing = sorted(listed - set(names))
        extra = sorted(set(names) - listed)
        if missing:
            raise InferIOError(f"{len(missing)} result(s) listed in {META_FILE} are missing from {result_dir}, "
                               f"e.g. {missing[0]}")
        if extra:
            raise InferIOError(f"{len(extra)} .bin file(s) in {result_dir} are not listed in {META_FILE} "
                               f"(stale results from another run?), e.g. {extra[0]}")

    results: Dict[str, np.ndarray] = {}
    for name in names:
        path = os.path.join(result_dir, name)
        size = os.path.getsize(path)
        if num_classes is None:
            if size == 0 or size % itemsize:
                raise InferIOError(f"{path}: {size} bytes is not a whole number of {dtype} values")
            num_classes = size // itemsize
        expected = num_classes * itemsize
        if size != expected:
            what = f"shape {shape}" if shape is not None else f"{num_classes} classes"
            raise InferIOError(f"{path}: {size} bytes does not fit {what} of {dtype} ({expected} bytes)")
        results[result_key(name)] = np.fromfile(path, dtype=np_dtype).astype(np.float64)
    return results, dtype, int(num_classes)


def accuracy(results: Mapping[str, np.ndarray], labels: Mapping[str, int], ks: Sequence[int] = (1, 5)
             ) -> Tuple[int, List[float]]:
    """(total, [top-k accuracy for k in ks]) over every result; a result without a label is an error.

    The rule of eval.py (``mindzoo.eval.metrics``): a result is top-k correct when all its logits are finite
    and fewer than k other classes score greater than or equal to its label. NaN/inf logits are never
    correct and a tie counts against the label; with fewer than k classes every finite result is top-k correct.
    """
    missing = sorted(key for key in results if key not in labels)
    if missing:
        raise InferIOError(f"{len(missing)} result(s) have no label in the label file, e.g. {missing[0]!r}")
    total = len(results)
    correct = [0] * len(ks)
    for key, logits in results.items():
        scores = np.asarray(logits, dtype=np.float64).reshape(-1)
        label = labels[key]
        if not 0 <= label < scores.size:
            raise InferIOError(f"label {label} of {key!r} is not a class of its {scores.size} logits")
        if not np.isfinite(scores).all():
            continue
        rank = int(np.count_nonzero(scores >= scores[label])) - 1  # other classes scoring >= the label
        for i, k in enumerate(ks):
            correct[i] += int(rank < k)
    return total, [c / total for c in correct]


def acc_line(total: int, top1: float, top5: float) -> str:
    """The model zoo's acc.log line."""
    return f"Total data: {total}, top1 accuracy: {top1}, top5 accuracy: {top5}."


def parse_acc_line(text: str, where: str = "acc.log") -> Tuple[int, float, float]:
    """(total, top1, top5) from the text of an ``acc.log`` (the inverse of :func:`acc_line`)."""
    match = ACC_LINE.search(text)
    if not match:
        raise InferIOError(f"{where} has no '{acc_line(0, 0.0, 0.0)}'-style line")
    return int(match[1]), float(match[2]), float(match[3])


@dataclass(frozen=True)
class Timing:
    """The harness's timing file: mean and median latency of its timed calls, and how many there were."""

    mean_ms: float
    median_ms: float
    count: int


def read_timing(output_dir: str) -> Timing:
    """``<output_dir>/time_Result/test_perform_static.txt`` as written by ``ascend310_infer/src/main.cc``."""
    path = os.path.join(output_dir, TIMING_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise InferIOError(f"cannot read {path}: {exc.strerror or exc}") from None
    stats = {match["stat"]: match for match in TIMING_LINE.finditer(text)}
    if set(stats) != {"average", "median"}:
        raise InferIOError(f"{path} lacks the harness's average/median time lines: {text[:200]!r}")
    return Timing(float(stats["average"]["ms"]), float(stats["median"]["ms"]), int(stats["average"]["count"]))

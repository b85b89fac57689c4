"""Export a network to MINDIR / ONNX / AIR, verified against the live network, with a JSON sidecar.

The file is written under a temporary name, verified, then renamed into place: MindSpore creates
exports read-only (0400) and ``mindspore.onnx.export`` swallows write errors, so writing straight to the
final name can neither replace an old export reliably nor be trusted to have happened. A file that
fails verification never replaces a good one.

The sidecar ``<file_name>.json`` (:mod:`mindzoo.deploy.sidecar`) records what a deployment needs besides the graph:
input/output names and shapes, and the eval preprocessing (resize, crop, mean/std).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from mindzoo.errors import MindzooError, UsageError, first_line
from mindzoo.export.verify import (
    VERIFY_SEED,
    VERIFY_TOLERANCE,
    random_input,
    relative_error,
    verify_export,
    verify_shapes,
)
from mindzoo.data.geometry import EvalGeometry
from mindzoo.deploy.runtimes import model_io
from mindzoo.deploy.sidecar import LITE_FORMAT, sidecar_path, sidecar_record, write_sidecar

PathLike = Union[str, Path]
FORMAT_SUFFIXES: Dict[str, str] = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}
# MindSpore Lite model, by way of ONNX (mindzoo.export.lite): its own name and sidecar, NAME_lite.json.
FORMAT_SUFFIXES[LITE_FORMAT] = "_lite.mindir"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
BATCH_DIM_NAME = "batch"


@dataclass
class ExportResult:
    """What an export produced; ``errors`` maps each verified batch size to its max relative error."""

    path: Path
    sidecar: Path
    file_format: str
    input_shape: List[int]
    output_shape: List[int]
    errors: Dict[int, float] = field(default_factory=dict)

    @property
    def max_error(self) -> Optional[float]:
        return max(self.errors.values()) if self.errors else None


def normalize_format(file_format: str) -> str:
    """Upper-case ``file_format`` and check it is one MindSpore can write."""
    fmt = str(file_format).strip().upper()
    if fmt not in FORMAT_SUFFIXES:
        raise UsageError(f"file_format must be one of {', '.join(FORMAT_SUFFIXES)}, got {file_format!r}")
    return fmt


def check_format_supported(file_format: str, device_target: str, dynamic_batch: bool = False) -> None:
    """AIR is produced by the Ascend toolchain only; say so in one line instead of a C++ traceback."""
    if file_format == LITE_FORMAT and device_target.lower() != "cpu":
        raise UsageError(f"MINDIR_LITE export converts and checks the model with MindSpore Lite on CPU "
                         f"(device_target={device_target}); export with --device_target=CPU")
    if file_format == "AIR" and device_target.lower() != "ascend":
        raise UsageError(f"AIR export needs Ascend (device_target={device_target}); use MINDIR or ONNX")
    if file_format == "AIR" and dynamic_batch:
        raise UsageError("dynamic_batch works with file_format MINDIR or ONNX, not AIR")


def resolve_batch_size(cfg: Mapping[str, Any], explicit: frozenset = frozenset()) -> int:
    """``--batch_size`` if given on the command line (model-zoo usage), else ``export_batch_size``.

    ``batch_size`` is also the training batch (default 32), so only an explicit one is an export request.
    """
    key = "batch_size" if "batch_size" in explicit else "export_batch_size"
    batch = cfg[key]
    if batch < 1:
        raise UsageError(f"{key} must be >= 1, got {batch}")
    return int(batch)


def resolve_output_path(file_name: str, file_format: str, net_name: str, output_dir: Optional[PathLike] = None) -> Path:
    """``<file_name>.<suffix>``; a relative name goes under ``output_dir`` if given, else the cwd.

    A name that already ends in the format's suffix is not doubled (``resnet50.onnx`` stays so).
    """
    name = file_name or net_name
    suffix = FORMAT_SUFFIXES[file_format]
    path = Path(name)
    if path.name.lower().endswith(suffix) and len(path.name) > len(suffix):
        path = path.with_name(path.name[:-len(suffix)])
    if not path.name or path.name in (".", ".."):
        raise UsageError(f"file_name {file_name!r} does not name a file")
    if output_dir and not path.is_absolute():
        path = Path(output_dir) / path
    return path.with_name(path.name + suffix)


def _remove(path: Path) -> None:
    """Delete a file even if it is read-only (MindSpore writes exports 0400)."""
    if path.exists() or path.is_symlink():
        os.chmod(path, 0o600)
        path.unlink()


def make_onnx_batch_dynamic(path: PathLike, dim_name: str = BATCH_DIM_NAME) -> None:
    """Mark dim 0 of every graph output symbolic; ``mindspore.onnx.export`` leaves it fixed at 1."""
    import onnx

    model = onnx.load(str(path))
    for value in model.graph.output:
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = dim_name
    onnx.save(model, str(path))


def export_network(
    net: Any,
    path: PathLike,
    file_format: str,
    input_shape: Tuple[int, int, int, int],
    dynamic_batch: bool = False,
) -> Path:
    """Write ``net`` (eval mode) to exactly ``path``; no verification, no atomic rename."""
    import mindspore as ms
    import numpy as np
    from mindspore import Tensor

    path = Path(path)
    net.set_train(False)
    if dynamic_batch:
        spec = Tensor(shape=[None, *input_shape[1:]], dtype=ms.float32)
    else:
        spec = Tensor(np.zeros(input_shape, dtype=np.float32))
    try:
        if file_format == "ONNX":
            example = Tensor(np.zeros(input_shape, dtype=np.float32))
            dynamic_axes = {INPUT_NAME: {0: BATCH_DIM_NAME}} if dynamic_batch else None
            ms.onnx.export(net, example, file_name=str(path), input_names=[INPUT_NAME],
                           output_names=[OUTPUT_NAME], dynamic_axes=dynamic_axes)
        else:
            ms.export(net, spec, file_name=str(path), file_format=file_format)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise MindzooError(f"{file_format} export to {path} failed: {first_line(exc)}") from None
    if not path.is_file():  # mindspore.onnx.export logs a failed write and returns normally
        raise MindzooError(f"{file_format} export did not produce {path} (disk full or not writable?)")
    if file_format == "ONNX" and dynamic_batch:
        make_onnx_batch_dynamic(path)
    return path


def fold_batchnorm_checked(net: Any, input_shape: Tuple[int, ...], tolerance: float = VERIFY_TOLERANCE,
                           seed: int = VERIFY_SEED) -> Tuple[int, float]:
    """Fold ``net``'s BatchNorms in place (``mindzoo.models.fold``) and prove it before anything is exported:
    logits on random input before and after must agree within ``tolerance`` (:func:`relative_error`).
    Returns (BNs folded, that relative error)."""
    import mindspore as ms

    from mindzoo.models.fold import fold_batchnorm

    x = ms.Tensor(random_input(input_shape, seed))
    before = net(x).asnumpy()
    folded = fold_batchnorm(net)
    error = relative_error(net(x).asnumpy(), before)
    if not error <= tolerance:
        raise MindzooError(f"folding BatchNorm changed the logits by {error:.3g} (relative, tolerance "
                           f"{tolerance:g}); rerun with --fold_bn=False and report this network")
    return folded, error


def export_and_verify(
    net: Any,
    path: PathLike,
    file_format: str,
    batch_size: int,
    geometry: EvalGeometry,
    dynamic_batch: bool = False,
    net_name: str = "",
    tolerance: float = VERIFY_TOLERANCE,
    extra_info: Optional[Mapping[str, Any]] = None,
) -> ExportResult:
    """Export at ``geometry``'s crop size under a temp name, verify it against ``net``, move it into place,
    write the sidecar (plus ``extra_info``: what was done to the network before export)."""
    path = Path(path)
    height, width = geometry.crop_height, geometry.crop_width
    file_format = normalize_format(file_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    input_shape = (batch_size, 3, height, width)
    try:
        _remove(tmp)
        export_network(net, tmp, file_format, input_shape, dynamic_batch)
        shapes = verify_shapes(batch_size, height, width, dynamic_batch)
        errors = verify_export(tmp, file_format, net, shapes, dynamic_batch, tolerance, label=str(path))
        if file_format == "AIR":
            input_io = (INPUT_NAME, list(input_shape))
            output_io = (OUTPUT_NAME, [batch_size, int(getattr(net, "num_classes", 0))])
        else:
            input_io, output_io = model_io(tmp, file_format)
        os.replace(tmp, path)  # replaces a read-only old export too: rename needs only the directory
    finally:
        _remove(tmp)
    num_classes = int(getattr(net, "num_classes", output_io[1][-1]))
    record = sidecar_record(net_name, num_classes, geometry, file_format, path.name, input_io, output_io,
                            dynamic_batch, errors, tolerance)
    record.update(extra_info or {})
    sidecar = sidecar_path(path)
    write_sidecar(sidecar, record)
    return ExportResult(path, sidecar, file_format, input_io[1], output_io[1], dict(errors))

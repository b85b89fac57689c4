"""The export sidecar ``NAME.json``: the one record of what a deployment needs besides the graph.

export.py writes it (:func:`sidecar_record` + :func:`write_sidecar`); infer.py, ``run_infer_310.sh``'s plan and the
benchmarks read it back (:func:`read_sidecar`). Its ``preprocess`` entry is the eval geometry as resolved at export
time (:meth:`mindzoo.data.geometry.EvalGeometry.to_sidecar`), so a deployment never re-derives it.

Only the standard library is imported here: deployment tools read it without MindSpore.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from mindzoo.data.geometry import EvalGeometry
from mindzoo.errors import MindzooError, UsageError, first_line

PathLike = Union[str, Path]
SIDECAR_SUFFIX = ".json"
#: The ``format`` a MindSpore Lite export records (``NAME_lite.mindir`` + ``NAME_lite.json``).
LITE_FORMAT = "MINDIR_LITE"


def sidecar_path(model_path: PathLike) -> Path:
    """``resnet50.mindir`` -> ``resnet50.json``."""
    return Path(model_path).with_suffix(SIDECAR_SUFFIX)


def sidecar_record(
    net_name: str,
    num_classes: int,
    geometry: EvalGeometry,
    file_format: str,
    model_file: str,
    input_io: Tuple[str, List[int]],
    output_io: Tuple[str, List[int]],
    dynamic_batch: bool,
    errors: Mapping[int, float],
    tolerance: float,
) -> Dict[str, Any]:
    """Everything a deployment needs besides the graph; ``preprocess`` is the eval geometry, as resolved."""
    height, width = int(input_io[1][2]), int(input_io[1][3])
    if (height, width) != (geometry.crop_height, geometry.crop_width):
        raise MindzooError(f"the exported input is {height}x{width} but the eval geometry crops "
                           f"{geometry.crop_height}x{geometry.crop_width}")
    return {
        "net_name": net_name,
        "num_classes": int(num_classes),
        "format": file_format,
        "model_file": model_file,
        "dynamic_batch": bool(dynamic_batch),
        "input": {"name": input_io[0], "shape": [int(d) for d in input_io[1]], "dtype": "float32",
                  "layout": "NCHW", "color": "RGB"},
        "output": {"name": output_io[0], "shape": [int(d) for d in output_io[1]], "kind": "logits"},
        "preprocess": geometry.to_sidecar(),
        "verify": {"tolerance": tolerance, "max_relative_error": {str(b): e for b, e in errors.items()}},
    }


def write_sidecar(path: Path, record: Mapping[str, Any]) -> None:
    """Write ``path`` atomically: a reader never sees half a sidecar."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_sidecar(model_path: PathLike) -> Optional[Dict[str, Any]]:
    """The sidecar of an exported model, or None if there is none; a broken one is an error.

    ``NAME.mindir`` and ``NAME.onnx`` share ``NAME.json`` and the last export wins (its ``model_file``
    says which); the preprocessing it records is the model's, the same for either format.
    """
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read export sidecar {path}: {first_line(exc)}") from None
    if not isinstance(data, dict) or "preprocess" not in data or "input" not in data:
        raise UsageError(f"export sidecar {path} lacks 'input'/'preprocess'; re-export the model")
    return data


def sidecar_geometry(record: Mapping[str, Any], where: str) -> EvalGeometry:
    """The eval geometry a sidecar recorded (read by :func:`read_sidecar`); a malformed one is a one-line
    ConfigError naming ``where``."""
    return EvalGeometry.from_sidecar(record["preprocess"], where=where)

"""MindSpore Lite export: the verified ONNX export, converted by MindSpore Lite's converter, checked through
MindSpore's C++ API against the live network.

``export.py --file_format=MINDIR_LITE --file_name NAME`` writes ``NAME_lite.mindir`` and ``NAME_lite.json``:
a MindSpore Lite model (the MINDIR that MindSpore Lite's converter writes, what ``Model::Build(path, kMindIR,
context)`` reads; Lite cloud-inference users know it as ``converter_lite --saveType=MINDIR`` output). Its own
name, so it never shares a file or a sidecar with ``NAME.mindir`` / ``NAME.onnx``, whose MindSpore 2.10 MINDIR
MindSpore Lite 2.0.0 cannot read.

Why by way of ONNX: the only MindSpore Lite on a package registry is the ``mindspore-lite==2.0.0`` wheel, whose
converter refuses MindSpore 2.10 MINDIR input but converts mindzoo's ONNX export. The C++ side lives in
``ascend310_infer`` (``build.sh mindspore_lite`` fetches the wheel once and builds ``convert_lite``, the converter
tool, and ``predict_tensor``, the harness's MindSpore backend on one raw tensor); this module drives them:
ONNX export (verified with ONNX Runtime) -> ``convert_lite`` -> ``predict_tensor`` on the same random inputs as
the network -> max relative error in the sidecar, whose ``format`` (``MINDIR_LITE``) routes deployment
(``mindzoo.deploy.infer_plan``) to the C++ MindSpore backend.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from mindzoo.data.geometry import EvalGeometry
from mindzoo.errors import MindzooError
from mindzoo.deploy.sidecar import LITE_FORMAT, sidecar_path, sidecar_record, write_sidecar
from mindzoo.export.exporter import INPUT_NAME, OUTPUT_NAME, ExportResult, export_and_verify
from mindzoo.export.verify import VERIFY_TOLERANCE, random_input, relative_error, verify_shapes

logger = logging.getLogger(__name__)

LITE_BACKEND = "mindspore_lite"  # build.sh's name: the mindspore backend built against MindSpore Lite
INFER_DIR = Path(__file__).resolve().parents[3] / "ascend310_infer"
BUILD_SH = INFER_DIR / "src" / "build.sh"
BUILD_TIMEOUT_S = 3600  # the first build downloads the 169 MB wheel
TOOL_TIMEOUT_S = 1800
OUTPUT_LINE = re.compile(r"^output (float32|float16|float64) ([0-9,]+)$", re.M)
LATENCY_LINE = re.compile(r"^latency median ([0-9.e+-]+) ms, mean ([0-9.e+-]+) ms of (\d+) calls$", re.M)


@dataclass(frozen=True)
class LiteTools:
    """The built MindSpore Lite tools (``ascend310_infer/build/mindspore_lite/``)."""

    harness: Path  # main: the C++ harness with the MindSpore backend
    convert: Path  # convert_lite
    predict: Path  # predict_tensor


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def build_lite_tools(build_dir: Optional[Path] = None) -> LiteTools:
    """Build (incrementally) the MindSpore Lite harness and tools; the first call fetches the wheel from PyPI."""
    env = dict(os.environ)
    if build_dir is not None:
        env["BUILD_DIR"] = str(build_dir)
    if not BUILD_SH.is_file():
        raise MindzooError(f"{BUILD_SH} not found: MINDIR_LITE export needs the mindzoo source tree's "
                           f"ascend310_infer/")
    logger.info("building the MindSpore Lite tools (build.sh %s; the first build downloads the mindspore-lite "
                "2.0.0 wheel, 169 MB, from PyPI)", LITE_BACKEND)
    proc = subprocess.run(["bash", str(BUILD_SH), LITE_BACKEND], capture_output=True, text=True, env=env,
                          timeout=BUILD_TIMEOUT_S)
    if proc.returncode != 0:
        raise MindzooError(f"cannot build the MindSpore Lite tools (build.sh {LITE_BACKEND}, exit "
                           f"{proc.returncode}): {_last_line(proc.stderr)}")
    harness = Path(_last_line(proc.stdout))
    tools = LiteTools(harness, harness.with_name("convert_lite"), harness.with_name("predict_tensor"))
    if not tools.convert.is_file():
        raise MindzooError(f"build.sh {LITE_BACKEND} built no {tools.convert.name}: the MindSpore Lite package "
                           f"({os.environ.get('MINDSPORE_PATH') or 'the mindspore-lite wheel'}) has no "
                           f"lib/libmindspore_converter.so")
    return tools


def convert_onnx(tools: LiteTools, onnx_path: Path, output: Path) -> None:
    """ONNX -> MindSpore Lite model at exactly ``output``; a refusal is one line naming the op and Lite's reason."""
    proc = subprocess.run([str(tools.convert), "--onnx", str(onnx_path), "--output", str(output)],
                          capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    if proc.returncode != 0:
        raise MindzooError(_last_line(proc.stderr).removeprefix("convert_lite: error: "))


@dataclass(frozen=True)
class Prediction:
    logits: np.ndarray
    median_ms: float
    mean_ms: float
    calls: int
    backend: str  # "NAME: DESCRIPTION" as the backend reports itself


def predict_tensor(binary: Path, model: Path, x: np.ndarray, threads: int = 0, warmup: int = 0,
                   repeat: int = 1) -> Prediction:
    """The harness's backend (``binary`` = a ``predict_tensor`` build) on ``x``; raises a one-line error."""
    with tempfile.TemporaryDirectory(prefix="mindzoo-predict-") as work:
        x_path, y_path = Path(work) / "x.bin", Path(work) / "y.bin"
        np.ascontiguousarray(x, dtype=np.float32).tofile(x_path)
        proc = subprocess.run([str(binary), "--model_path", str(model), "--input", str(x_path),
                               "--shape", ",".join(str(d) for d in x.shape), "--output", str(y_path),
                               "--threads", str(threads), "--warmup", str(warmup), "--repeat", str(repeat)],
                              capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
        if proc.returncode != 0:
            raise MindzooError(_last_line(proc.stderr).removeprefix("error: "))
        output, latency = OUTPUT_LINE.search(proc.stdout), LATENCY_LINE.search(proc.stdout)
        backend = re.search(r"^backend (.*)$", proc.stdout, re.M)
        if not (output and latency and backend):
            raise MindzooError(f"{binary.name} printed no output/latency line: {_last_line(proc.stdout)}")
        shape = [int(d) for d in output[2].split(",")]
        logits = np.fromfile(y_path, dtype=output[1]).reshape(shape)
    return Prediction(logits, float(latency[1]), float(latency[2]), int(latency[3]), backend[1])


def verify_lite(tools: LiteTools, model: Path, net: Any, shapes: Sequence[Tuple[int, ...]],
                tolerance: float = VERIFY_TOLERANCE, label: str = "") -> Tuple[Dict[int, float], str]:
    """Lite model through the C++ API vs ``net`` on export's random inputs: ({batch: relative error}, backend)."""
    from mindspore import Tensor

    label = label or str(model)
    errors: Dict[int, float] = {}
    backend = ""
    for shape in shapes:
        x = random_input(shape)
        expected = net(Tensor(x)).asnumpy()
        try:
            prediction = predict_tensor(tools.predict, model, x)
        except MindzooError as exc:
            raise MindzooError(f"MindSpore's C++ API refused the MindSpore Lite model {label}: {exc}") from None
        backend = prediction.backend
        err = relative_error(prediction.logits, expected)
        errors[int(shape[0])] = err
        logger.info("verify %s %s through %s: input %s, max relative error %.3g (tolerance %.0e)", LITE_FORMAT,
                    Path(label).name, backend, list(shape), err, tolerance)
        if not err <= tolerance:
            raise MindzooError(f"MindSpore Lite model {label} disagrees with the network at batch {shape[0]}: "
                               f"max relative error {err:.3g} > {tolerance:.0e}")
    return errors, backend


def export_lite(
    net: Any,
    path: Path,
    batch_size: int,
    geometry: EvalGeometry,
    dynamic_batch: bool = False,
    net_name: str = "",
    extra_info: Optional[Mapping[str, Any]] = None,
    tools: Optional[LiteTools] = None,
) -> ExportResult:
    """Write and verify ``path`` (``NAME_lite.mindir``) and its sidecar; the ONNX step leaves no file behind."""
    path = Path(path)
    tools = tools or build_lite_tools()
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.stem}.tmp-", dir=path.parent))
    try:
        onnx = export_and_verify(net, work / f"{path.stem}.onnx", "ONNX", batch_size, geometry, dynamic_batch,
                                 net_name)
        converted = work / path.name
        convert_onnx(tools, onnx.path, converted)
        shapes = verify_shapes(batch_size, geometry.crop_height, geometry.crop_width, dynamic_batch)
        errors, backend = verify_lite(tools, converted, net, shapes, label=str(path))
        os.replace(converted, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    num_classes = int(getattr(net, "num_classes", onnx.output_shape[-1]))
    info = sidecar_record(net_name, num_classes, geometry, LITE_FORMAT, path.name, (INPUT_NAME, onnx.input_shape),
                          (OUTPUT_NAME, onnx.output_shape), dynamic_batch, errors, VERIFY_TOLERANCE)
    info["runtime"] = {"backend": LITE_BACKEND, "verified_with": backend, "converted_from": "ONNX",
                       "onnx_max_relative_error": {str(b): e for b, e in onnx.errors.items()}}
    info.update(extra_info or {})
    sidecar = sidecar_path(path)
    write_sidecar(sidecar, info)
    return ExportResult(path, sidecar, LITE_FORMAT, onnx.input_shape, onnx.output_shape, dict(errors))

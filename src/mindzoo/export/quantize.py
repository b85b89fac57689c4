"""INT8 export: ONNX Runtime post-training static quantization of the verified ONNX export, checked against it.

``export.py --file_format=ONNX --quantize=int8 --calib_data=DIR`` takes the network export.py would write (BN
folded and checked first), exports it to ONNX under a temporary name and verifies it against the live network as
every export is, then:

1. converts it from opset 11 (what MindSpore writes) to opset 13: per-channel QDQ needs ``axis`` on
   ``DequantizeLinear``, which opset 11 lacks (ONNX Runtime refuses such a file at load time);
2. runs ``quant_pre_process`` (shape inference and graph optimisation before quantization, as ONNX Runtime
   advises) and ``quantize_static``: QDQ format, int8 weights per output channel, uint8 activations, calibrated
   with ``calib_method`` (minmax / entropy / percentile) on ``calib_images`` real images;
3. runs the INT8 file and the float one on held-out images (never the calibration ones) and records their top-1
   agreement and logit error in the sidecar; agreement under ``int8_min_agreement`` is an error, not a file.

Calibration and held-out images come from ``calib_data`` (an ImageNet root - its train/, else its val/ - a split
folder, or a flat image folder), listed as the C++ harness lists a dataset (:func:`mindzoo.data.layout.list_images`),
drawn round-robin across classes in a seeded order, and preprocessed by :func:`mindzoo.data.preprocess_image` with
the export's :class:`~mindzoo.data.geometry.EvalGeometry`: exactly what deployment feeds the model.

The INT8 file has its own sidecar (``NAME_int8.json`` by default): the same deployment entries as a float export's
plus ``quantization``. A float export never shares a sidecar with an INT8 one (:func:`check_sidecar_owner`).
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from mindzoo.data.geometry import EvalGeometry
from mindzoo.errors import MindzooError, UsageError, first_line
from mindzoo.deploy.runtimes import model_io, onnx_session, run_onnx
from mindzoo.deploy.sidecar import read_sidecar, sidecar_path, sidecar_record, write_sidecar
from mindzoo.export.exporter import ExportResult, export_network
from mindzoo.export.verify import VERIFY_TOLERANCE, check_onnx_batch_dims, relative_error, verify_export, verify_shapes
from mindzoo.data.layout import ImageEntry, list_images

logger = logging.getLogger("mindzoo.export")

PathLike = Union[str, Path]
INT8 = "int8"
INT8_SUFFIX = "_int8"
QDQ_OPSET = 13  # the first opset whose DequantizeLinear takes ``axis`` (per-channel weights)
CALIB_METHODS = ("minmax", "entropy", "percentile")
CALIB_SEED = 0
CALIB_BATCH = 8  # images per calibration call when the batch dimension is dynamic
SPLIT_PREFERENCE = ("train", "val")  # inside an ImageNet root: calibrate from train/ if it is there
QUANTIZED_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "QGemm"})
ROUTES = ("INT8 here is ONNX Runtime's static quantization: use --file_format=ONNX; an INT8 model for Ascend "
          "comes from AMCT (CANN's post-training quantization) on an Ascend host")


@dataclass(frozen=True)
class QuantizeRequest:
    """What ``--quantize=int8`` asks for, checked before any network is built; ``calibration`` and ``held_out`` are
    the images drawn for it (:func:`draw_images`), listed once."""

    calib_dir: Path
    calib_images: int
    calib_method: str
    verify_images: int
    min_agreement: float
    calibration: Tuple[Path, ...] = ()
    held_out: Tuple[Path, ...] = ()


@dataclass
class QuantizedExportResult(ExportResult):
    """An INT8 export; ``agreement`` is its top-1 agreement with the float model on ``held_out`` images."""

    agreement: float = 0.0
    logit_error: float = 0.0
    held_out: int = 0
    quantization: Dict[str, Any] = field(default_factory=dict)


def parse_quantize(value: str) -> bool:
    """True for ``int8``, False for "" (float32); anything else is a usage error."""
    text = str(value or "").strip().lower()
    if text not in ("", INT8):
        raise UsageError(f"quantize must be '' (float32) or int8, got {value!r}")
    return text == INT8


def calibration_dir(calib_data: str) -> Path:
    """The folder to draw from: ``calib_data/train`` (else ``/val``) of an ImageNet root, else ``calib_data``."""
    if not calib_data:
        raise UsageError("--quantize=int8 needs calibration images: --calib_data=DIR (an ImageNet root, its train/ "
                         "or val/ folder, or a folder of images)")
    root = Path(calib_data)
    if not root.is_dir():
        raise UsageError(f"calib_data {root} is not a directory; give an ImageNet root, its train/ or val/ folder, "
                         f"or a folder of images")
    for split in SPLIT_PREFERENCE:
        if (root / split).is_dir():
            return root / split
    return root


def check_quantize_request(cfg: Mapping[str, Any], file_format: str) -> Optional[QuantizeRequest]:
    """None for a float export; otherwise the checked INT8 request (one-line UsageErrors, before any work)."""
    if not parse_quantize(cfg["quantize"]):
        return None
    if file_format != "ONNX":
        raise UsageError(f"--quantize=int8 does not write {file_format}: {ROUTES}")
    if cfg["calib_method"] not in CALIB_METHODS:
        raise UsageError(f"calib_method must be one of {', '.join(CALIB_METHODS)}, got {cfg['calib_method']!r}")
    for key in ("calib_images", "int8_verify_images"):
        if cfg[key] < 1:
            raise UsageError(f"{key} must be >= 1, got {cfg[key]}")
    if not 0.0 <= cfg["int8_min_agreement"] <= 1.0:
        raise UsageError(f"int8_min_agreement must be in [0, 1], got {cfg['int8_min_agreement']}")
    request = QuantizeRequest(calibration_dir(cfg["calib_data"]), int(cfg["calib_images"]), cfg["calib_method"],
                              int(cfg["int8_verify_images"]), float(cfg["int8_min_agreement"]))
    calibration, held_out = draw_images(request)  # an empty folder or too few images fail here
    return replace(request, calibration=tuple(calibration), held_out=tuple(held_out))


def int8_file_name(file_name: str, net_name: str) -> str:
    """``--file_name`` as given; the default name (the net's) gets the ``_int8`` suffix."""
    return file_name or f"{net_name}{INT8_SUFFIX}"


def check_sidecar_owner(model_path: PathLike, quantized: bool) -> None:
    """An INT8 export and a float one never share ``NAME.json``: refuse to overwrite the other kind's sidecar."""
    existing = read_sidecar(model_path)
    if existing is None or ("quantization" in existing) == quantized:
        return
    owner = existing.get("model_file", "?")
    if quantized:
        raise UsageError(f"{sidecar_path(model_path)} is the sidecar of the float export {owner}; an INT8 export "
                         f"keeps its own: choose another --file_name (the default adds '{INT8_SUFFIX}')")
    raise UsageError(f"{sidecar_path(model_path)} is the sidecar of the INT8 export {owner}; choose another "
                     f"--file_name for this float export")


def interleave_classes(entries: Sequence[ImageEntry], seed: int = CALIB_SEED) -> List[ImageEntry]:
    """Every image once, round-robin over classes (sorted), each class in a seeded random order."""
    by_class: Dict[str, List[ImageEntry]] = {}
    for entry in entries:
        by_class.setdefault(entry.class_name, []).append(entry)
    rng = np.random.default_rng(seed)
    queues = [[group[i] for i in rng.permutation(len(group))] for _, group in sorted(by_class.items())]
    longest = max((len(queue) for queue in queues), default=0)
    return [queue[i] for i in range(longest) for queue in queues if i < len(queue)]


def draw_images(request: QuantizeRequest) -> Tuple[List[Path], List[Path]]:
    """(calibration images, held-out images): disjoint, deterministic, balanced across classes."""
    folder = request.calib_dir
    try:
        entries = list_images(str(folder))
    except UsageError:
        raise UsageError(f"no images (.jpeg .jpg .png .bmp) in calib_data {folder}, nor in class folders under it; "
                         f"give an ImageNet root, its train/ or val/ folder, or a folder of images") from None
    ordered = [folder / entry.rel_path for entry in interleave_classes(entries)]
    if len(ordered) < request.calib_images:
        raise UsageError(f"calib_data {folder} has {len(ordered)} images, fewer than calib_images="
                         f"{request.calib_images}: lower --calib_images or add images")
    if len(ordered) == request.calib_images:
        raise UsageError(f"calib_data {folder} has {len(ordered)} images and calib_images={request.calib_images} "
                         f"uses them all, leaving none held out to check the INT8 model: lower --calib_images")
    calibration = ordered[:request.calib_images]
    held_out = ordered[request.calib_images:request.calib_images + request.verify_images]
    return calibration, held_out


def image_batches(images: Sequence[Path], geometry: EvalGeometry, batch: Optional[int]) -> Iterator[np.ndarray]:
    """Preprocessed (N, 3, H, W) float32 batches; a fixed ``batch`` pads the last one by repeating images."""
    from mindzoo.data.transforms import preprocess_image

    step = batch or CALIB_BATCH
    for start in range(0, len(images), step):
        chunk = list(images[start:start + step])
        if batch:
            chunk += [images[i % len(images)] for i in range(batch - len(chunk))]
        yield np.stack([preprocess_image(path, geometry) for path in chunk]).astype(np.float32)


def _calibration_reader(input_name: str, batches: Iterator[np.ndarray]) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        """Feeds ``quantize_static`` one preprocessed batch per call, lazily (ImageNet-size sets fit in memory)."""

        def get_next(self) -> Optional[Dict[str, np.ndarray]]:
            batch = next(batches, None)
            return None if batch is None else {input_name: batch}

    return Reader()


def _calibration_method(name: str) -> Any:
    from onnxruntime.quantization import CalibrationMethod

    return {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile}[name]


def quantize_onnx(float_path: Path, out_path: Path, calibration: Sequence[Path], geometry: EvalGeometry,
                  batch: Optional[int], method: str, work_dir: Path) -> None:
    """Opset 13, ``quant_pre_process``, then ``quantize_static`` (QDQ, per-channel int8 weights, uint8 activations).

    ``batch`` is the model's fixed batch, None for a dynamic one.
    """
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    converted, prepared = work_dir / "opset13.onnx", work_dir / "prepared.onnx"
    try:
        model = version_converter.convert_version(onnx.load(str(float_path)), QDQ_OPSET)
        onnx.save(model, str(converted))
        quant_pre_process(str(converted), str(prepared))
        input_name = model.graph.input[0].name
        quantize_static(str(prepared), str(out_path), _calibration_reader(input_name,
                                                                           image_batches(calibration, geometry, batch)),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=_calibration_method(method))
    except MindzooError:
        raise
    except Exception as exc:  # onnx / onnxruntime raise their own exception types
        raise MindzooError(f"INT8 quantization of {float_path.name} failed: {first_line(exc)}") from None


def quantized_ops(path: PathLike) -> Dict[str, int]:
    """{op type: count} of the quantization ops in an ONNX file, and ``int8_initializers``: int8 weight tensors."""
    import onnx

    model = onnx.load(str(path))
    counts: Dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type in QUANTIZED_OPS:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    counts["int8_initializers"] = sum(init.data_type == onnx.TensorProto.INT8 for init in model.graph.initializer)
    return counts


def compare_int8(float_path: Path, int8_path: Path, held_out: Sequence[Path], geometry: EvalGeometry,
                 batch: Optional[int], label: str) -> Dict[str, Any]:
    """Top-1 agreement and logit error of the INT8 model against the float one on ``held_out`` images."""
    float_session, int8_session = onnx_session(float_path, label), onnx_session(int8_path, label)
    reference, got = [], []
    for x in image_batches(held_out, geometry, batch):
        reference.append(run_onnx(float_session, x, label))
        got.append(run_onnx(int8_session, x, label))
    reference_logits = np.concatenate(reference)[:len(held_out)]
    int8_logits = np.concatenate(got)[:len(held_out)]
    agreement = float(np.mean(reference_logits.argmax(axis=1) == int8_logits.argmax(axis=1)))
    return {"images": len(held_out), "top1_agreement": agreement,
            "max_relative_error": relative_error(int8_logits, reference_logits),
            "mean_abs_error": float(np.abs(int8_logits - reference_logits).mean())}


def check_agreement(check: Mapping[str, Any], request: QuantizeRequest, label: str) -> None:
    """An INT8 model that disagrees with the float one too often is an error naming the numbers and what to try."""
    if check["top1_agreement"] >= request.min_agreement:
        return
    others = ", ".join(m for m in CALIB_METHODS if m != request.calib_method)
    raise MindzooError(
        f"INT8 {label} agrees with the float model on top-1 for {100 * check['top1_agreement']:.1f}% of "
        f"{check['images']} held-out images (< {100 * request.min_agreement:.0f}%; max relative logit error "
        f"{check['max_relative_error']:.3g}); nothing written: try more calibration images (--calib_images, now "
        f"{request.calib_images}) or another --calib_method ({others})")


def export_int8(net: Any, path: PathLike, batch_size: int, geometry: EvalGeometry, dynamic_batch: bool,
                net_name: str, request: QuantizeRequest, extra_info: Optional[Mapping[str, Any]] = None
                ) -> QuantizedExportResult:
    """Export ``net`` to a verified float ONNX, quantize it, check it on held-out images, move it to ``path``, write
    its sidecar. Nothing is left behind on failure; an existing file at ``path`` is replaced only by a checked one."""
    import onnxruntime

    path = Path(path)
    calibration, held_out = request.calibration, request.held_out
    if not calibration:
        calibration, held_out = draw_images(request)
    height, width = geometry.crop_height, geometry.crop_width
    fixed_batch = None if dynamic_batch else batch_size
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}.int8-") as tmp:
        work = Path(tmp)
        float_path, int8_path = work / "float.onnx", work / "int8.onnx"
        export_network(net, float_path, "ONNX", (batch_size, 3, height, width), dynamic_batch)
        errors = verify_export(float_path, "ONNX", net, verify_shapes(batch_size, height, width, dynamic_batch),
                               dynamic_batch, VERIFY_TOLERANCE, label=f"{path} (float, before quantization)")
        logger.info("quantizing to INT8: %d calibration images from %s (%s), QDQ, per-channel int8 weights",
                    len(calibration), request.calib_dir, request.calib_method)
        quantize_onnx(float_path, int8_path, calibration, geometry, fixed_batch, request.calib_method, work)
        ops = quantized_ops(int8_path)
        if not ops.get("QuantizeLinear") or not ops["int8_initializers"]:
            raise MindzooError(f"quantizing {path} produced no quantized ops or int8 weights ({ops})")
        check_onnx_batch_dims(int8_path, dynamic_batch, str(path))
        check = compare_int8(float_path, int8_path, held_out, geometry, fixed_batch, str(path))
        logger.info("INT8 vs float on %d held-out images: top-1 agreement %.2f%%, max relative logit error %.3g",
                    check["images"], 100 * check["top1_agreement"], check["max_relative_error"])
        check_agreement(check, request, str(path))
        input_io, output_io = model_io(int8_path, "ONNX")
        os.replace(int8_path, path)  # replaces a read-only old export too
    quantization = {
        "dtype": INT8, "format": "QDQ", "opset": QDQ_OPSET, "per_channel": True, "weight_type": "int8",
        "activation_type": "uint8", "calib_method": request.calib_method, "calib_images": len(calibration),
        "calib_data": str(request.calib_dir), "ops": ops, "onnxruntime": onnxruntime.__version__,
        "verify_int8": {**check, "held_out_from": str(request.calib_dir),
                        "min_agreement": request.min_agreement},
    }
    num_classes = int(getattr(net, "num_classes", output_io[1][-1]))
    info = sidecar_record(net_name, num_classes, geometry, "ONNX", path.name, input_io, output_io, dynamic_batch,
                          errors, VERIFY_TOLERANCE)
    info.update(extra_info or {})
    info["quantization"] = quantization
    sidecar = sidecar_path(path)
    write_sidecar(sidecar, info)
    logger.info("wrote %s (INT8, input %s, output %s; top-1 agreement with float %.2f%% on %d held-out images) and %s",
                path, input_io[1], output_io[1], 100 * check["top1_agreement"], check["images"], sidecar)
    return QuantizedExportResult(path, sidecar, "ONNX", input_io[1], output_io[1], dict(errors),
                                 agreement=check["top1_agreement"], logit_error=check["max_relative_error"],
                                 held_out=check["images"], quantization=quantization)

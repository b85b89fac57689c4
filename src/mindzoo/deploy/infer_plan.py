"""What ``scripts/run_infer_310.sh`` runs: backend, device and preprocessing, from the model and its ``NAME.json``.

    python -m mindzoo.deploy.infer_plan MODEL [--device_type T] [--resize R] [--crop C]

Prints ``KEY=value`` lines for the shell script (BACKEND, DEVICE_TYPE, RESIZE, CROP, MEAN, STD, SIZES), warnings
on stderr, and exits 2 with one ``run_infer_310.sh: error: ...`` line for anything the harness cannot do.

Deployment reads what export wrote: ``NAME.json`` next to ``NAME.onnx`` / ``NAME.mindir`` (export.py's sidecar)
gives ``preprocess.resize_size``, ``crop_size``, ``mean``/``std``, ``interpolation`` and, where present,
``resize_edge`` and ``resize_backend``. Explicit sizes (RESIZE/CROP arguments or environment variables) win; a
crop given alone gets ``int(crop / crop_pct)`` with the sidecar's crop_pct (:mod:`mindzoo.data.geometry`).
Backends: ``.onnx`` -> onnxruntime (CPU); ``.mindir`` -> the MindSpore C++ API on Ascend310/Ascend310P, the
MindSpore runtime through its Python API (embedded in the harness) on CPU; a sidecar with format ``MINDIR_LITE``
(``export.py --file_format=MINDIR_LITE``) -> the MindSpore C++ API on MindSpore Lite (``mindspore_lite`` on CPU).
Without a DEVICE_TYPE, a ``.mindir`` runs on Ascend310 where the Ascend driver's device node exists, else on CPU.

numpy and the standard library only (no MindSpore), like ``postprocess.py``.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from mindzoo.data.geometry import IMAGENET_MEAN, IMAGENET_STD, PIL, EvalGeometry, resize_for_crop
from mindzoo.errors import MindzooError, UsageError
from mindzoo.deploy.sidecar import LITE_FORMAT, read_sidecar, sidecar_geometry, sidecar_path

DEVICE_TYPES = ("CPU", "Ascend310", "Ascend310P")
ASCEND_DEVICE_NODE = "/dev/davinci_manager"  # created by the Ascend driver on Atlas hosts
SUPPORTED_INTERPOLATION = "bilinear"  # OpenCV INTER_LINEAR = MindSpore's Inter.BILINEAR, bit for bit
SUPPORTED_RESIZE_EDGE = "shorter"
# Measured with MindSpore 2.10's vision.Resize (= OpenCV INTER_LINEAR) against PIL's BILINEAR on three natural
# photos (matplotlib's grace_hopper.jpg, scikit-learn's china.jpg and flower.jpg), shorter side to 256.
PIL_RESIZE_DIFFERENCE = "0.8-4.0 grey levels on average (up to 80) at resize 256 on three natural photos"


@dataclass(frozen=True)
class InferPlan:
    backend: str
    device_type: str
    resize: int
    crop: int
    mean: Tuple[float, float, float]  # 0-1 scale, as the sidecar records them
    std: Tuple[float, float, float]
    sizes_from: str
    reason: str = ""  # why this backend runs the model, printed by run_infer_310.sh

    def shell_lines(self) -> List[str]:
        """KEY=value lines; mean/std on the harness's 0-255 scale."""
        def scaled(values: Sequence[float]) -> str:
            return ",".join(repr(255.0 * v) for v in values)

        return [f"BACKEND={self.backend}", f"DEVICE_TYPE={self.device_type}", f"RESIZE={self.resize}",
                f"CROP={self.crop}", f"MEAN={scaled(self.mean)}", f"STD={scaled(self.std)}",
                f"SIZES={self.sizes_from}", f"REASON={self.reason}"]


def choose_backend(model: Path, device_type: str, ascend_present: bool) -> Tuple[str, str]:
    """(backend, device type) for a model file and the DEVICE_TYPE asked for ("" = not given)."""
    suffix = model.suffix.lower()
    if device_type == "Ascend":
        device_type = "Ascend310"
    if device_type and device_type not in DEVICE_TYPES:
        raise UsageError(f"DEVICE_TYPE must be CPU, Ascend310 or Ascend310P, got '{device_type}'")
    if suffix == ".onnx":
        if device_type not in ("", "CPU"):
            raise UsageError(f"an .onnx model runs on the ONNX Runtime CPU backend; use DEVICE_TYPE CPU or a .mindir "
                             f"model for {device_type}")
        return "onnxruntime", "CPU"
    if suffix == ".mindir":
        device = device_type or ("Ascend310" if ascend_present else "CPU")
        return ("mindspore_python" if device == "CPU" else "mindspore"), device
    raise UsageError(f"cannot tell the backend from the model's extension: {model} (expected .onnx or .mindir)")


def lite_backend(where: str, device: str) -> Tuple[str, str]:
    """(backend, reason) for a MindSpore Lite model on ``device``, whose sidecar ``where`` says so."""
    if device == "CPU":
        return "mindspore_lite", (f"{where} says format {LITE_FORMAT}: a MindSpore Lite model, run by MindSpore's "
                                  f"C++ API (Model::Build on a CPUDeviceInfo) from the mindspore-lite package")
    return "mindspore", (f"{where} says format {LITE_FORMAT}: a MindSpore Lite model, run by MindSpore's C++ API on "
                         f"{device} (MINDSPORE_PATH: the MindSpore Lite build for the device)")


def backend_reason(backend: str, model: Path) -> str:
    """Why ``choose_backend`` picked ``backend`` for ``model`` (a file without a MINDIR_LITE sidecar)."""
    if backend == "onnxruntime":
        return f"{model.name} is ONNX: ONNX Runtime's C++ API"
    if backend == "mindspore_python":
        return (f"{model.name} is a MindSpore MINDIR on CPU: no registry package has a MindSpore C++ runtime that "
                f"reads MindSpore 2.10 MINDIR (mindspore-lite 2.0.0 reads mind_ir_version <= 1), so MindSpore's "
                f"runtime through its Python API, embedded in the harness (export with --file_format=MINDIR_LITE "
                f"for the C++ API)")
    return f"{model.name} is a MindSpore MINDIR on Ascend: MindSpore's C++ API (the device's MindSpore package)"


def _positive(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"{name} must be an integer >= 1, got '{value}'")
    return int(value)


def check_reproducible(geometry: EvalGeometry, where: str) -> Optional[str]:
    """A one-line warning for what the harness reproduces only approximately; UsageError for what it cannot.

    ``geometry`` is already validated (:func:`mindzoo.deploy.sidecar.sidecar_geometry`): its values are ones mindzoo knows.
    """
    if geometry.interpolation.lower() != SUPPORTED_INTERPOLATION:
        raise UsageError(f"{where}: preprocess.interpolation '{geometry.interpolation}': the harness resizes "
                         f"bilinear only (MindSpore's Inter.BILINEAR, bit for bit); evaluate this model with eval.py "
                         f"or re-export it with bilinear interpolation")
    if geometry.resize_edge != SUPPORTED_RESIZE_EDGE:
        raise UsageError(f"{where}: preprocess.resize_edge '{geometry.resize_edge}': the harness resizes the shorter "
                         f"edge only (resize_edge 'shorter'); evaluate this model with eval.py")
    if geometry.resize_backend == PIL:
        return (f"warning: {where}: preprocess.resize_backend 'pil' (weights evaluated with PIL's antialiased "
                f"bilinear resize, as eval.py and infer.py do for them); the harness resizes with OpenCV bilinear, "
                f"which differs from PIL by {PIL_RESIZE_DIFFERENCE}, so accuracy may differ slightly from the "
                f"weights' reference")
    return None


def plan(model: Path, device_type: str = "", resize: str = "", crop: str = "",
         ascend_present: Optional[bool] = None) -> Tuple[InferPlan, List[str]]:
    """The run for ``model``; also returns the warnings to print. Explicit resize/crop ("" = not given) win."""
    if ascend_present is None:
        ascend_present = os.path.exists(ASCEND_DEVICE_NODE)
    backend, device = choose_backend(model, device_type, ascend_present)
    explicit_resize = _positive("RESIZE", resize) if resize else 0
    explicit_crop = _positive("CROP", crop) if crop else 0
    sidecar = read_sidecar(model)
    where = str(sidecar_path(model))
    warnings: List[str] = []
    reason = backend_reason(backend, model)
    if sidecar is not None and sidecar.get("format") == LITE_FORMAT:
        backend, reason = lite_backend(where, device)
    if sidecar is None:
        if not (explicit_resize and explicit_crop):
            raise UsageError(f"no export sidecar {where} next to the model (export.py writes it) and no "
                             f"RESIZE/CROP given: pass both, e.g. RESIZE=256 CROP=224")
        return InferPlan(backend, device, explicit_resize, explicit_crop, IMAGENET_MEAN, IMAGENET_STD,
                         "explicit", reason), warnings
    geometry = sidecar_geometry(sidecar, where)
    warning = check_reproducible(geometry, where)
    if warning:
        warnings.append(warning)
    if explicit_crop:
        crop_size = explicit_crop
    elif geometry.crop_height != geometry.crop_width:
        raise UsageError(f"{where}: preprocess.crop_size {geometry.crop_height}x{geometry.crop_width} is not square; "
                         f"the harness centre-crops squares: re-export with --height equal to --width")
    else:
        crop_size = geometry.crop_height
    if explicit_resize:
        resize_size = explicit_resize
    elif explicit_crop:
        resize_size = resize_for_crop(explicit_crop, geometry.crop_pct)
    else:
        resize_size = geometry.resize_size
    sizes_from = "explicit" if explicit_resize or explicit_crop else "sidecar"
    return InferPlan(backend, device, resize_size, crop_size, geometry.mean, geometry.std, sizes_from,
                     reason), warnings


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--device_type", default="")
    parser.add_argument("--resize", default="", help="explicit shorter-side size (wins over the sidecar)")
    parser.add_argument("--crop", default="", help="explicit centre crop (wins over the sidecar)")
    args = parser.parse_args(argv)
    try:
        run, warnings = plan(args.model, args.device_type, args.resize, args.crop)
    except MindzooError as exc:
        print(f"run_infer_310.sh: error: {exc}", file=sys.stderr)
        return exc.exit_code
    for warning in warnings:
        print(warning, file=sys.stderr)
    print("\n".join(run.shell_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

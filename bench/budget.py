"""How long a measurement should take on a CPU kind, and therefore how long it may take (bench/NOTES.md section 4).

One cost model (per-image seconds of ResNet50 at 224x224 on a quiet 2-thread machine, scaled by model, pixels and
batch) gives every worker its time limits (``FACTOR`` x its expected setup and round, plus a grace period) and the
run its estimate. Sources are at each constant; unmeasured kinds borrow a measured one (``BORROWED``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

MEASURED_KINDS = ("avx2", "avx512-bf16")
BORROWED = {"avx512": "avx512-bf16", "avx512-bf16-amx": "avx512-bf16", "x86-64": "avx2"}

# seconds per ResNet50 224x224 image (train: one SGD step; infer: forward); "export_s": one export.py run
RATES: Dict[str, Dict[str, float]] = {
    "avx512-bf16": {"ms_train": 1 / 4.70, "torch_fp32": 1 / 3.83, "torch_cl": 1 / 5.97, "torch_bf16": 1 / 10.15,
                    "torch_bf16_cl": 1 / 16.64, "ms_infer_b1": 0.060, "ms_infer": 1 / 16.7, "ort_b1": 0.0205,
                    "ort": 1 / 49.2, "data_train": 1 / 799, "data_eval": 1 / 536, "export_s": 5.5},
    "avx2": {"ms_train": 6.93 / 16, "torch_fp32": 7.00 / 16, "torch_cl": 5.96 / 16, "ms_infer_b1": 0.144,
             "ms_infer": 4.13 / 32, "ort_b1": 0.064, "ort": 2.17 / 32},
}
# fixed costs (imports, graph compiles, JPEG decoding, exports) on a kind relative to Zen 5: estimates
FIXED_SCALE = {"avx512-bf16": 1.0, "avx2": 1.5}
# a model's per-image cost relative to ResNet50, per framework (resnext152: the Zen 5 runs; resnet18: FLOPs)
MODEL_SCALE = {"ms": {"resnet18": 0.45, "resnext152_64x4d": 5.3},
               "torch": {"resnet18": 0.45, "resnext152_64x4d": 2.5},
               "torch_bf16": {"resnet18": 0.45, "resnext152_64x4d": 5.7}}
# seconds of fixed work: framework import, model build, graph compile (train step; eval is ~1 s)
IMPORT_S = {"ms": 3.0, "torch": 3.0, "ort": 0.5}
COMPILE_S = {"resnet18": 3.0, "resnet50": 5.0, "resnext152_64x4d": 22.0}
FIRST_STEP_STEPS = 2.0  # a first (cold) step costs 1.3-2.4 steps beyond the compile (Zen 5 runs); then 1 warm-up
# a train step's cost that does not scale with the images (kernel launches, the optimizer over every parameter):
# MindSpore's ResNet18 step at 32x32 took 146 ms at batch 1, 225 ms at batch 8 (Intel Xeon, load ~1.8; session 4)
STEP_FIXED_S = {"ms": 0.08, "torch": 0.01}
PAUSE_S = 0.1  # bench.common.run_lockstep's pause between steps
EXIT_S = 1.0  # a worker's finish + process exit

# an INT8 export (float export, quant_pre_process, calibration, held-out check) in fp32 ONNX exports: ResNet50 took
# 176 s against 41 s for the ONNX export (2026-12-06, AMD EPYC under load, docs/int8.md)
INT8_EXPORT_JOBS = 4
# an INT8 ONNX's batch-1/batch-32 time relative to the fp32 one: 0.5-0.56 on Zen 3 (AVX2, /work/shared/README.md),
# 0.30-0.34 on AMD EPYC with AVX512_VNNI (docs/int8.md); the slower one
INT8_SPEED = 0.56
FACTOR = 4.0
SETUP_GRACE_S = 120.0
STEP_GRACE_S = 60.0


@dataclass(frozen=True)
class Expected:
    """Expected seconds of a worker's setup (everything up to its first measured round) and of one round."""

    setup_s: float
    step_s: float


@dataclass(frozen=True)
class Limits:
    """The most a worker may take for its setup and for one round before it is killed."""

    setup_s: float
    step_s: float

    def to_json(self) -> Dict[str, float]:
        return {"setup_s": round(self.setup_s, 1), "step_s": round(self.step_s, 1)}


def rates(kind: str) -> Dict[str, float]:
    """The kind's rates; missing entries (and unmeasured kinds) from the nearest measured kind, fixed costs scaled."""
    measured = BORROWED.get(kind, kind)
    base = dict(RATES["avx512-bf16"])
    scale = FIXED_SCALE.get(measured, 1.0)
    for key in ("data_train", "data_eval", "export_s"):
        base[key] *= scale
    base.update(RATES.get(measured, {}))
    if measured == "avx2":  # bf16 has no native path there; a forced run is expected no slower than fp32
        base["torch_bf16"], base["torch_bf16_cl"] = base["torch_fp32"], base["torch_cl"]
    return base


def fixed_scale(kind: str) -> float:
    return FIXED_SCALE.get(BORROWED.get(kind, kind), 1.0)


def _pixels(size: int) -> float:
    return (size / 224.0) ** 2


def train_step_s(framework: str, mode: str, model: str, batch: int, size: int, kind: str) -> float:
    key = "ms_train" if framework == "ms" else f"torch_{mode}"
    table = MODEL_SCALE["torch_bf16" if mode.startswith("bf16") else framework]
    return batch * rates(kind)[key] * table.get(model, 1.0) * _pixels(size) + STEP_FIXED_S[framework]


def _ms_train(spec: Dict[str, Any], kind: str) -> Expected:
    step = train_step_s("ms", "fp32", spec["model"], spec["batch"], spec["size"], kind)
    fixed = (IMPORT_S["ms"] + COMPILE_S.get(spec["model"], 5.0)) * fixed_scale(kind)
    return Expected(fixed + (FIRST_STEP_STEPS + 1) * step, step)


def _torch_train(spec: Dict[str, Any], kind: str) -> Expected:
    step = train_step_s("torch", spec.get("mode", "fp32"), spec["model"], spec["batch"], spec["size"], kind)
    return Expected(IMPORT_S["torch"] * fixed_scale(kind) + (FIRST_STEP_STEPS + 1) * step, step)


def _infer(prefix: str) -> Callable[[Dict[str, Any], str], Expected]:
    def expected(spec: Dict[str, Any], kind: str) -> Expected:
        r = rates(kind)
        scale = MODEL_SCALE["ms"].get(spec.get("model", "resnet50"), 1.0) * _pixels(spec.get("size", 224))
        scale *= INT8_SPEED if spec.get("int8") else 1.0
        b1, batch = r[f"{prefix}_b1"] * scale, r[prefix] * scale * spec.get("batch", 32)
        step = spec.get("latency_iters", 10) * b1 + batch
        load = (IMPORT_S["ms" if prefix == "ms_infer" else "ort"] + (2.0 if prefix == "ms_infer" else 0.0))
        return Expected(load * fixed_scale(kind) + (1 + spec.get("warmup", 2)) * b1 + 1.7 * batch, step)

    return expected


def _cpp(spec: Dict[str, Any], kind: str) -> Expected:
    scale = MODEL_SCALE["ms"].get(spec.get("model", "resnet50"), 1.0) * _pixels(spec.get("crop", 224))
    per_image = rates(kind)["ort_b1"] * scale * (INT8_SPEED if spec.get("int8") else 1.0)
    step = 1.0 * fixed_scale(kind) + (spec.get("images", 32) + 3) * per_image
    return Expected(step, step)


def _tensor_cpp(spec: Dict[str, Any], kind: str) -> Expected:
    """bench.lite.TensorCpp: predict_tensor, batch 1 (2 warm-up + latency_iters calls) and one batch call twice."""
    r = rates(kind)
    scale = MODEL_SCALE["ms"].get(spec.get("model", "resnet50"), 1.0) * _pixels(spec.get("size", 224))
    step = (2.0 * fixed_scale(kind) + (spec.get("latency_iters", 10) + 2) * r["ort_b1"] * scale
            + 2 * spec.get("batch", 0) * r["ort"] * scale)
    return Expected(step, step)


def _export(spec: Dict[str, Any], kind: str) -> Expected:
    jobs = (len(spec.get("formats") or ("MINDIR", "ONNX")) + bool(spec.get("unfolded", True))
            + INT8_EXPORT_JOBS * bool(spec.get("calib_data")))
    scale = MODEL_SCALE["ms"].get(spec["model"], 1.0) * _pixels(spec["size"])
    return Expected(IMPORT_S["ms"] * fixed_scale(kind) + jobs * rates(kind)["export_s"] * max(scale, 0.3), 0.0)


def _pipeline(spec: Dict[str, Any], kind: str) -> Expected:
    per_image = rates(kind)[f"data_{spec['kind']}"] / (0.9 * spec["workers"] if spec["workers"] > 1 else 1.0)
    step = spec.get("batches_per_step", 32) * spec.get("batch", 32) * per_image * _pixels(spec.get("size", 224))
    return Expected(IMPORT_S["ms"] * fixed_scale(kind) + step, step)


# engine section (ResNet18 at 32 px; session 4, Intel Xeon at load ~2, halved for a quiet machine: estimates)
LOOP_HOST_FACTOR = 1.1  # train.py's loop around the step (pipeline on the same cores, reads): at most this, expected
EPOCH_START_S = 0.5  # an epoch's pipeline: build it, start its workers, wait for the first batch; stop it at the end
BUILD_S = 0.3  # build_run's model and train step (ResNet18)
SMALL_IMAGE_S = 0.002  # generating one small JPEG (bench.data.SMALL_SIZES)


def _train_loop(spec: Dict[str, Any], kind: str) -> Expected:
    """bench.engine.TrainLoop: a round is one epoch of ``images // batch`` steps (and, in the loop, its pipeline)."""
    step = train_step_s("ms", "fp32", spec["model"], spec["batch"], spec["size"], kind)
    steps = max(1, spec["images"] // spec["batch"])
    loop = spec["mode"] == "loop"
    round_s = steps * step * (LOOP_HOST_FACTOR if loop else 1.0) + (EPOCH_START_S * fixed_scale(kind) if loop else 0.0)
    fixed = (IMPORT_S["ms"] + COMPILE_S.get(spec["model"], 5.0) + BUILD_S) * fixed_scale(kind)
    return Expected(fixed + FIRST_STEP_STEPS * step + round_s, round_s)


EXPECTED: Dict[str, Callable[[Dict[str, Any], str], Expected]] = {
    "train.MsTrain": _ms_train, "train.TorchTrain": _torch_train, "infer.MsEval": _infer("ms_infer"),
    "infer.Mindir": _infer("ms_infer"), "infer.Ort": _infer("ort"), "infer.Cpp": _cpp, "infer.Export": _export,
    "data.Pipeline": _pipeline, "engine.TrainLoop": _train_loop, "lite.TensorCpp": _tensor_cpp,
}


def expected(task: str, spec: Dict[str, Any], kind: str) -> Expected:
    """Expected seconds of ``task`` with ``spec`` on a quiet machine of ``kind`` (KeyError: a task without a model)."""
    return EXPECTED[task](spec, kind)


def limits(task: str, spec: Dict[str, Any], kind: str, scale: float = 1.0, setup_s: Optional[float] = None,
           step_s: Optional[float] = None) -> Limits:
    """The worker's time limits: ``scale`` x (grace + ``FACTOR`` x its expected times), unless given."""
    e = expected(task, spec, kind)
    return Limits(setup_s or scale * (SETUP_GRACE_S + FACTOR * e.setup_s),
                  step_s or scale * (STEP_GRACE_S + FACTOR * e.step_s))


def lockstep_s(jobs: Any, rounds: int, kind: str) -> float:
    """A lockstep (or sequential) group of ``(task, spec)`` jobs: every setup, then ``rounds`` rounds of all."""
    es = [expected(task, spec, kind) for task, spec in jobs]
    return sum(e.setup_s + EXIT_S for e in es) + rounds * sum(e.step_s + PAUSE_S for e in es)

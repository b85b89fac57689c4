"""Section ``lite`` (opt-in: ``python -m bench --only lite``): MindSpore Lite through MindSpore's C++ API against
the ONNX Runtime C++ harness and MindSpore's Python MINDIR runtime, ResNet50 and ResNeXt152_64x4d, in lockstep:
the harness over generated images with either backend, ``predict_tensor`` of either build on the fixed input, and
the MINDIR through ``nn.GraphCell``. ``latency_vs_cpp`` / ``latency_vs_lite``: paired ratios to either harness.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from bench import budget
from bench.common import Context, paired_ratio, rnd, run_lockstep
from bench.infer import build_harness, compare, cpp_folder, export, fixed_input, summarize
from bench.measure import Task, Timer

LABELS = {"mindir": "MINDIR via MindSpore's Python runtime (nn.GraphCell)",
          "cpp": "C++ harness, ONNX Runtime backend (.onnx)",
          "cpp_lite": "C++ harness, MindSpore C++ API on MindSpore Lite (_lite.mindir)",
          "tensor_ort": "predict_tensor, ONNX Runtime backend", "tensor_lite": "predict_tensor, MindSpore Lite"}


class TensorCpp(Task):
    """``predict_tensor`` of one harness build on the fixed input (:func:`mindzoo.export.lite.predict_tensor`): a fresh
    process per call group."""

    def __init__(self, binary: str, model_path: str, size: int, batch: int, latency_iters: int, threads: int = 0,
                 **_: Any) -> None:
        self.binary, self.model_path, self.size, self.batch = binary, model_path, size, batch
        self.latency_iters, self.threads = latency_iters, threads

    def _run(self, x: np.ndarray, warmup: int, repeat: int) -> float:
        from mindzoo.export.lite import predict_tensor

        prediction = predict_tensor(Path(self.binary), Path(self.model_path), x, self.threads, warmup, repeat)
        self.top1 = int(prediction.logits.reshape(len(x), -1)[0].argmax())
        return prediction.median_ms / 1000.0

    def setup(self) -> Dict[str, Any]:
        self.x1 = fixed_input(1, self.size)
        self.xb = fixed_input(self.batch, self.size) if self.batch else None
        with Timer() as t:
            self._run(self.x1, 0, 1)
        return {"first_step_s": round(t.seconds, 3), "top1_of_fixed_input": self.top1, "binary": self.binary}

    def step(self) -> Dict[str, Any]:
        with Timer() as t:
            b1 = self._run(self.x1, 2, self.latency_iters)
            tb = self._run(self.xb, 1, 1) if self.xb is not None else None
        return t.record(latency_s=[b1], batch_s=tb)


def plan(ctx: Context) -> Dict[str, Any]:
    if ctx.quick:
        return {"models": [{"model": "resnet18", "num_classes": 10, "size": 64, "batch": 4}], "latency_iters": 3,
                "rounds": 2, "cpp_images": 4}
    return {"models": [{"model": "resnet50", "num_classes": 1000, "size": 224, "batch": 32},
                       {"model": "resnext152_64x4d", "num_classes": 1000, "size": 224, "batch": 0}],
            "latency_iters": 5, "rounds": 3, "cpp_images": 8}


def export_spec(ctx: Context, m: Dict[str, Any]) -> Dict[str, Any]:
    return {"model": m["model"], "num_classes": m["num_classes"], "size": m["size"],
            "out_dir": str(ctx.work_dir / f"lite_export_{m['model']}"), "formats": ["MINDIR", "ONNX", "MINDIR_LITE"],
            "unfolded": False}


def worker_specs(ctx: Context, p: Dict[str, Any], m: Dict[str, Any], files: Dict[str, str],
                 builds: Dict[str, Dict[str, Any]], dataset: str) -> List[Any]:
    common = {"model": m["model"], "size": m["size"], "batch": m["batch"], "latency_iters": p["latency_iters"]}
    harness = {"model": m["model"], "dataset_path": dataset, "resize": int(m["size"] / 0.875), "crop": m["size"],
               "images": p["cpp_images"]}
    specs = [("mindir", "infer.Mindir", {**common, "path": files.get("mindir_dynamic")})]
    for kind, build, model in (("cpp", "ort", "onnx_dynamic"), ("cpp_lite", "lite", "mindir_lite_dynamic")):
        binary = builds[build].get("binary")
        if binary:
            specs.append((kind, "infer.Cpp", {**harness, "binary": binary, "model_path": files.get(model),
                                              "out_dir": str(ctx.work_dir / f"{kind}_{m['model']}")}))
            tensor = "tensor_ort" if build == "ort" else "tensor_lite"
            specs.append((tensor, "lite.TensorCpp", {**common, "binary": str(Path(binary).with_name("predict_tensor")),
                                                     "model_path": files.get(model)}))
    return specs


def estimate(ctx: Context) -> float:
    p = plan(ctx)
    total = 0.0
    for m in p["models"]:
        jobs = [(task, {"threads": ctx.threads, **spec})
                for _, task, spec in worker_specs(ctx, p, m, {}, {"ort": {"binary": "x"}, "lite": {"binary": "x"}}, "")]
        total += (budget.expected("infer.Export", export_spec(ctx, m), ctx.cpu.kind).setup_s + budget.EXIT_S
                  + budget.lockstep_s(jobs, p["rounds"], ctx.cpu.kind))
    return total


def run_model(ctx: Context, p: Dict[str, Any], m: Dict[str, Any], builds: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    exported = export(ctx, f"lite-export-{m['model']}", export_spec(ctx, m))
    if "error" in exported:
        return {**m, "error": f"export failed: {exported['error']}"}
    files = exported["files"]
    sidecar = json.loads(Path(files["mindir_lite_dynamic"]).with_suffix(".json").read_text())
    verify = {"lite_max_relative_error": sidecar["verify"]["max_relative_error"],
              "onnx_max_relative_error": sidecar["runtime"]["onnx_max_relative_error"]}
    dataset = cpp_folder(ctx, p["cpp_images"])
    specs = worker_specs(ctx, p, m, files, builds, dataset)
    workers = [ctx.worker(f"lite-{kind}-{m['model']}", task, spec) for kind, task, spec in specs]
    rounds = run_lockstep(workers, p["rounds"], label=f"lite {m['model']}")
    rows = []
    for worker, (kind, _, _) in zip(workers, specs):
        row = summarize(worker, "cpp" if kind.startswith("cpp") else kind, m["batch"] or 1)
        row.update({"kind": kind, "label": LABELS[kind]})
        rows.append(row)
    compare(rows, "cpp", "cpp")
    compare(rows, "cpp_lite", "lite")
    tensor = {r["kind"]: r for r in rows if r["kind"].startswith("tensor")}
    if m["batch"] and {"tensor_ort", "tensor_lite"} <= set(tensor):
        tensor["tensor_lite"]["batch_throughput_vs_ort"] = rnd(paired_ratio(
            tensor["tensor_ort"].get("batch_s_rounds", []), tensor["tensor_lite"].get("batch_s_rounds", [])), 3)
    tops = {r["kind"]: r.get("top1_of_fixed_input") for r in rows if r.get("top1_of_fixed_input") is not None}
    return {**m, "export_s": exported.get("export_s"), "verify": verify, "rounds_done": rounds, "rows": rows,
            "top1_of_fixed_input": tops, "tensor_top1_agree": len({v for k, v in tops.items() if k != "cpp"}) <= 1}


def run(ctx: Context) -> Dict[str, Any]:
    p = plan(ctx)
    builds = {"ort": build_harness(), "lite": build_harness("mindspore_lite")}
    return {**p, "builds": builds, "results": [run_model(ctx, p, m, builds) for m in p["models"]]}

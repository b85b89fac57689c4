"""Headline ratios and the issue's targets, computed from one run's results (never across runs)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from bench.common import rnd


def _infer(results: Dict[str, Any], name: str, key: str) -> Optional[float]:
    for row in results.get("infer", {}).get("rows", []):
        if row.get("kind") == name:
            return row.get(key)
    return None


def _target(name: str, value: Optional[float], threshold: float, higher_is_better: bool) -> Dict[str, Any]:
    met = None if value is None else (value >= threshold if higher_is_better else value <= threshold)
    return {"target": name, "value": rnd(value, 3), "threshold": threshold, "met": met}


def build(results: Dict[str, Any]) -> Dict[str, Any]:
    """Targets from paired per-round ratios (both sides stepped in the same lockstep rounds)."""
    targets: List[Dict[str, Any]] = []
    groups = results.get("train", {}).get("groups", [])
    if groups:  # the first model's: ResNet50 in a full run
        ours = next((r for r in groups[0]["rows"] if r["task"] == "train.MsTrain"), {})
        targets.append(_target(f"{groups[0]['model']} train step >= 1.1x PyTorch fp32 eager (speed ratio)",
                               ours.get("vs_torch_fp32"), 1.1, True))
    if "infer" in results:
        for kind, what in (("ms_eval", "eval network"), ("mindir", "exported MINDIR")):
            targets.append(_target(f"MindSpore {what} batch-1 latency <= 1.25x ONNX Runtime's (latency ratio)",
                                   _infer(results, kind, "latency_vs_ort"), 1.25, False))
        targets.append(_target("MindSpore eval network batch-1 latency <= 1.25x ONNX Runtime without spinning",
                               _infer(results, "ms_eval", "latency_vs_ort_nospin"), 1.25, False))
        targets.append(_target("C++ harness batch-1 latency <= ONNX Runtime from Python (latency ratio)",
                               _infer(results, "cpp", "latency_vs_ort"), 1.0, False))
        speedup = results["infer"].get("int8", {}).get("ort_b1_speedup")
        if speedup is not None:
            targets.append(_target("INT8 ONNX batch-1 latency >= 1.6x faster than fp32 ONNX Runtime (speed-up)",
                                   speedup, 1.6, True))
    data = results.get("data", {})
    if data.get("train_consumption_ratio") is not None:
        targets.append(_target("train pipeline (2 workers) >= 10x the train step's consumption (img/s ratio)",
                               data["train_consumption_ratio"], 10.0, True))
    engine = results.get("engine", {})
    if engine.get("loop"):
        loop = engine["loop"]
        targets.append(_target(f"train.py loop >= {loop['target']}x the bare train step (steps/s ratio, "
                               f"{loop['model']} {loop['size']}x{loop['size']} batch {loop['batch']})",
                               loop.get("loop_over_bare"), loop["target"], True))
    return {"targets": targets}

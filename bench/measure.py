"""Worker-side measuring helpers: the task protocol, wall/CPU timing, peak RSS, framework setup."""
from __future__ import annotations

import os
import time
from typing import Any, Dict


def rss_mb(field: str = "VmRSS") -> float:
    """A ``/proc/self/status`` memory field in MB: ``VmRSS`` now, ``VmHWM`` the peak so far (MindSpore's memory
    pool keeps what it grew to); 0 where there is no /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class Task:
    """What bench.worker drives: ``setup`` (build, compile, first step), then one measured ``step`` a round, then
    ``finish`` for what is only known at the end. A task without measured rounds or final numbers keeps these."""

    def step(self) -> Dict[str, Any]:
        return {}

    def finish(self) -> Dict[str, Any]:
        return {}


class Timer:
    """Wall and process-CPU seconds of a block, plus the 1-minute load average when it ended."""

    def __enter__(self) -> "Timer":
        self.cpu0, self.t0 = cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu_s = cpu_seconds() - self.cpu0
        self.load = os.getloadavg()[0]

    def record(self, **extra: Any) -> Dict[str, Any]:
        return {"seconds": self.seconds, "cpu_s": self.cpu_s, "load_avg_1m": round(self.load, 2), **extra}


def ms_context(threads: int) -> Dict[str, Any]:
    """CPU, GRAPH mode (train.py's default), ``runtime_num_threads=threads``; ``import mindzoo`` first, which caps
    oneDNN at AVX2 before MindSpore loads (bench/NOTES.md 5.1)."""
    import mindzoo  # noqa: F401  (must precede mindspore)
    import mindspore as ms

    ms.set_device("CPU")
    default_threads = ms.get_context("runtime_num_threads")
    ms.set_context(mode=ms.GRAPH_MODE)
    if threads:
        ms.set_context(runtime_num_threads=int(threads))
    return {
        "framework": "mindspore",
        "runtime_num_threads": ms.get_context("runtime_num_threads"),
        "runtime_num_threads_default": default_threads,
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
    }


def build_torch_model(name: str, num_classes: int = 1000) -> Any:
    """torchvision's ResNet ``name`` from tests/refnets/torch_reference.py (test support, not shipped), loaded by
    path so the PyTorch worker imports no MindSpore."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tests" / "refnets" / "torch_reference.py"
    spec = importlib.util.spec_from_file_location("_mindzoo_torch_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(name, num_classes=num_classes)

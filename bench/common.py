"""Parent-side plumbing: machine description, worker processes, lockstep rounds, statistics, tables. Nothing here
imports MindSpore, PyTorch or ONNX Runtime: every framework lives only in the workers that measure it."""
from __future__ import annotations

import json
import os
import platform
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

from bench import budget
from bench.budget import Expected, Limits
from bench.cpu import CpuInfo, SkipReason

REPO = Path(__file__).resolve().parent.parent


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def mem_info_gb() -> Dict[str, float]:
    out: Dict[str, float] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, value = line.split(":", 1)
            if key in ("MemTotal", "MemAvailable"):
                out[key] = round(int(value.split()[0]) / 1024 / 1024, 1)
    except OSError:
        pass
    return out


def version(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info(threads: int, cpu: CpuInfo) -> Dict[str, Any]:
    return {
        "host": platform.node(),
        "cpu_model": cpu.model_name,
        "cpu": cpu.to_json(),
        "cores": available_cores(),
        "logical_cpus": os.cpu_count(),
        "threads_used": threads,
        "memory_gb": mem_info_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in ("mindspore", "torch", "onnxruntime", "onnx", "numpy", "pillow")},
        "env": {name: os.environ.get(name) for name in ("ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                                                        "PYTHONPATH")},
    }


def load_average() -> List[float]:
    return [round(x, 2) for x in os.getloadavg()]


def median(values: Sequence[float]) -> Optional[float]:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def paired_ratio(a: Sequence[Optional[float]], b: Sequence[Optional[float]]) -> Optional[float]:
    """Median over rounds of ``a[r] / b[r]``: both sides measured in the same lockstep round, so load that drifts
    between rounds cancels (far less noisy here than the ratio of the two medians)."""
    return median([x / y for x, y in zip(a, b) if x is not None and y])


def rnd(x: Optional[float], digits: int = 4) -> Optional[float]:
    return None if x is None else round(float(x), digits)


def seconds_text(seconds: float) -> str:
    """A limit as people write it: 308, 2, 0.5."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.3g}"


class WorkerError(RuntimeError):
    pass


BUDGET_EXHAUSTED = SkipReason("budget", "it would not finish within the run's total time budget")
DEFAULT_LIMITS = Limits(setup_s=600.0, step_s=300.0)  # a worker built without a cost model (bench.budget)
_LIVE: Set["Worker"] = set()


class Worker:
    """A ``python -m bench.worker`` child running one task: its output goes to ``log_path``, its replies come on a
    private pipe. It leads its own process group, so what it starts (the C++ harness, dataset workers) dies with it
    when it overruns ``limits`` and is killed. Nothing starts that is ``expected`` to end after ``deadline``."""

    def __init__(self, name: str, task: str, spec: Dict[str, Any], log_dir: Path,
                 env: Optional[Dict[str, Optional[str]]] = None, limits: Limits = DEFAULT_LIMITS,
                 deadline: Optional[float] = None, expected: Expected = Expected(0.0, 0.0)) -> None:
        self.name = name
        self.task = task
        self.spec = spec
        self.limits = limits
        self.deadline = deadline
        self.expected = expected
        self.log_path = Path(log_dir) / f"{name}.log"
        self.setup_info: Dict[str, Any] = {}
        self.steps: List[Dict[str, Any]] = []
        self.finish_info: Dict[str, Any] = {}
        self.error: Optional[str] = None
        self.skipped: Optional[SkipReason] = None
        full_env = dict(os.environ)
        for key, value in (env or {}).items():  # None removes a variable
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p)
        reply_r, reply_w = os.pipe()
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", str(reply_w)],
            stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT, env=full_env, cwd=str(REPO),
            pass_fds=(reply_w,), text=True, process_group=0,
        )
        _LIVE.add(self)
        os.close(reply_w)
        self._reply = os.fdopen(reply_r, "r")
        self._buffer = ""

    def _receive(self, timeout: float, what: str) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while "\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerError(f"time limit of {seconds_text(timeout)} s exceeded ({what}); worker killed")
            if not select.select([self._reply], [], [], left)[0]:
                continue
            chunk = os.read(self._reply.fileno(), 65536).decode()
            if not chunk:
                code = self.proc.wait(timeout=30)
                raise WorkerError(f"worker exited with {code}; last log lines:\n{self.log_tail()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split("\n", 1)
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(reply["error"])
        return reply

    def call(self, cmd: str, limit: float, what: str, **kwargs: Any) -> Optional[Dict[str, Any]]:
        """Send ``cmd`` and wait at most ``limit`` seconds for its reply; None once it failed (see ``fail``)."""
        try:
            self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
            self.proc.stdin.flush()
            return self._receive(limit, what)
        except WorkerError as exc:
            self.fail(str(exc))
        except OSError:  # the pipe is closed: the worker is gone
            self.fail(f"worker is gone (exit {self.proc.poll()}); last log lines:\n{self.log_tail()}")
        return None

    def log_tail(self, lines: int = 12) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        keep = [l for l in text if "WARNING" not in l and l.strip()]
        return "\n".join(keep[-lines:])

    def setup(self) -> bool:
        reply = self.call("setup", self.limits.setup_s, "setup: start, build, compile, first step, warm-up",
                          task=self.task, spec=self.spec)
        self.setup_info = reply or {}
        return reply is not None

    def step(self) -> bool:
        reply = None if self.error else self.call("step", self.limits.step_s, f"round {len(self.steps) + 1}")
        if reply is not None:
            self.steps.append(reply)
        return reply is not None

    def finish(self) -> None:
        if self.proc.poll() is None and not self.error and not self.skipped:
            self.finish_info = self.call("finish", 120, "finish") or {}
        self.close()

    def fits(self, seconds: float) -> bool:
        """Whether ``seconds`` of work started now would end before the run's deadline."""
        return self.deadline is None or time.monotonic() + seconds < self.deadline

    def fail(self, message: str) -> None:
        self.error = message.splitlines()[0][:300] if message else "failed"
        print(f"  ! {self.name}: {message}", file=sys.stderr, flush=True)
        self.close()

    def skip(self, reason: SkipReason) -> None:
        self.skipped = reason
        print(f"  - {self.name}: skipped: {reason.text}", flush=True)
        self.close()

    def kill(self) -> None:
        """SIGKILL the worker's process group: the worker and anything it started."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (subprocess.TimeoutExpired, OSError):
                pass
        self.kill()  # a worker that ignored the closed pipe, and whatever its children left behind
        for handle in (self.proc.stdin, self._reply, self._log):  # stdin too: a killed worker's was never closed
            if handle is None:
                continue
            try:
                handle.close()
            except OSError:
                pass
        _LIVE.discard(self)

    def values(self, key: str) -> List[float]:
        out: List[float] = []
        for step in self.steps:
            value = step.get(key)
            if isinstance(value, list):
                out.extend(value)
            elif value is not None:
                out.append(value)
        return out

    def round_values(self, key: str) -> List[Optional[float]]:
        """One value per round: the step's value, or the median of its list."""
        out: List[Optional[float]] = []
        for step in self.steps:
            value = step.get(key)
            out.append(median(value) if isinstance(value, list) else value)
        return out

    def summary(self) -> Dict[str, Any]:
        info = {**self.setup_info, **self.finish_info}
        loads = [s.get("load_avg_1m") for s in self.steps if s.get("load_avg_1m") is not None]
        cpu = [s["cpu_s"] / s["seconds"] for s in self.steps if s.get("cpu_s") is not None and s.get("seconds")]
        out = {"name": self.name, "task": self.task, "spec": self.spec, "rounds": len(self.steps), **info,
               "cpu_utilization": rnd(median(cpu), 2), "load_avg_1m_median": rnd(median(loads), 2),
               "time_limits": self.limits.to_json()}
        if self.error:
            out["error"] = self.error
        if self.skipped:
            out.update(skipped=self.skipped.text, skip_code=self.skipped.code)
        return out


def kill_all_workers() -> None:
    """Kill every worker still alive (the parent is exiting: an interrupt or a crash)."""
    for w in list(_LIVE):
        w.kill()
        _LIVE.discard(w)


def run_bounded(cmd: Sequence[str], limit_s: float, what: str) -> subprocess.CompletedProcess:
    """Run a helper command (not a worker) in its own process group (:func:`mindzoo.procs.run_step`); past
    ``limit_s`` the group is killed and the result has return code -9 and a ``time limit ... exceeded`` stderr."""
    from mindzoo.procs import run_step

    try:
        return run_step(cmd, capture=True, timeout=limit_s, grace=0)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(list(cmd), -9, exc.output,
                                           f"time limit of {seconds_text(limit_s)} s exceeded ({what})")


def run_lockstep(workers: Sequence[Worker], rounds: int, label: str = "", pause: float = 0.1) -> int:
    """Set up every worker (one at a time: compile times stay clean), then step them round-robin, the order rotating
    each round and ``pause`` s between steps (ONNX Runtime's and libgomp's threads spin for a few ms after their
    work). What would end after the run's deadline is not started (a group cut before its first round is skipped).
    Returns the number of rounds run."""
    for w in workers:
        if not w.fits(w.expected.setup_s):
            w.skip(BUDGET_EXHAUSTED)
            continue
        t = time.perf_counter()
        print(f"  [{label}] setting up {w.name} ...", flush=True)
        if w.setup():
            print(f"  [{label}] {w.name} ready in {time.perf_counter() - t:.1f} s "
                  f"(first step {w.setup_info.get('first_step_s') or float('nan'):.2f} s)", flush=True)
    live = [w for w in workers if not w.error and not w.skipped]
    done = 0
    for r in range(rounds):
        if not live:
            break
        if not live[0].fits(sum(w.expected.step_s + pause for w in live)):
            print(f"  [{label}] another round would exceed the run's time budget: {done} of {rounds} rounds",
                  flush=True)
            if not done:
                for w in live:
                    w.skip(BUDGET_EXHAUSTED)
            break
        order = live[r % len(live):] + live[:r % len(live)]
        for w in order:
            time.sleep(pause)
            w.step()
        live = [w for w in live if not w.error]
        done += 1
        if live:
            print(f"  [{label}] round {r + 1}/{rounds}: " + ", ".join(
                f"{w.name} {w.steps[-1].get('seconds', 0):.2f}s" for w in live), flush=True)
    for w in workers:
        w.finish()
    return done


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (the report's and the console's)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Context:
    """What every section gets: options, scratch space, the CPU, the time limits and where to keep results.
    ``cpu`` decides what is skipped and estimated (``--plan-as KIND``); the limits follow the real ``speed_kind``."""

    quick: bool
    threads: int
    work_dir: Path
    log_dir: Path
    cpu: CpuInfo
    speed_kind: str
    results: Dict[str, Any] = field(default_factory=dict)
    limit_scale: float = 1.0
    setup_limit: float = 0.0
    step_limit: float = 0.0
    deadline: Optional[float] = None
    run_emulated: bool = False

    def worker(self, name: str, task: str, spec: Dict[str, Any], env: Optional[Dict[str, Optional[str]]] = None) -> Worker:
        spec = {"threads": self.threads, **spec}
        limits = budget.limits(task, spec, self.speed_kind, self.limit_scale, self.setup_limit, self.step_limit)
        return Worker(name, task, spec, self.log_dir, env=env, limits=limits, deadline=self.deadline,
                      expected=budget.expected(task, spec, self.speed_kind))

    def skip(self, reason: Optional[SkipReason]) -> Optional[SkipReason]:
        """``reason`` to skip a mode this CPU cannot run natively, unless ``--run-emulated`` measures it anyway."""
        return None if self.run_emulated else reason

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def torch_env(passive: bool = False) -> Dict[str, Optional[str]]:
    """The PyTorch peer's environment: every ISA the CPU has (not the AVX2 cap ``import mindzoo`` sets for
    MindSpore), and libgomp's default wait policy or (``passive``) ``OMP_WAIT_POLICY=PASSIVE``, which wins under
    load; the train section runs both (bench/NOTES.md, "Peer settings")."""
    return {"ONEDNN_MAX_CPU_ISA": "ALL", "OMP_WAIT_POLICY": "PASSIVE" if passive else None}

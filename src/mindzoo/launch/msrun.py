"""The GPU/CPU launch path: MindSpore's ``msrun`` (scheduler + workers, no MPI), supervised.

Measured on MindSpore 2.10 (``msrun --join=True``): when a worker dies, msrun notices within a second,
SIGKILLs the other workers and then waits for its scheduler process, which only gives up when the dead
worker's heartbeat times out (~35 s), or, if the worker died before joining the cluster, after
``--cluster_time_out`` (600 s by default). msrun also ignores SIGTERM's effect on its workers: they run
in their own sessions and outlive it. So msrun runs here in its own session under a supervisor that
reads msrun's output, maps worker pids to ranks, reports ``rank N failed with exit code X`` with the tail
of that rank's log, gives msrun a short grace period and then stops msrun, its scheduler and every worker.
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, TextIO, Tuple

from mindzoo.errors import UsageError
from mindzoo.launch.supervisor import Terminated, report_failure, trap_termination
from mindzoo.procs import stop_groups

FAILURE_LINE = re.compile(r"Worker process (\d+) exit with exception\. Error code: (-?\d+)")
POLL_SECONDS = 0.2
GRACE_SECONDS = 10.0


def msrun_executable() -> str:
    """The ``msrun`` of this interpreter's environment (it ships with MindSpore), else the one on PATH."""
    import shutil

    beside = Path(sys.executable).parent / "msrun"
    if beside.is_file():
        return str(beside)
    found = shutil.which("msrun")
    if not found:
        raise UsageError("msrun not found next to this Python or on PATH (it is installed with MindSpore >= 2.3)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (msrun's scheduler binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def build_command(msrun: str, worker_num: int, local_worker_num: int, master_addr: str, master_port: int,
                  node_rank: int, log_dir: Path, script: Path, train_args: Sequence[str]) -> List[str]:
    """``msrun ... --join=True train.py ARGS``; the console shows the first local rank's log."""
    first_local = node_rank * local_worker_num
    return [
        msrun, f"--worker_num={worker_num}", f"--local_worker_num={local_worker_num}",
        f"--master_addr={master_addr}", f"--master_port={master_port}", f"--node_rank={node_rank}",
        f"--log_dir={log_dir}", "--join=True", f"--tail_worker_log={first_local}", str(script), *train_args,
    ]


class _OutputWatcher(threading.Thread):
    """Copies msrun's output to ours and records the first ``Worker process PID exit ... Error code`` line."""

    def __init__(self, stream, out: TextIO) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.out = out
        self.failure: Optional[Tuple[int, int]] = None
        self.lock = threading.Lock()

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            self.out.write(line)
            self.out.flush()
            match = FAILURE_LINE.search(line)
            if match:
                with self.lock:
                    if self.failure is None:
                        self.failure = (int(match.group(1)), int(match.group(2)))

    def first_failure(self) -> Optional[Tuple[int, int]]:
        with self.lock:
            return self.failure


class _WorkerTracker:
    """Learns msrun's worker processes (pid -> rank) from their environment once they run train.py."""

    def __init__(self, msrun_pid: int, script: Path) -> None:
        import psutil  # a MindSpore dependency

        self.psutil = psutil
        self.msrun_pid = msrun_pid
        self.script = str(script)
        self.ranks: Dict[int, int] = {}
        self.seen: set = set()

    def refresh(self) -> None:
        psutil = self.psutil
        try:
            children = psutil.Process(self.msrun_pid).children(recursive=False)
        except psutil.Error:
            return
        for child in children:
            if child.pid in self.seen:
                continue
            try:
                if self.script not in child.cmdline():  # a `tail -f`
                    continue
                env = child.environ()
            except psutil.Error:
                continue
            if "MS_ROLE" not in env:  # forked but not exec'ed yet: msrun's own command line and environment
                continue
            self.seen.add(child.pid)
            if env.get("MS_ROLE") == "MS_WORKER" and env.get("RANK_ID", "").isdigit():
                self.ranks[child.pid] = int(env["RANK_ID"])

    def alive_pids(self) -> List[int]:
        return [pid for pid in self.ranks if self.psutil.pid_exists(pid)]


def supervise_msrun(cmd: Sequence[str], env: Mapping[str, str], log_dir: Path, script: Path,
                    out: TextIO = sys.stdout, err: TextIO = sys.stderr, grace: float = GRACE_SECONDS) -> int:
    """Run msrun; 0 when every worker succeeded, 1 (naming the failed rank) otherwise, never a hang."""
    process = subprocess.Popen(list(cmd), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    watcher = _OutputWatcher(process.stdout, out)
    watcher.start()
    tracker = _WorkerTracker(process.pid, script)
    failed = False
    try:
        with trap_termination():
            deadline: Optional[float] = None
            while True:
                tracker.refresh()
                failure = watcher.first_failure()
                if failure is not None and not failed:
                    failed = True
                    pid, code = failure
                    rank = tracker.ranks.get(pid)
                    if rank is None:
                        report_failure(f"a worker (pid {pid}, rank unknown)", code, None, err)
                        print(f"worker logs: {log_dir}", file=err, flush=True)
                    else:
                        report_failure(f"rank {rank}", code, log_dir / f"worker_{rank}.log", err)
                    deadline = time.monotonic() + grace
                code = process.poll()
                if code is not None:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    print(f"msrun is still waiting {grace:.0f} s after the failure: stopping it and its scheduler",
                          file=err, flush=True)
                    break
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        print("interrupted: stopping msrun and every worker", file=err, flush=True)
        return 130
    except Terminated as exc:
        print(f"received {exc}: stopping msrun and every worker", file=err, flush=True)
        return 128 + exc.signum
    finally:
        stop_groups([process.pid, *tracker.alive_pids()], [process], grace=5.0)
        watcher.join(timeout=2.0)
    if failed:
        return 1
    if process.returncode != 0:
        report_failure("msrun", process.returncode, log_dir / "scheduler.log", err)
        return 1
    return 0

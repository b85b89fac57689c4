"""Run one process per rank and fail fast: the first rank to die takes the others down with it.

Each rank runs in its own session (its own process group), so stopping a rank also stops whatever it
started (dataset workers). The supervisor never leaves a rank behind: on a failure, on Ctrl+C/SIGTERM, or
on any error of its own it stops every group (:func:`mindzoo.procs.stop_groups`: SIGTERM, then SIGKILL after a
grace period) and reaps them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, TextIO

from mindzoo.procs import GRACE_SECONDS, stop_groups

POLL_SECONDS = 0.5
TAIL_LINES = 30


@dataclass
class RankProcess:
    """A launched rank: its process (leader of its own process group) and the file its output goes to."""

    rank: int
    process: subprocess.Popen
    log: Path
    returncode: Optional[int] = field(default=None)


class Terminated(Exception):
    """The supervisor itself received SIGTERM/SIGHUP; exit code 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def describe_exit(code: int) -> str:
    """``1``, or ``-9 (killed by SIGKILL)`` for a signal."""
    if code < 0:
        try:
            return f"{code} (killed by {signal.Signals(-code).name})"
        except ValueError:
            return str(code)
    return str(code)


def tail(path: Path, lines: int = TAIL_LINES) -> List[str]:
    """The last ``lines`` lines of a (possibly large, possibly still growing) log file."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError as exc:
        return [f"<cannot read {path}: {exc.strerror}>"]
    text = data.decode("utf-8", errors="replace").splitlines()
    return text[-lines:]


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it (shorter messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def report_failure(what: str, code: Optional[int], log: Optional[Path], out: TextIO = sys.stderr) -> None:
    """``rank N failed with exit code X; last lines of LOG:`` and the tail, indented."""
    status = f"failed with exit code {describe_exit(code)}" if code is not None else "failed"
    if log is None:
        print(f"{what} {status}", file=out, flush=True)
        return
    print(f"{what} {status}; last lines of {display_path(log)}:", file=out)
    for line in tail(log) or ["(empty)"]:
        print(f"    {line}", file=out)
    out.flush()


def start_rank(rank: int, cmd: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> RankProcess:
    """Start one rank in a new session with stdout and stderr going to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as fh:
        process = subprocess.Popen(list(cmd), cwd=str(cwd), env=dict(env), stdout=fh, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return RankProcess(rank, process, log)


class trap_termination:
    """Turn SIGTERM/SIGHUP into :class:`Terminated` (SIGINT already raises KeyboardInterrupt)."""

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __enter__(self) -> "trap_termination":
        self._previous = {}
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._raise)
        return self

    @staticmethod
    def _raise(signum: int, _frame: object) -> None:
        raise Terminated(signum)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def supervise(ranks: Sequence[RankProcess], out: TextIO = sys.stderr, poll: float = POLL_SECONDS,
              grace: float = GRACE_SECONDS) -> int:
    """Wait for every rank. 0 if all exit 0; otherwise report the first failure, stop the rest, return 1.

    Ctrl+C or SIGTERM stops every rank and returns 130 / 128 + signal.
    """
    processes = [r.process for r in ranks]
    try:
        with trap_termination():
            while True:
                running = 0
                for rank in ranks:
                    code = rank.process.poll()
                    if code is None:
                        running += 1
                    elif code != 0:
                        rank.returncode = code
                        report_failure(f"rank {rank.rank}", code, rank.log, out)
                        others = [r.rank for r in ranks if r is not rank and r.process.poll() is None]
                        if others:
                            print(f"stopping the other ranks ({', '.join(map(str, others))})", file=out, flush=True)
                        return 1
                if running == 0:
                    return 0
                time.sleep(poll)
    except KeyboardInterrupt:
        print("interrupted: stopping every rank", file=out, flush=True)
        return 130
    except Terminated as exc:
        print(f"received {exc}: stopping every rank", file=out, flush=True)
        return 128 + exc.signum
    finally:
        stop_groups([p.pid for p in processes], processes, grace)

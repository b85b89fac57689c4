"""Child processes in their own process group, stopped cleanly: the one way mindzoo runs a step as a subprocess.

A step runs in a new session, so stopping it also stops whatever it started (dataset workers, msrun's ranks).
Stopping is SIGTERM to the group, SIGKILL after a grace period, then reaping. :func:`run_step` runs one step
with an optional time limit and stops it on the limit, on Ctrl+C or on any error of the caller; the launchers
(:mod:`mindzoo.launch.supervisor`) start many groups and stop them with :func:`stop_groups`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

GRACE_SECONDS = 10.0


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def stop_groups(pgids: Iterable[int], processes: Sequence[subprocess.Popen], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every group, SIGKILL what is still there after ``grace`` seconds, reap our children.

    The groups are signalled even when their leader already exited: a dead rank's children may live on.
    """
    pgids = list(dict.fromkeys(pgids))
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.poll() is None for p in processes):
        time.sleep(0.1)
    for pgid in pgids:
        signal_group(pgid, signal.SIGKILL)
    for process in processes:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:  # unkillable (D state): nothing more we can do
            pass


def run_step(cmd: Sequence[str], cwd: Optional[Union[str, Path]] = None, env: Optional[Mapping[str, str]] = None,
             log: Optional[Path] = None, capture: bool = False, timeout: Optional[float] = None,
             grace: float = GRACE_SECONDS) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own process group and wait for it; return its CompletedProcess.

    Output goes to this process's stdout/stderr, or both to the file ``log``, or (``capture``) into the result as
    text. Past ``timeout`` seconds the group is stopped and ``subprocess.TimeoutExpired`` raised (as
    ``subprocess.run`` does, but the step's children go too); Ctrl+C or any other exception stops it as well.
    """
    handle = open(log, "w", encoding="utf-8") if log is not None else None
    stdout = subprocess.PIPE if capture else handle
    stderr = subprocess.PIPE if capture else (subprocess.STDOUT if handle is not None else None)
    try:
        process = subprocess.Popen(list(cmd), cwd=None if cwd is None else str(cwd),
                                   env=None if env is None else dict(env), stdout=stdout, stderr=stderr,
                                   stdin=subprocess.DEVNULL, text=capture or None, start_new_session=True)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_groups([process.pid], [process], grace)
            out, err = process.communicate()
            raise subprocess.TimeoutExpired(process.args, timeout, output=out, stderr=err) from None
        except BaseException:
            stop_groups([process.pid], [process], grace)
            raise
    finally:
        if handle is not None:
            handle.close()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)

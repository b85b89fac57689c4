"""``python -m bench.worker REPLY_FD``: one measurement in its own process, driven by the parent over pipes.

JSON commands on stdin (``setup`` with a task and its spec, ``step``, ``finish``), one JSON reply each on REPLY_FD
with the peak RSS so far. File descriptor 1 points at stderr: framework chatter cannot corrupt the replies.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any, Tuple

from bench.measure import rss_mb


def resolve(task: str) -> Any:
    """``module.Class`` of a bench module (``train.MsTrain``), or ``package.module:Class`` of any importable one."""
    if ":" in task:
        module, _, cls = task.partition(":")
        return getattr(importlib.import_module(module), cls)
    module, _, cls = task.rpartition(".")
    return getattr(importlib.import_module(f"bench.{module}"), cls)


def main(argv: Tuple[str, ...]) -> int:
    reply_fd = int(argv[0])
    out = os.fdopen(reply_fd, "w", buffering=1)
    os.dup2(2, 1)  # anything printed to stdout (Python or C++) now goes to the log
    sys.stdout = sys.stderr
    task = None
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        cmd = message.pop("cmd")
        try:
            if cmd == "setup":
                cls = resolve(message["task"])
                t0 = time.perf_counter()
                task = cls(**message["spec"])
                reply = task.setup() or {}
                reply.setdefault("setup_s", round(time.perf_counter() - t0, 3))
            elif task is None:
                raise RuntimeError(f"'{cmd}' before setup")
            elif cmd == "step":
                reply = task.step()
            elif cmd == "finish":
                reply = task.finish() or {}
            else:
                raise RuntimeError(f"unknown command {cmd!r}")
            reply = dict(reply)
            reply["peak_rss_mb"] = max(rss_mb("VmHWM"), reply.get("peak_rss_mb") or 0.0)
            reply["rss_mb"] = rss_mb()
            out.write(json.dumps(reply) + "\n")
        except BaseException as exc:  # report, then stop: the parent decides what to do
            traceback.print_exc()
            detail = str(exc).strip().splitlines()
            out.write(json.dumps({"error": f"{type(exc).__name__}: {detail[0] if detail else ''}"[:500]}) + "\n")
            return 1
        if cmd == "finish":
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main(tuple(sys.argv[1:])))

"""mindzoo.procs.run_step: the one way to run a step as a subprocess (quickstart, fixres_demo, bench's helpers)."""
import subprocess
import sys
import time

import pytest

from helpers import alive
from mindzoo.procs import run_step

SPAWNER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(str(child.pid))
print("started", flush=True)
time.sleep(120)
"""


def test_a_step_past_its_time_limit_is_stopped_with_everything_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as caught:
        run_step([sys.executable, "-c", SPAWNER, str(pid_file)], capture=True, timeout=3, grace=1)
    assert time.monotonic() - started < 30
    assert "started" in caught.value.output
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(grandchild), "the step's own child outlived the time limit"


def test_a_step_logs_to_its_file_and_reports_its_exit_code(tmp_path):
    log = tmp_path / "step.log"
    result = run_step([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                      log=log)
    assert result.returncode == 3
    assert sorted(log.read_text().split()) == ["err", "out"]

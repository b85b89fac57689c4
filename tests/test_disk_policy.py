"""The suite's disk policy (pytest.ini): a passing test's files go when it ends, a passing run leaves nothing in the
temporary directory, and only the last failed run's files are kept. Without it every run kept its checkpoints and
exports (13 to 14 GB) and pytest kept three runs, which filled a CI machine's disk. The sequence asserted is pytest
9.2's (pinned in setup.py): a passing run removes its own directory before pytest's numbered-directory clean-up
looks, so the last failed run stays until another failed run replaces it."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

INNER_TESTS = '''
import os

import pytest


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    path = tmp_path_factory.mktemp("shared")
    (path / "module.bin").write_bytes(b"m" * 1024)
    return path


def test_passes(tmp_path, shared):
    (tmp_path / "checkpoint.bin").write_bytes(b"p" * 1024)


def test_may_fail(tmp_path, shared):
    (tmp_path / "evidence.bin").write_bytes(b"f" * 1024)
    assert not os.environ.get("INNER_FAIL")
'''


def _run_inner(tmp_path: Path, fail: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "INNER_FAIL": "1" if fail else ""}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-c", str(REPO / "pytest.ini"),
                           "--rootdir", str(tmp_path / "inner"), str(tmp_path / "inner" / "test_inner.py")],
                          env=env, capture_output=True, text=True, timeout=120)


def _files_left(tmp_path: Path) -> list:
    return sorted(p.name for p in (tmp_path / "tmp").rglob("*") if p.is_file() and not p.is_symlink())


def test_passing_runs_leave_nothing_and_only_the_last_failed_run_keeps_its_files(tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    (tmp_path / "tmp").mkdir()
    (tmp_path / "inner" / "test_inner.py").write_text(INNER_TESTS)
    failed_run_files = ["evidence.bin", "module.bin"]  # the passing test's checkpoint.bin went when it passed

    for fail, left in [(False, []), (True, failed_run_files), (False, failed_run_files), (True, failed_run_files)]:
        proc = _run_inner(tmp_path, fail=fail)
        assert proc.returncode == int(fail), proc.stdout[-2000:]
        assert _files_left(tmp_path) == left, f"after a {'failing' if fail else 'passing'} run"

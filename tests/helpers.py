"""Small real datasets, command runners and process probes shared by the end-to-end tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def make_image_folder(root: Path, counts: Dict[str, Dict[str, int]], size: int = 40, seed: int = 0) -> Path:
    """``root/<split>/<class>/*.jpg`` with learnable images: class k is a bright square in quadrant k."""
    rng = np.random.default_rng(seed)
    for split, per_class in counts.items():
        for label, (name, n) in enumerate(sorted(per_class.items())):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                half = size // 2
                top, left = (label // 2) * half, (label % 2) * half
                pixels[top:top + half, left:left + half] = 220
                Image.fromarray(pixels).save(folder / f"{split}_{name}_{i:03d}.jpg", quality=95)
    return root


def run(script: str, args: Sequence[str], cwd: Path = REPO, timeout: float = 600,
        env: Dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a top-level script (train.py, eval.py, ...) the way a user does."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(REPO / script), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def error_lines(proc: subprocess.CompletedProcess) -> List[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def on_package_index(package: str) -> bool:
    """Whether pip's configured package index answers for ``package`` (tests that download from it skip if not)."""
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", "index", "versions", package], capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


def process_stat(pid: int) -> Optional[List[str]]:
    """``/proc/PID/stat``'s fields after the command name (``[state, ppid, ...]``); None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """The process exists and has not exited: a zombie (``Z``, exited but not yet reaped) or a dead (``X``) one is
    not alive."""
    fields = process_stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def conv_bn_dense():
    """3x3 conv -> BatchNorm -> ReLU -> global average -> ``nn.Dense(4, 3)`` on 3-channel images: the smallest
    network with a BatchNorm (its ``bn``) and a convolution that a train step updates."""
    from mindspore import nn

    class ConvBNDense(nn.Cell):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, pad_mode="pad", padding=1, has_bias=False)
            self.bn = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.fc = nn.Dense(4, 3)

        def construct(self, x):
            return self.fc(self.relu(self.bn(self.conv(x))).mean(axis=(2, 3)))

    return ConvBNDense()


def dense_net(seed: int = 0):
    """A 3 -> 2 ``nn.Dense`` with seeded weights: the smallest network a train step can update."""
    import mindspore as ms
    from mindspore import nn

    net = nn.Dense(3, 2)
    rng = np.random.default_rng(seed)
    net.weight.set_data(ms.Tensor(rng.normal(size=(2, 3)).astype(np.float32)))
    net.bias.set_data(ms.Tensor(np.array([0.5, -0.25], np.float32)))
    return net

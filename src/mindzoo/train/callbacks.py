"""What the training loop reports and keeps: step logs, metrics.jsonl, curves, rotating checkpoints."""
from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from mindzoo.checkpoint import save_checkpoint_atomic

logger = logging.getLogger("mindzoo")

CKPT_PATTERN = re.compile(r"^(?P<net>.+)-(?P<epoch>\d+)_(?P<step>\d+)\.ckpt$")


def format_seconds(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"


class StepLogger:
    """Logs epoch/step, loss, lr, img/s and ETA every ``interval`` steps (and the epoch's last step)."""

    def __init__(self, interval: int, steps_per_epoch: int, total_steps: int, global_batch: int) -> None:
        self.interval = max(1, interval)
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = total_steps
        self.global_batch = global_batch
        self._window_start = time.time()
        self._window_steps = 0

    def restart_window(self) -> None:
        """Exclude time spent outside training steps (eval, checkpointing) from throughput."""
        self._window_start = time.time()
        self._window_steps = 0

    def step(self, epoch: int, step_in_epoch: int, global_step: int, loss: float, lr: float,
             loss_scale: float, overflow: bool) -> Optional[Dict[str, Any]]:
        """Record one step; return the logged record when a line was written."""
        self._window_steps += 1
        if step_in_epoch % self.interval and step_in_epoch != self.steps_per_epoch:
            return None
        elapsed = max(time.time() - self._window_start, 1e-9)
        step_time = elapsed / self._window_steps
        record = {
            "event": "step", "epoch": epoch, "step": step_in_epoch, "global_step": global_step,
            "loss": loss, "lr": lr, "loss_scale": loss_scale, "overflow": overflow,
            "img_per_s": self.global_batch / step_time, "step_time_s": step_time,
        }
        eta = step_time * (self.total_steps - global_step)
        logger.info(
            "epoch: %d step: %d/%d, loss is %.4f, lr: %.6f, loss_scale: %g%s, %.1f img/s, %.3f s/step, ETA %s",
            epoch, step_in_epoch, self.steps_per_epoch, loss, lr, loss_scale,
            " (overflow, update skipped)" if overflow else "", record["img_per_s"], step_time, format_seconds(eta),
        )
        self.restart_window()
        return record


class MetricsWriter:
    """Appends one JSON object per line to ``metrics.jsonl``; a resumed run keeps appending."""

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path

    def write(self, record: Dict[str, Any]) -> None:
        if self.path is None:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def read_metrics(path: Path) -> List[Dict[str, Any]]:
    if not Path(path).is_file():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_curves(metrics_path: Path, png_path: Path) -> Optional[Path]:
    """Loss (per logged step) and top-1/top-5 (per evaluation) curves from metrics.jsonl."""
    records = read_metrics(metrics_path)
    steps = [r for r in records if r.get("event") == "step"]
    evals = [r for r in records if r.get("event") == "eval"]
    if not steps and not evals:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot([r["global_step"] for r in steps], [r["loss"] for r in steps], label="train loss")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend()
    if evals:
        ax_acc.plot([r["epoch"] for r in evals], [100 * r["top1"] for r in evals], "o-", label="val top-1")
        ax_acc.plot([r["epoch"] for r in evals], [100 * r["top5"] for r in evals], "s--", label="val top-5")
        ax_acc.legend()
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)


class CheckpointManager:
    """Epoch checkpoints ``<net>-<epoch>_<step>.ckpt`` (atomic, newest ``keep_max`` kept) and ``best_acc.ckpt``."""

    def __init__(self, directory: Path, net_name: str, keep_max: int) -> None:
        self.directory = Path(directory)
        self.net_name = net_name
        self.keep_max = max(1, keep_max)

    def save(self, save_obj: Any, epoch: int, step: int, append_dict: Dict[str, Any]) -> Path:
        path = save_checkpoint_atomic(save_obj, self.directory / f"{self.net_name}-{epoch}_{step}.ckpt", append_dict)
        for old in self.epoch_checkpoints()[: -self.keep_max]:
            old.unlink()
        return path

    def save_best(self, save_obj: Any, append_dict: Dict[str, Any]) -> Path:
        return save_checkpoint_atomic(save_obj, self.directory / "best_acc.ckpt", append_dict)

    def epoch_checkpoints(self) -> List[Path]:
        """This run's epoch checkpoints, oldest first."""
        found = []
        for path in self.directory.glob(f"{self.net_name}-*_*.ckpt"):
            match = CKPT_PATTERN.match(path.name)
            if match and match["net"] == self.net_name:
                found.append((int(match["epoch"]), int(match["step"]), path))
        return [path for _, _, path in sorted(found)]

    def latest(self) -> Optional[Path]:
        checkpoints = self.epoch_checkpoints()
        return checkpoints[-1] if checkpoints else None

"""What the training loop reports and keeps: step logs, metrics.jsonl, eval-while-train, checkpoints, curves.

The engine (``mindzoo.train.engine.fit``) calls every :class:`Callback` at each host read point
(``on_read``), after each epoch (``on_epoch_end``) and at the end (``on_train_end``); a callback reads what
it needs from the run (``run.position``, ``run.net``, ...) and the :class:`~mindzoo.train.stepping.Readout`.
The default list is :func:`mindzoo.train.engine.default_callbacks`; order matters at an epoch's end: the
evaluation runs before the epoch checkpoint, which records the best top-1.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from mindzoo.checkpoint import save_checkpoint_atomic
from mindzoo.errors import first_line
from mindzoo.train.resume import checkpoint_name, list_checkpoints, newest_checkpoint
from mindzoo.train.stepping import Readout, crossed

if TYPE_CHECKING:
    from mindzoo.train.engine import EpochSummary, Run

logger = logging.getLogger("mindzoo")


def format_seconds(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"


class StepLogger:
    """The model zoo's step line with lr, img/s and ETA, for the steps since the previous line."""

    def __init__(self, steps_per_epoch: int, total_steps: int, global_batch: int) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = total_steps
        self.global_batch = global_batch
        self._steps = 0
        self._seconds = 0.0

    def add(self, readout: Readout) -> None:
        """Count a read window towards the next line's throughput (eval and checkpoint time stay out)."""
        self._steps += readout.steps
        self._seconds += readout.seconds

    def line(self, readout: Readout, lr: float) -> Dict[str, Any]:
        """Log the line for the steps added so far and return its metrics record."""
        step_time = max(self._seconds, 1e-9) / max(self._steps, 1)
        record = {
            "event": "step", "epoch": readout.epoch, "step": readout.step, "global_step": readout.global_step,
            "loss": readout.loss, "lr": lr, "loss_scale": readout.loss_scale, "overflow": readout.overflow,
            "overflow_steps": readout.overflows, "img_per_s": self.global_batch / step_time,
            "step_time_s": step_time,
        }
        eta = step_time * (self.total_steps - readout.global_step)
        logger.info(
            "epoch: %d step: %d/%d, loss is %.4f, lr: %.6f, loss_scale: %g%s, %.1f img/s, %.3f s/step, ETA %s",
            readout.epoch, readout.step, self.steps_per_epoch, readout.loss, lr, readout.loss_scale,
            " (overflow, update skipped)" if readout.overflow else "", record["img_per_s"], step_time,
            format_seconds(eta),
        )
        self._steps, self._seconds = 0, 0.0
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
    try:
        fig.savefig(png_path, dpi=100)
    finally:
        plt.close(fig)
    return Path(png_path)


class CheckpointManager:
    """Checkpoints ``<net>-<epoch>_<step>.ckpt`` (atomic, newest ``keep_max`` kept) and ``best_acc.ckpt``."""

    def __init__(self, directory: Path, net_name: str, keep_max: int) -> None:
        self.directory = Path(directory)
        self.net_name = net_name
        self.keep_max = max(1, keep_max)

    def save(self, save_obj: Any, epoch: int, step: int, append_dict: Dict[str, Any]) -> Path:
        path = save_checkpoint_atomic(save_obj, self.directory / checkpoint_name(self.net_name, epoch, step), append_dict)
        for old in self.epoch_checkpoints()[: -self.keep_max]:
            old.unlink()
        return path

    def save_best(self, save_obj: Any, append_dict: Dict[str, Any]) -> Path:
        return save_checkpoint_atomic(save_obj, self.directory / "best_acc.ckpt", append_dict)

    def epoch_checkpoints(self) -> List[Path]:
        """This run's epoch and step checkpoints, oldest first."""
        return list_checkpoints(self.directory, self.net_name)

    def latest(self) -> Optional[Path]:
        return newest_checkpoint(self.directory, self.net_name)


class Callback:
    """Hooks of :func:`mindzoo.train.engine.fit`; each default does nothing."""

    def on_train_begin(self, run: "Run") -> None:
        pass

    def on_read(self, run: "Run", readout: Readout) -> None:
        pass

    def on_epoch_end(self, run: "Run", summary: "EpochSummary") -> None:
        pass

    def on_train_end(self, run: "Run") -> None:
        pass


class LogCallback(Callback):
    """Step lines every ``log_interval`` steps and at each epoch's end, epoch summaries, metrics.jsonl."""

    def __init__(self, run: "Run", metrics: MetricsWriter) -> None:
        self.logger = StepLogger(run.steps_per_epoch, run.total_steps, run.global_batch)
        self.metrics = metrics
        self.interval = max(1, run.cfg.log_interval)
        self.started = time.time()

    def on_train_begin(self, run: "Run") -> None:
        self.started = time.time()

    def on_read(self, run: "Run", readout: Readout) -> None:
        self.logger.add(readout)
        if readout.step == run.steps_per_epoch or crossed(readout.step - readout.steps, readout.step, self.interval):
            lr = float(run.lr[min(readout.global_step, run.total_steps) - 1])
            self.metrics.write(self.logger.line(readout, lr))

    def on_epoch_end(self, run: "Run", summary: "EpochSummary") -> None:
        logger.info("epoch %d/%d done in %.1f s, mean loss %.4f, %.1f img/s", summary.epoch, run.cfg.epoch_size,
                    summary.seconds, summary.mean_loss, summary.steps * run.global_batch / max(summary.seconds, 1e-9))
        self.metrics.write({"event": "epoch", "epoch": summary.epoch, "global_step": run.position.global_step,
                            "mean_loss": summary.mean_loss, "steps": summary.steps, "seconds": summary.seconds})

    def on_train_end(self, run: "Run") -> None:
        from mindzoo.distributed import parameter_digest

        logger.info("training finished in %.1f s", time.time() - self.started)
        logger.info("rank %d trainable parameters sha256 %s", run.dist.rank, parameter_digest(run.net.trainable_params()))
        logger.info("rank %d all parameters sha256 %s (trainable and BatchNorm statistics)", run.dist.rank,
                    parameter_digest(run.net.get_parameters()))


class EvalCallback(Callback):
    """Eval-while-train every ``eval_interval`` epochs after ``eval_start_epoch`` (and after the last), on the
    parameters and BatchNorm statistics that get checkpointed; rank 0 keeps ``best_acc.ckpt``."""

    def __init__(self, run: "Run", metrics: MetricsWriter) -> None:
        from mindzoo.eval import TopKCorrect

        self.dataset = run.data.eval_dataset()
        self.counter = TopKCorrect(run.net)
        self.metrics = metrics

    def due(self, run: "Run", epoch: int) -> bool:
        cfg = run.cfg
        return epoch > cfg.eval_start_epoch and (epoch % cfg.eval_interval == 0 or epoch == cfg.epoch_size)

    def on_epoch_end(self, run: "Run", summary: "EpochSummary") -> None:
        from mindzoo.eval import evaluate, improves_on
        from mindzoo.train.recipes import scored_weights

        if not self.due(run, summary.epoch):
            return
        run.sync_statistics()
        with scored_weights(run.train_step):  # the EMA weights with ema=True
            result = evaluate(run.net, self.dataset, distributed=run.dist.distributed, counter=self.counter)
            logger.info("epoch %d eval: top1 %.4f top5 %.4f on %d images (%.1f s)", summary.epoch, result.top1,
                        result.top5, result.total, result.seconds)
            self.metrics.write({"event": "eval", "epoch": summary.epoch, "global_step": run.position.global_step,
                                **result.to_dict()})
            if improves_on(result, run.position.best_top1):  # a diverged network is never the best
                run.position.best_top1 = result.top1
                if run.dist.is_main:
                    path = run.checkpoints.save_best(run.net, {"epoch": summary.epoch, "top1": result.top1})
                    logger.info("new best top1 %.4f: saved %s", result.top1, path)


class CheckpointCallback(Callback):
    """Resumable checkpoints every ``save_checkpoint_epochs`` epochs, every ``save_checkpoint_steps`` global
    steps and after the last epoch; all ranks first adopt rank 0's BatchNorm statistics, only rank 0 writes."""

    def on_read(self, run: "Run", readout: Readout) -> None:
        if readout.step < run.steps_per_epoch and self._step_due(run, readout):
            self.save(run)

    def on_epoch_end(self, run: "Run", summary: "EpochSummary") -> None:
        cfg = run.cfg
        if (summary.epoch % cfg.save_checkpoint_epochs == 0 or summary.epoch == cfg.epoch_size
                or self._step_due(run, summary.last_read)):
            self.save(run)

    @staticmethod
    def _step_due(run: "Run", readout: Readout) -> bool:
        every = run.cfg.save_checkpoint_steps
        return crossed(readout.global_step - readout.steps, readout.global_step, every)

    @staticmethod
    def save(run: "Run") -> None:
        run.sync_statistics()
        if run.dist.is_main:
            epoch, step = run.position.label(run.steps_per_epoch)
            path = run.checkpoints.save(run.train_step, epoch, step, run.position.record())
            logger.info("saved %s", path)


class CurvesCallback(Callback):
    """curves.png from metrics.jsonl at the end (rank 0); a plotting failure is a warning, not a failed run."""

    def __init__(self, metrics_path: Path, png_path: Path) -> None:
        self.metrics_path = metrics_path
        self.png_path = png_path

    def on_train_end(self, run: "Run") -> None:
        try:
            png = plot_curves(self.metrics_path, self.png_path)
        except Exception as exc:  # matplotlib, fonts, a full disk: training itself is done and saved
            logger.warning("could not plot %s (%s: %s); training finished and its checkpoints are saved",
                           self.png_path, type(exc).__name__, first_line(exc))
            return
        if png:
            logger.info("curves: %s", png)

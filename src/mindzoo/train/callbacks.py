"""What the training loop reports and keeps: step logs, metrics.jsonl, eval-while-train, checkpoints, curves.

Every callback here is a ``mindspore.train.Callback``: ``mindspore.train.Model.train`` calls it, once per step on
the host loop (CPU, or ``dataset_sink_mode=False``) and once per sink of ``sink_size`` steps in sink mode
(Ascend/GPU). Model.train is called once per epoch (each epoch is its own seeded pipeline) and restarts
``cur_step_num`` on every call, so :class:`Tracker`, always first in the list, keeps the run's position from
``RunContext.original_args()`` (``cur_step_num``, ``net_outputs``), reads the device at the read points and puts
itself in ``original_args().mindzoo`` for the others. Subclasses of :class:`Callback` implement the engine's hooks:
``on_run_begin`` / ``on_run_end`` (the whole run, not one Model.train call), ``on_read`` (a read point, with its
:class:`~mindzoo.train.stepping.Readout`) and ``on_epoch_end`` (a data epoch, not a sink). The default list is
:func:`mindzoo.train.engine.default_callbacks`; order matters at an epoch's end: the evaluation runs before the
epoch checkpoint, which records the best top-1.
"""
from __future__ import annotations

import json
import math
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import mindspore as ms
from mindspore import train as ms_train

from mindzoo.errors import MindzooError, first_line
from mindzoo.train.stepping import EpochSummary, ReadPlan, Readout, crossed

if TYPE_CHECKING:
    from mindzoo.train.run import Run

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


def check_finite(readout: Readout, loss_scale_type: str, loss_scale: float) -> None:
    """With a fixed loss scale a non-finite loss is fatal; it is seen at the first read point after it."""
    if loss_scale_type != "fixed" or math.isfinite(readout.loss_sum):
        return
    first = readout.step - readout.steps + 1
    raise MindzooError(
        f"loss became non-finite in epoch {readout.epoch} between steps {first} and {readout.step} (seen at the "
        f"next host read point) with a fixed loss scale of {loss_scale}; lower --lr, or use "
        "--loss_scale_type=dynamic with mixed precision; the last checkpoint is intact"
    )


class Tracker(ms_train.Callback):
    """The run's position across Model.train calls, and the host reads at the read points.

    ``cur_step_num`` restarts at each Model.train call and advances by 1 a step on the host loop, by the sink's
    size per sink in sink mode: the difference since the last call is the steps just run. At a read point the
    train step's device-side sums are read (``MonitoredStep.read``) and ``readout`` holds what they say until the
    next step; at a data epoch's end ``summary`` holds the epoch. Time spent in :class:`Callback` hooks (eval,
    checkpoints) is kept out of the throughput.
    """

    def __init__(self, run: "Run", plan: ReadPlan) -> None:
        self.run = run
        self.plan = plan
        self.readout: Optional[Readout] = None
        self.summary: Optional[EpochSummary] = None
        self.first_call = True
        self._calls = 0
        self._seen = self._next_read = self._read_at = 0
        self._window_start = self._epoch_start = 0.0
        self._paused = 0.0
        self._epoch_steps, self._epoch_loss = 0, 0.0

    @property
    def finished(self) -> bool:
        return self.run.position.epochs_done >= self.run.cfg.epoch_size

    def pause(self, seconds: float) -> None:
        """Keep ``seconds`` (a callback's own work) out of the step timings."""
        self._paused += seconds

    def on_train_begin(self, run_context: Any) -> None:
        """One Model.train call: the rest of the current epoch."""
        args = run_context.original_args()
        args.mindzoo = self
        self.first_call, self._calls = self._calls == 0, self._calls + 1
        self._seen = args.cur_step_num
        position = self.run.position
        self._read_at = position.step_in_epoch
        self._next_read = self.plan.next_read(position.step_in_epoch, position.global_step)
        self._window_start = self._epoch_start = time.time()
        self._paused = 0.0
        self._epoch_steps, self._epoch_loss = 0, 0.0
        self.readout = self.summary = None

    def on_train_step_end(self, run_context: Any) -> None:
        args = run_context.original_args()
        steps, self._seen = args.cur_step_num - self._seen, args.cur_step_num
        position = self.run.position
        position.advance(steps)
        self.readout = self.summary = None
        if position.step_in_epoch < self._next_read:
            return
        loss, loss_sum, overflows, overflow, scale = self.run.monitor.read(args.net_outputs)
        now = time.time()
        readout = Readout(position.epochs_done + 1, position.step_in_epoch, position.global_step,
                          position.step_in_epoch - self._read_at, now - self._window_start - self._paused, loss,
                          loss_sum, overflows, overflow, scale)
        cfg = self.run.cfg
        check_finite(readout, cfg.loss_scale_type, cfg.loss_scale)
        self._epoch_steps += readout.steps
        self._epoch_loss += readout.loss_sum
        self._window_start, self._paused, self._read_at = now, 0.0, position.step_in_epoch
        self.readout = readout
        self._next_read = self.plan.next_read(position.step_in_epoch, position.global_step)

    def on_train_epoch_end(self, run_context: Any) -> None:
        """A Model epoch is a data epoch on the host loop and a sink in sink mode: finish ours at its last step."""
        position = self.run.position
        if position.step_in_epoch < self.run.steps_per_epoch:
            return
        position.finish_epoch()
        self.summary = EpochSummary(position.epochs_done, self._epoch_steps,
                                    self._epoch_loss / max(self._epoch_steps, 1),
                                    time.time() - self._epoch_start, self.readout)


class Callback(ms_train.Callback):
    """The engine's hooks on top of MindSpore's, driven by the :class:`Tracker` in ``original_args().mindzoo``.

    Override ``on_run_begin``, ``on_read``, ``on_epoch_end``, ``on_run_end``; each default does nothing.
    """

    def on_run_begin(self, run: "Run") -> None:
        pass

    def on_read(self, run: "Run", readout: Readout) -> None:
        pass

    def on_epoch_end(self, run: "Run", summary: EpochSummary) -> None:
        pass

    def on_run_end(self, run: "Run") -> None:
        pass

    @staticmethod
    def _timed(tracker: Tracker, hook: Callable[..., None], *args: Any) -> None:
        start = time.time()
        hook(tracker.run, *args)
        tracker.pause(time.time() - start)

    def on_train_begin(self, run_context: Any) -> None:
        tracker = run_context.original_args().mindzoo
        if tracker.first_call:
            self._timed(tracker, self.on_run_begin)

    def on_train_step_end(self, run_context: Any) -> None:
        tracker = run_context.original_args().mindzoo
        if tracker.readout is not None:
            self._timed(tracker, self.on_read, tracker.readout)

    def on_train_epoch_end(self, run_context: Any) -> None:
        tracker = run_context.original_args().mindzoo
        if tracker.summary is not None:
            self._timed(tracker, self.on_epoch_end, tracker.summary)

    def on_train_end(self, run_context: Any) -> None:
        tracker = run_context.original_args().mindzoo
        if tracker.finished:
            self.on_run_end(tracker.run)


class LogCallback(Callback):
    """Step lines every ``log_interval`` steps and at each epoch's end, epoch summaries, metrics.jsonl."""

    def __init__(self, run: "Run", metrics: MetricsWriter) -> None:
        self.logger = StepLogger(run.steps_per_epoch, run.total_steps, run.global_batch)
        self.metrics = metrics
        self.interval = run.grid.log_interval
        self.started = time.time()

    def on_run_begin(self, run: "Run") -> None:
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

    def on_run_end(self, run: "Run") -> None:
        from mindzoo.distributed import parameter_digest

        logger.info("training finished in %.1f s", time.time() - self.started)
        logger.info("rank %d trainable parameters sha256 %s", run.dist.rank, parameter_digest(run.net.trainable_params()))
        logger.info("rank %d all parameters sha256 %s (trainable and BatchNorm statistics)", run.dist.rank,
                    parameter_digest(run.net.get_parameters()))


class EvalCallback(Callback):
    """Eval-while-train every ``eval_interval`` epochs after ``eval_start_epoch`` (and after the last), on the
    parameters and BatchNorm statistics that get checkpointed; rank 0 keeps ``best_acc.ckpt``.

    It scores what eval.py scores on the same checkpoint: an fp32 twin of the network (BN-folded with
    ``fold_bn``, as eval.py), given the trained values before each evaluation. The trained network itself is
    cast to fp16 under O2/O3, where logits tie far more often and ties count against the label.
    """

    def __init__(self, run: "Run", metrics: MetricsWriter) -> None:
        from mindzoo.eval.metrics import TopKCorrect
        from mindzoo.models import create_model
        from mindzoo.models.fold import fold_batchnorm, fold_plan

        self.dataset = run.data.eval_dataset()
        variant = getattr(run.net, "variant", None)
        self.network = create_model(run.cfg.net_name, num_classes=run.cfg.num_classes,
                                    **({"variant": variant} if variant is not None else {}))
        self.network.set_train(False)
        self.plan = fold_plan(self.network) if run.cfg.fold_bn else []
        if self.plan:
            fold_batchnorm(self.network)
        self.counter = TopKCorrect(self.network)
        self.metrics = metrics

    def _load_trained(self, run: "Run") -> None:
        from mindzoo.models.fold import load_folded

        arrays = {param.name: param.asnumpy() for param in run.net.get_parameters()}
        if self.plan:
            load_folded(self.network, self.plan, arrays)
            return
        for param in self.network.get_parameters():
            param.set_data(ms.Tensor(arrays[param.name]))

    def due(self, run: "Run", epoch: int) -> bool:
        cfg = run.cfg
        return epoch > cfg.eval_start_epoch and (epoch % cfg.eval_interval == 0 or epoch == cfg.epoch_size)

    def on_epoch_end(self, run: "Run", summary: "EpochSummary") -> None:
        from mindzoo.eval.metrics import evaluate, improves_on
        from mindzoo.train.recipes import scored_weights

        if not self.due(run, summary.epoch):
            return
        run.sync_statistics()
        with scored_weights(run.train_step):  # the EMA weights with ema=True
            self._load_trained(run)
            result = evaluate(self.network, self.dataset, distributed=run.dist.distributed, counter=self.counter)
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
        every = run.grid.checkpoint_steps
        return crossed(readout.global_step - readout.steps, readout.global_step, every)

    @staticmethod
    def save(run: "Run") -> None:
        run.sync_statistics()
        if run.dist.is_main:
            epoch, step = run.position.label(run.steps_per_epoch)
            path = run.checkpoints.save(run.train_step, epoch, step, run.checkpoint_record())
            logger.info("saved %s", path)


class CurvesCallback(Callback):
    """curves.png from metrics.jsonl at the end (rank 0); a plotting failure is a warning, not a failed run."""

    def __init__(self, metrics_path: Path, png_path: Path) -> None:
        self.metrics_path = metrics_path
        self.png_path = png_path

    def on_run_end(self, run: "Run") -> None:
        try:
            png = plot_curves(self.metrics_path, self.png_path)
        except Exception as exc:  # matplotlib, fonts, a full disk: training itself is done and saved
            logger.warning("could not plot %s (%s: %s); training finished and its checkpoints are saved",
                           self.png_path, type(exc).__name__, first_line(exc))
            return
        if png:
            logger.info("curves: %s", png)

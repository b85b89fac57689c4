"""Section ``engine``: the training engine's host overhead on a small model, and eval.py over a checkpoint directory.

``loop``: what train.py's loop costs around the train step, on a model small enough for it to show (ResNet18 at
32x32, batch 8, 4 classes, generated small JPEGs: ``bench.data.SMALL_SIZES``). Two processes in lockstep, both
built by ``mindzoo.train.engine.build_run(cfg, write_outputs=False)`` from the same train.py config (its defaults
apart from the model, the sizes, the data path and ``run_eval=False``):

- ``loop`` (:class:`TrainLoop`, mode ``loop``): a round is one more epoch of ``fit(run, callbacks=[recorder])``,
  train.py's loop: the epoch's new pipeline (train transforms, the config's default ``num_parallel_workers``),
  one ``mindspore.train.Model.train`` call over it (the config's ``dataset_sink_mode``: on CPU MindSpore's host
  loop), the ``Tracker`` callback, ``MonitoredStep``'s device-side loss sum and overflow count, the host reads at
  the read points (every ``log_interval`` steps and the epoch's end) and the finiteness check. The recorder only
  keeps the epoch summary and counts the reads; train.py's own callbacks (logs, metrics.jsonl, checkpoints) come
  on top of this. The run's one Model (and its compiled graph) is reused across rounds, as across train.py's
  epochs.
- ``bare`` (mode ``bare``): ``run.train_step``, the ``TrainStep`` Cell that loop wraps, called
  ``steps_per_epoch`` times a round on one batch already on the device (the pipeline's first), the last loss read
  once at the round's end: the floor.

``loop_over_bare`` is the paired per-round ratio of steps/s (loop / bare; target >= 0.9). ``epoch_overhead_s`` is
the part of a loop round outside the epoch's own clock (``EpochSummary.seconds``): building the epoch's pipeline,
Model.train's set-up (its DatasetHelper) and end; the wait for its workers' first batch is inside.

``eval_sweep``: eval.py over a directory of checkpoints (ResNet18 at 64 px, 300 generated images, eval transforms,
``eval_batch_size`` 32, so 9 full batches and one of 12: two batch shapes; 5 checkpoints named as train.py names
them). One process (:class:`EvalSweep`): a round is one sweep over the directory as one eval.py run does it (the
dataset is built once, in setup, as eval.py builds it once): one ``mindzoo.eval.sweep.CheckpointEvaluator`` built
from the first checkpoint, then ``load`` + ``evaluate`` for each. Per sweep: graphs compiled (``graphs_compiled``:
the counting Cells' compile caches; ``graphs_after_each``: the running total after each checkpoint; target: one per
batch shape, whatever the number of checkpoints), the time to the first result, each checkpoint's time, the total.
The setup's sweep (the process's first, ``cold_*``) is kept apart from the measured rounds. (The replay of eval.py
before CheckpointEvaluator, a fresh network per checkpoint, is written up in bench/NOTES.md.)
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bench import budget
from bench.common import Context, median, paired_ratio, rnd, run_lockstep
from bench.measure import Timer, ms_context

LOOP_TARGET = 0.9
EPOCHS_BUILT = 1000  # the LR schedule is built for this many epochs; each round trains one of them
LABELS = {"loop": "train.py loop (engine fit: pipeline, read points)", "bare": "bare train step, fixed batch",
          "after": "one CheckpointEvaluator (eval.py)"}


def epoch_recorder() -> Any:
    """A ``fit`` callback that keeps the last epoch's summary and counts the host reads, nothing else."""
    from mindzoo.train.callbacks import Callback

    class EpochRecorder(Callback):
        def __init__(self) -> None:
            self.reads = 0
            self.summary: Any = None

        def on_read(self, run: Any, readout: Any) -> None:
            self.reads += 1

        def on_epoch_end(self, run: Any, summary: Any) -> None:
            self.summary = summary

    return EpochRecorder()


class TrainLoop:
    """train.py's loop (``mode="loop"``) or its bare train step on a fixed batch (``mode="bare"``), one epoch's
    steps a round. ``images`` is the folder's image count, for bench.budget's estimate."""

    def __init__(self, data_dir: str, out_dir: str, mode: str, model: str, batch: int, size: int, num_classes: int,
                 images: int = 0, threads: int = 0) -> None:
        if mode not in ("loop", "bare"):
            raise ValueError(f"mode must be loop or bare, got {mode!r}")
        self.data_dir, self.out_dir, self.mode, self.model = data_dir, out_dir, mode, model
        self.batch, self.size, self.num_classes, self.threads = batch, size, num_classes, threads

    def setup(self) -> Dict[str, Any]:
        info = ms_context(self.threads)
        from mindzoo.config import load_config
        from mindzoo.data.dataset import auto_num_workers
        from mindzoo.train.engine import build_run

        cfg = load_config(overrides={
            "net_name": self.model, "num_classes": self.num_classes, "batch_size": self.batch,
            "train_image_size": self.size, "data_path": self.data_dir, "output_dir": self.out_dir,
            "epoch_size": EPOCHS_BUILT, "run_eval": False})
        with Timer() as t:
            self.run = build_run(cfg, write_outputs=False)
        self.steps = self.run.steps_per_epoch
        info.update(build_s=round(t.seconds, 3), steps_per_epoch=self.steps, log_interval=cfg.log_interval,
                    data_workers=cfg.num_parallel_workers or auto_num_workers(), mode=self.mode)
        if self.mode == "loop":
            self.recorder = epoch_recorder()
            first = self._epoch()
            info.update(first_epoch_s=round(first["seconds"], 3), stepper="Model.train",
                        dataset_sink_mode=cfg.dataset_sink_mode, reads_per_epoch=first["reads"])
        else:
            iterator = self.run.data.train_dataset(0).create_tuple_iterator(num_epochs=1)
            self.fixed_images, self.fixed_labels = next(iterator)
            iterator.stop()
            with Timer() as t:
                self._steps(1)
            info["first_step_s"] = round(t.seconds, 3)
            self._steps(self.steps)  # warm-up round, as the loop's first epoch
        return info

    def _epoch(self) -> Dict[str, Any]:
        from mindzoo.train.engine import fit

        run = self.run
        run.cfg.epoch_size = run.position.epochs_done + 1  # fit trains up to epoch_size: exactly one more epoch
        self.recorder.reads = 0
        with Timer() as t:
            fit(run, callbacks=[self.recorder])
        summary = self.recorder.summary
        return t.record(steps=summary.steps, epoch_overhead_s=t.seconds - summary.seconds, reads=self.recorder.reads,
                        loss=summary.mean_loss)

    def _steps(self, steps: int) -> float:
        for _ in range(steps):
            out = self.run.train_step(self.fixed_images, self.fixed_labels)
        return float(out[0].asnumpy())

    def step(self) -> Dict[str, Any]:
        if self.mode == "loop":
            return self._epoch()
        with Timer() as t:
            loss = self._steps(self.steps)
        return t.record(steps=self.steps, loss=loss)

    def finish(self) -> Dict[str, Any]:
        return {}


class Checkpoints:
    """Write ``count`` checkpoints of ``model`` under train.py's names, seeded random weights (one seed each: the
    values differ, the structure is one); no measured steps."""

    def __init__(self, model: str, num_classes: int, count: int, out_dir: str, threads: int = 0) -> None:
        self.model, self.num_classes, self.count, self.out_dir, self.threads = model, num_classes, count, out_dir, threads

    def setup(self) -> Dict[str, Any]:
        ms_context(self.threads)
        import mindspore as ms

        from mindzoo import create_model
        from mindzoo.weights.naming import checkpoint_name

        out = Path(self.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for epoch in range(1, self.count + 1):
            path = out / checkpoint_name(self.model, epoch, 10)
            if not path.exists():
                ms.set_seed(epoch)
                ms.save_checkpoint(create_model(self.model, num_classes=self.num_classes), str(path))
            paths.append(str(path))
        return {"checkpoints": paths}

    def step(self) -> Dict[str, Any]:
        return {}

    def finish(self) -> Dict[str, Any]:
        return {}


class EvalSweep:
    """eval.py's work over a checkpoint directory with one CheckpointEvaluator; one sweep a round. ``checkpoints``
    and ``images`` are for bench.budget's estimate."""

    def __init__(self, data_dir: str, checkpoint_dir: str, model: str, size: int, batch: int, num_classes: int,
                 checkpoints: int = 0, images: int = 0, threads: int = 0) -> None:
        self.data_dir, self.checkpoint_dir, self.model = data_dir, checkpoint_dir, model
        self.size, self.batch, self.num_classes, self.threads = size, batch, num_classes, threads

    def setup(self) -> Dict[str, Any]:
        """eval.py's inputs: its checkpoint list, val folder, geometry and pipeline (built once)."""
        info = ms_context(self.threads)
        from mindzoo import create_model
        from mindzoo.cli.eval import resolve_val_dir
        from mindzoo.weights.naming import checkpoint_files
        from mindzoo.config import load_config
        from mindzoo.data import create_dataset, geometry_from_config, geometry_transforms, validate_image_folder

        cfg = load_config(overrides={"net_name": self.model, "num_classes": self.num_classes,
                                     "eval_image_size": self.size, "eval_batch_size": self.batch,
                                     "data_path": self.data_dir, "pretrained": self.checkpoint_dir})
        self.cfg = cfg
        self.checkpoints = checkpoint_files(cfg.pretrained)
        val_dir = resolve_val_dir(cfg.data_path)
        data_info = validate_image_folder(val_dir, cfg.num_classes, skip_bad_images=cfg.skip_bad_images)
        net = create_model(cfg.net_name, num_classes=cfg.num_classes, pretrained=str(self.checkpoints[0]))
        geometry = geometry_from_config(net.data_config, cfg)
        self.dataset = create_dataset(str(val_dir.parent), val_dir.name, geometry_transforms(geometry),
                                      cfg.eval_batch_size, shuffle=False, num_parallel_workers=cfg.num_parallel_workers,
                                      drop_remainder=False, info=data_info)
        shapes = sorted({int(labels.shape[0]) for _, labels in self.dataset.create_tuple_iterator(num_epochs=1)},
                        reverse=True)
        cold = self._sweep()
        info.update(checkpoints=len(self.checkpoints), images=data_info.num_images,
                    batch_sizes=shapes, batch_shapes=len(shapes), fold_bn=cfg.fold_bn, crop=geometry.crop_size,
                    cold_total_s=round(cold["seconds"], 3), cold_first_result_s=round(cold["first_result_s"], 3),
                    cold_graphs_compiled=cold["graphs_compiled"])
        return info

    def _sweep(self) -> Dict[str, Any]:
        from mindzoo.eval.sweep import CheckpointEvaluator

        cfg = self.cfg
        evaluator: Optional[CheckpointEvaluator] = None
        checkpoint_s: List[float] = []
        graphs_after_each: List[int] = []
        counts: List[List[int]] = []
        with Timer() as total:
            start = time.perf_counter()
            first_result_s = 0.0
            for ckpt in self.checkpoints:
                t0 = time.perf_counter()
                if evaluator is None:
                    evaluator = CheckpointEvaluator(cfg.net_name, cfg.num_classes, ckpt, fold_bn=cfg.fold_bn)
                else:
                    evaluator.load(ckpt)
                result = evaluator.evaluate(self.dataset)
                checkpoint_s.append(time.perf_counter() - t0)
                first_result_s = first_result_s or time.perf_counter() - start
                graphs_after_each.append(evaluator.graphs_compiled)
                counts.append([result.correct_top1, result.correct_top5, result.total])
        return total.record(first_result_s=first_result_s, checkpoint_s=checkpoint_s,
                            graphs_compiled=graphs_after_each[-1], graphs_after_each=graphs_after_each, counts=counts)

    def step(self) -> Dict[str, Any]:
        return self._sweep()

    def finish(self) -> Dict[str, Any]:
        return {}


# ----------------------------------------------------------------------------------------------------------
# parent side
# ----------------------------------------------------------------------------------------------------------
def plan(ctx: Context) -> Dict[str, Dict[str, Any]]:
    if ctx.quick:
        return {"loop": {"model": "resnet18", "batch": 8, "size": 32, "num_classes": 4, "images": 64, "rounds": 3},
                "eval": {"model": "resnet18", "size": 32, "batch": 8, "num_classes": 4, "images": 20,
                         "checkpoints": 3, "rounds": 2}}
    return {"loop": {"model": "resnet18", "batch": 8, "size": 32, "num_classes": 4, "images": 384, "rounds": 3},
            "eval": {"model": "resnet18", "size": 64, "batch": 32, "num_classes": 4, "images": 300, "checkpoints": 5,
                     "rounds": 2}}


def loop_specs(ctx: Context, p: Dict[str, Any]) -> List[Dict[str, Any]]:
    common = {k: p[k] for k in ("model", "batch", "size", "num_classes", "images")}
    common.update(data_dir=str(ctx.work_dir / "engine-images"), out_dir=str(ctx.work_dir / "engine-output"))
    return [{**common, "mode": mode} for mode in ("loop", "bare")]


def checkpoint_spec(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    return {"model": p["model"], "num_classes": p["num_classes"], "count": p["checkpoints"],
            "out_dir": str(ctx.work_dir / "engine-checkpoints")}


def eval_spec(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    spec = {k: p[k] for k in ("model", "size", "batch", "num_classes", "checkpoints", "images")}
    return {**spec, "data_dir": str(ctx.work_dir / "engine-images"),
            "checkpoint_dir": str(ctx.work_dir / "engine-checkpoints")}


def estimate(ctx: Context) -> float:
    p, kind = plan(ctx), ctx.cpu.kind

    def jobs(task: str, specs: List[Dict[str, Any]]) -> List[Any]:
        return [(task, {"threads": ctx.threads, **s}) for s in specs]

    images = p["loop"]["images"] + p["eval"]["images"]
    return (images * budget.SMALL_IMAGE_S * budget.fixed_scale(kind)
            + budget.lockstep_s(jobs("engine.TrainLoop", loop_specs(ctx, p["loop"])), p["loop"]["rounds"], kind)
            + budget.expected("engine.Checkpoints", checkpoint_spec(ctx, p["eval"]), kind).setup_s + budget.EXIT_S
            + budget.lockstep_s(jobs("engine.EvalSweep", [eval_spec(ctx, p["eval"])]), p["eval"]["rounds"], kind))


def make_images(ctx: Context, p: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    from bench.data import SMALL_SIZES, make_image_folder

    root = ctx.work_dir / "engine-images"
    t0 = time.perf_counter()
    out = {"train": make_image_folder(root, "train", p["loop"]["images"], p["loop"]["num_classes"], seed=11,
                                      sizes=SMALL_SIZES),
           "val": make_image_folder(root, "val", p["eval"]["images"], p["eval"]["num_classes"], seed=12,
                                    sizes=SMALL_SIZES)}
    out["generate_s"] = round(time.perf_counter() - t0, 1)
    out["sizes"] = [list(s) for s in SMALL_SIZES]
    return out


def run(ctx: Context) -> Dict[str, Any]:
    p = plan(ctx)
    return {"images": make_images(ctx, p), "loop": run_loop(ctx, p["loop"]), "eval_sweep": run_eval_sweep(ctx, p["eval"])}


def run_loop(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    workers = [ctx.worker(f"engine-{s['mode']}", "engine.TrainLoop", s) for s in loop_specs(ctx, p)]
    rounds_done = run_lockstep(workers, p["rounds"], label="engine loop")
    rows = []
    for w in workers:
        row = w.summary()
        times = w.values("seconds")
        steps = w.setup_info.get("steps_per_epoch")
        t = median(times)
        row.update({"mode": w.spec["mode"], "label": LABELS[w.spec["mode"]], "round_s": [rnd(x) for x in times],
                    "round_s_median": rnd(t), "steps_per_round": steps,
                    "steps_per_s": rnd(steps / t, 3) if t and steps else None,
                    "step_ms": rnd(1000 * t / steps, 2) if t and steps else None})
        if w.spec["mode"] == "loop":
            row.update({"epoch_overhead_s": [rnd(x) for x in w.values("epoch_overhead_s")],
                        "epoch_overhead_s_median": rnd(median(w.values("epoch_overhead_s"))),
                        "reads": [int(x) for x in w.values("reads")]})
        rows.append(row)
    loop, bare = rows
    ratio = paired_ratio(bare.get("round_s", []), loop.get("round_s", []))
    return {**p, "rounds_done": rounds_done, "rows": rows, "target": LOOP_TARGET,
            "loop_over_bare": rnd(ratio, 3), "met": None if ratio is None else ratio >= LOOP_TARGET}


def run_eval_sweep(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    writer = ctx.worker("engine-checkpoints", "engine.Checkpoints", checkpoint_spec(ctx, p))
    print(f"  [engine eval] writing {p['checkpoints']} checkpoints ...", flush=True)
    ok = writer.setup()
    writer.finish()
    if not ok:
        return {**p, "error": f"writing the checkpoints failed: {writer.error}", "rows": []}
    w = ctx.worker("engine-eval", "engine.EvalSweep", eval_spec(ctx, p))
    rounds_done = run_lockstep([w], p["rounds"], label="engine eval")
    per_ckpt = [s["checkpoint_s"] for s in w.steps]
    compiled = [int(x) for x in w.values("graphs_compiled")]
    row = {**w.summary(), "mode": "after", "label": LABELS["after"],  # "after": older files also have "before"
           "total_s": [rnd(x) for x in w.values("seconds")], "total_s_median": rnd(median(w.values("seconds"))),
           "first_result_s": [rnd(x) for x in w.values("first_result_s")],
           "first_result_s_median": rnd(median(w.values("first_result_s"))),
           "checkpoint_s_median": [rnd(median(list(x))) for x in zip(*per_ckpt)],
           "graphs_compiled_rounds": compiled, "graphs_compiled": compiled[-1] if compiled else None,
           "graphs_after_each": w.steps[-1]["graphs_after_each"] if w.steps else [],
           "counts": w.steps[-1]["counts"] if w.steps else []}
    shapes = row.get("batch_shapes")
    return {**p, "rounds_done": rounds_done, "rows": [row], "batch_shapes": shapes, "batch_sizes": row.get("batch_sizes"),
            "compiles_once_per_shape": (row.get("graphs_compiled") == shapes) if shapes else None}

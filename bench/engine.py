"""Section ``engine``: what train.py's loop costs around its train step, on a model small enough for it to show.

Two processes in lockstep (:class:`TrainLoop`) from the same train.py config: ``loop`` trains one more epoch a round
through ``fit``, ``bare`` calls the same train step as many times on one fixed batch. Method and results: NOTES.md
section 6; the retired ``eval_sweep`` (eval.py over a checkpoint directory): section 5.5.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List

from bench import budget
from bench.common import Context, median, paired_ratio, rnd, run_lockstep
from bench.measure import Task, Timer, ms_context

LOOP_TARGET = 0.9
EPOCHS_BUILT = 1000  # the LR schedule is built for this many epochs; each round trains one of them
LABELS = {"loop": "train.py loop (engine fit: pipeline, read points)", "bare": "bare train step, fixed batch"}


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


class TrainLoop(Task):
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


def plan(ctx: Context) -> Dict[str, Any]:
    images = 64 if ctx.quick else 384
    return {"model": "resnet18", "batch": 8, "size": 32, "num_classes": 4, "images": images, "rounds": 3}


def loop_specs(ctx: Context, p: Dict[str, Any]) -> List[Dict[str, Any]]:
    common = {k: p[k] for k in ("model", "batch", "size", "num_classes", "images")}
    common.update(data_dir=str(ctx.work_dir / "engine-images"), out_dir=str(ctx.work_dir / "engine-output"))
    return [{**common, "mode": mode} for mode in ("loop", "bare")]


def estimate(ctx: Context) -> float:
    p, kind = plan(ctx), ctx.cpu.kind
    jobs = [("engine.TrainLoop", {"threads": ctx.threads, **s}) for s in loop_specs(ctx, p)]
    return p["images"] * budget.SMALL_IMAGE_S * budget.fixed_scale(kind) + budget.lockstep_s(jobs, p["rounds"], kind)


def make_images(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    from bench.data import SMALL_SIZES, make_image_folder

    t0 = time.perf_counter()
    out = {"train": make_image_folder(ctx.work_dir / "engine-images", "train", p["images"], p["num_classes"], seed=11,
                                      sizes=SMALL_SIZES)}
    out["generate_s"] = round(time.perf_counter() - t0, 1)
    out["sizes"] = [list(s) for s in SMALL_SIZES]
    return out


def run(ctx: Context) -> Dict[str, Any]:
    p = plan(ctx)
    return {"images": make_images(ctx, p), "loop": run_loop(ctx, p)}


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

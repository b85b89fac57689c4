"""Section ``train``: img/s of train.py's train step (GRAPH mode, on a fixed batch) vs PyTorch eager on the same
network (tests/refnets/torch_reference.py) with the same SGD, weight decay and label smoothing, in PyTorch's fp32
NCHW, channels_last, bf16 autocast and bf16 + channels_last modes.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List

from bench import budget
from bench.common import Context, median, paired_ratio, rnd, run_lockstep, torch_env
from bench.cpu import skipped_row, torch_mode_skip
from bench.measure import Task, Timer, build_torch_model, ms_context

# PyTorch's modes, in the order of the report's columns, with their labels (``_passive``: OMP_WAIT_POLICY=PASSIVE)
TORCH_LABELS = {"fp32": "PyTorch fp32 NCHW", "fp32_passive": "PyTorch fp32 NCHW, OMP PASSIVE",
                "cl": "PyTorch fp32 channels_last", "bf16": "PyTorch bf16 autocast",
                "bf16_cl": "PyTorch bf16 + channels_last"}
NUM_CLASSES = 1000


class MsTrain(Task):
    def __init__(self, model: str, batch: int, size: int, threads: int = 0) -> None:
        self.model, self.batch, self.size, self.threads = model, batch, size, threads

    def setup(self) -> Dict[str, Any]:
        info = ms_context(self.threads)
        import mindspore as ms
        import numpy as np

        from mindzoo.train.engine import build_network, make_train_step

        t0 = time.perf_counter()
        cfg = self._config()
        net = build_network(cfg)
        self.step_cell, _ = make_train_step(cfg, net, steps_per_epoch=100_000, global_batch=self.batch)
        info["build_s"] = round(time.perf_counter() - t0, 3)
        rng = np.random.default_rng(0)
        self.x = ms.Tensor(rng.standard_normal((self.batch, 3, self.size, self.size), dtype=np.float32))
        self.y = ms.Tensor(rng.integers(0, NUM_CLASSES, self.batch, dtype=np.int32))
        with Timer() as compile_t:
            self.step_cell.compile(self.x, self.y)
        with Timer() as first_t:
            self._run()
        info.update(compile_s=round(compile_t.seconds, 3), first_step_s=round(compile_t.seconds + first_t.seconds, 3))
        self._run()  # one warm-up step
        return info

    def _config(self) -> Any:
        """train.py's configuration for this benchmark (one epoch of a constant LR, so no schedule effects)."""
        from mindzoo.config import load_config

        return load_config(overrides={
            "net_name": self.model, "num_classes": NUM_CLASSES, "batch_size": self.batch,
            "train_image_size": self.size, "epoch_size": 1, "warmup_epochs": 0,
            "lr": 0.01, "lr_base_batch": 0, "lr_schedule": "constant", "momentum": 0.9, "weight_decay": 1e-4,
            "label_smoothing": 0.1, "loss_scale_type": "fixed", "loss_scale": 1.0, "run_eval": False})

    def _run(self) -> float:
        return float(self.step_cell(self.x, self.y)[0].asnumpy())

    def step(self) -> Dict[str, Any]:
        with Timer() as t:
            loss = self._run()
        return t.record(img_s=self.batch / t.seconds, loss=loss)


class TorchTrain(Task):
    def __init__(self, model: str, batch: int, size: int, threads: int = 0, mode: str = "fp32") -> None:
        self.model, self.batch, self.size, self.threads, self.mode = model, batch, size, threads, mode

    def setup(self) -> Dict[str, Any]:
        import os

        import torch

        if self.threads:
            torch.set_num_threads(int(self.threads))
        self.torch = torch
        t0 = time.perf_counter()
        net = build_torch_model(self.model, NUM_CLASSES).train()
        decay = [p for n, p in net.named_parameters() if p.ndim > 1]
        no_decay = [p for n, p in net.named_parameters() if p.ndim <= 1]
        self.opt = torch.optim.SGD([{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0.0}],
                                   lr=0.01, momentum=0.9)
        self.loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(self.batch, 3, self.size, self.size, generator=gen)
        self.y = torch.randint(0, NUM_CLASSES, (self.batch,), generator=gen)
        if "cl" in self.mode.split("_"):
            net = net.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.net = net
        self.bf16 = self.mode.startswith("bf16")
        build_s = time.perf_counter() - t0
        with Timer() as t:
            self._run()
        self._run()  # one warm-up step
        return {"framework": "torch", "mode": self.mode, "build_s": round(build_s, 3),
                "first_step_s": round(t.seconds, 3), "torch_threads": torch.get_num_threads(),
                "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA")}

    def _run(self) -> float:
        torch = self.torch
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.net(self.x)
        loss = self.loss_fn(logits.float(), self.y)
        loss.backward()
        self.opt.step()
        return float(loss.item())

    def step(self) -> Dict[str, Any]:
        with Timer() as t:
            loss = self._run()
        return t.record(img_s=self.batch / t.seconds, loss=loss)


def plan(ctx: Context) -> List[Dict[str, Any]]:
    """One lockstep group per model: ours and each PyTorch mode. ``fp32_passive`` is fp32 NCHW with
    ``OMP_WAIT_POLICY=PASSIVE``; our ratio is taken against the faster fp32 of each round."""
    if ctx.quick:
        return [{"model": "resnet18", "batch": 4, "size": 64, "rounds": 2,
                 "torch_modes": ["fp32", "fp32_passive", "bf16_cl"]}]
    return [
        {"model": "resnet50", "batch": 32, "size": 224, "rounds": 5,
         "torch_modes": ["fp32", "fp32_passive", "cl", "bf16", "bf16_cl"]},
        {"model": "resnext152_64x4d", "batch": 8, "size": 224, "rounds": 3,
         "torch_modes": ["fp32", "fp32_passive", "bf16_cl"]},
    ]


def summarize(worker: Any, batch: int) -> Dict[str, Any]:
    out = worker.summary()
    times = worker.values("seconds")
    step_s = median(times)
    out.update({"batch": batch, "step_s": [rnd(t) for t in times], "step_s_median": rnd(step_s),
                "img_per_s": rnd(batch / step_s if step_s else None, 3)})
    return out


def torch_spec(common: Dict[str, Any], mode: str) -> Dict[str, Any]:
    return {**common, "mode": mode[: -len("_passive")] if mode.endswith("_passive") else mode}


def torch_worker(ctx: Context, model: str, common: Dict[str, Any], mode: str) -> Any:
    return ctx.worker(f"train-{model}-torch-{mode}", "train.TorchTrain", torch_spec(common, mode),
                      env=torch_env(passive=mode.endswith("_passive")))


def group_common(g: Dict[str, Any]) -> Dict[str, Any]:
    return {"model": g["model"], "batch": g["batch"], "size": g["size"]}


def estimate(ctx: Context) -> float:
    """Expected seconds of this section on ``ctx.cpu``'s kind (skipped modes cost nothing)."""
    total = 0.0
    for g in plan(ctx):
        common = {"threads": ctx.threads, **group_common(g)}
        jobs = [("train.MsTrain", common)]
        jobs += [("train.TorchTrain", torch_spec(common, m)) for m in g["torch_modes"]
                 if not ctx.skip(torch_mode_skip(m, ctx.cpu))]
        total += budget.lockstep_s(jobs, g["rounds"], ctx.cpu.kind)
    return total


def run(ctx: Context) -> Dict[str, Any]:
    groups = []
    for g in plan(ctx):
        common = group_common(g)
        skips = {m: ctx.skip(torch_mode_skip(m, ctx.cpu)) for m in g["torch_modes"]}
        measured = [m for m in g["torch_modes"] if not skips[m]]
        workers = [ctx.worker(f"train-{g['model']}-ms", "train.MsTrain", common)]
        workers += [torch_worker(ctx, g["model"], common, m) for m in measured]
        rounds_done = run_lockstep(workers, g["rounds"], label=f"train {g['model']}")
        by_mode = dict(zip(["ms", *measured], (summarize(w, g["batch"]) for w in workers)))
        for mode, reason in skips.items():
            if reason:
                print(f"  [train {g['model']}] PyTorch {mode}: skipped: {reason.text}", flush=True)
                by_mode[mode] = skipped_row(reason, name=f"train-{g['model']}-torch-{mode}", task="train.TorchTrain",
                                            spec={"threads": ctx.threads, **torch_spec(common, mode)}, batch=g["batch"])
        rows = [by_mode[m] for m in ["ms", *g["torch_modes"]]]
        for row, mode in zip(rows, ["ms", *g["torch_modes"]]):
            row["mode"] = mode
            row["label"] = "MindSpore GRAPH fp32 (ours)" if mode == "ms" else TORCH_LABELS[mode]
        fp32 = [r for r in rows if r["mode"] in ("fp32", "fp32_passive") and r.get("step_s")]
        # the peer's best fp32 NCHW of each round (default vs passive OpenMP waiting: which wins depends on load)
        best = [min(ts) for ts in zip(*(r["step_s"] for r in fp32))] if fp32 else []
        for row in rows:  # speed ratios, paired per round: PyTorch step time / this step time
            if row.get("skipped"):
                continue
            row["vs_torch_fp32"] = rnd(paired_ratio(best, row["step_s"]), 3) if best else None
            for r in fp32:
                key = "vs_torch_fp32_passive" if r["mode"] == "fp32_passive" else "vs_torch_fp32_default"
                row[key] = rnd(paired_ratio(r["step_s"], row["step_s"]), 3)
        groups.append({**g, "rounds_done": rounds_done, "rows": rows, "ms_img_per_s": rows[0].get("img_per_s"),
                       "torch_fp32_best_step_s": [rnd(t) for t in best]})
    return {"groups": groups}

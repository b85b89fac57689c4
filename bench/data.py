"""Section ``data``: ``mindspore.dataset`` pipelines (train.py's train and eval transforms at 224, batch 32, 1 and
2 workers) on generated JPEGs of ImageNet's sizes and file size, so decoding costs what it does on ImageNet; and
their img/s over what this run's MindSpore train step consumes.
"""
from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from bench import budget
from bench.common import Context, median, ratio, rnd, run_lockstep
from bench.measure import Task, Timer

IMAGENET_LIKE_SIZES: Tuple[Tuple[int, int], ...] = ((500, 375), (375, 500), (500, 333), (500, 400), (333, 500),
                                                    (500, 375), (450, 350), (500, 375))
# small photos (CIFAR-like thumbnails) for models run at 32-64 px, where decoding should cost what it would there
SMALL_SIZES: Tuple[Tuple[int, int], ...] = ((80, 60), (60, 80), (72, 72), (80, 64))
JPEG_QUALITY = 90


def synthetic_image(width: int, height: int, seed: int) -> Any:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.full((height, width, 3), 128.0, np.float32)
    for c in range(3):
        for _ in range(6):
            fx, fy = rng.uniform(0.002, 0.08, 2)
            img[..., c] += rng.uniform(10, 40) * np.sin(6.2832 * (fx * xx + fy * yy) + rng.uniform(0, 6.3))
    img += rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def make_image_folder(root: Path, split: str, num_images: int, num_classes: int = 4, seed: int = 0,
                      sizes: Sequence[Tuple[int, int]] = IMAGENET_LIKE_SIZES) -> Dict[str, Any]:
    """Write (once) ``root/split/class_k/img_i.JPEG`` of ``sizes`` (width, height; in turn); return the count and
    mean file size."""
    folder = Path(root) / split
    shapes = "" if tuple(sizes) == IMAGENET_LIKE_SIZES else "-" + "-".join(f"{w}x{h}" for w, h in sizes)
    marker = folder / f".complete-{num_images}-{num_classes}-{seed}{shapes}"
    if not marker.exists():
        for i in range(num_images):
            width, height = sizes[i % len(sizes)]
            class_dir = folder / f"class_{i % num_classes:03d}"
            class_dir.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            synthetic_image(width, height, seed * 100_003 + i).save(buf, format="JPEG", quality=JPEG_QUALITY)
            (class_dir / f"img_{i:05d}.JPEG").write_bytes(buf.getvalue())
        marker.write_text("")
    files = [p for p in folder.rglob("*.JPEG")]
    return {"path": str(folder), "images": len(files),
            "mean_kb": round(sum(p.stat().st_size for p in files) / max(1, len(files)) / 1024, 1)}


class Pipeline(Task):
    def __init__(self, data_dir: str, kind: str, workers: int, batch: int = 32, size: int = 224,
                 batches_per_step: int = 32, threads: int = 0) -> None:
        self.data_dir, self.kind, self.workers, self.batch, self.size = data_dir, kind, workers, batch, size
        self.batches_per_step = batches_per_step

    def setup(self) -> Dict[str, Any]:
        import mindzoo  # noqa: F401  (ONEDNN_MAX_CPU_ISA before mindspore)
        from mindzoo.data import create_dataset, eval_transforms, train_transforms
        from mindzoo.models import DataConfig

        cfg = DataConfig()
        transforms = train_transforms(self.size, cfg) if self.kind == "train" else eval_transforms(self.size, cfg)
        t0 = time.perf_counter()
        dataset = create_dataset(self.data_dir, "train", transforms, self.batch, shuffle=self.kind == "train",
                                 num_parallel_workers=self.workers, drop_remainder=True)
        self.iterator = dataset.repeat(1_000_000).create_tuple_iterator(num_epochs=1)
        build_s = time.perf_counter() - t0
        with Timer() as t:
            images, labels = next(self.iterator)
        shape = list(images.shape)
        for _ in range(self.batches_per_step - 1):  # warm pass: workers started, files in the page cache
            next(self.iterator)
        return {"build_s": round(build_s, 3), "first_batch_s": round(t.seconds, 3), "batch_shape": shape,
                "dtype": str(images.dtype)}

    def step(self) -> Dict[str, Any]:
        with Timer() as t:
            for _ in range(self.batches_per_step):
                next(self.iterator)
        return t.record(img_s=self.batches_per_step * self.batch / t.seconds)


def train_consumption(ctx: Context) -> Tuple[Any, Any]:
    """(img/s, description) of the MindSpore train step measured earlier in this run, if any."""
    groups = ctx.results.get("train", {}).get("groups", [])
    if not groups:
        return None, None
    g = groups[0]
    return g.get("ms_img_per_s"), f"{g['model']} batch {g['batch']} {g['size']}x{g['size']} train step (train section)"


def plan(ctx: Context) -> Dict[str, Any]:
    """Pipelines over ``images`` generated JPEGs, ``batches`` batches a round."""
    if ctx.quick:
        return {"images": 64, "batches": 4, "rounds": 2}
    return {"images": 256, "batches": 48, "rounds": 3}


def pipeline_specs(ctx: Context, root: Path, batches: int) -> List[Dict[str, Any]]:
    worker_counts = [1, 2] if ctx.threads >= 2 else [1]
    return [{"data_dir": str(root), "kind": kind, "workers": n, "batches_per_step": batches}
            for kind in ("train", "eval") for n in worker_counts]


IMAGE_S = 0.015  # generating one ImageNet-sized JPEG (make_image_folder), Zen 5


def estimate(ctx: Context) -> float:
    p, kind = plan(ctx), ctx.cpu.kind
    pipelines = budget.lockstep_s([("data.Pipeline", s) for s in pipeline_specs(ctx, ctx.work_dir, p["batches"])],
                                  p["rounds"], kind)
    return p["images"] * IMAGE_S * budget.fixed_scale(kind) + pipelines


def run(ctx: Context) -> Dict[str, Any]:
    p = plan(ctx)
    root = ctx.work_dir / "images"
    t0 = time.perf_counter()
    folder = make_image_folder(root, "train", p["images"])
    folder["generate_s"] = round(time.perf_counter() - t0, 1)
    workers = [ctx.worker(f"data-{spec['kind']}-{spec['workers']}w", "data.Pipeline", spec)
               for spec in pipeline_specs(ctx, root, p["batches"])]
    for w in workers:  # one at a time: a prefetching pipeline stepped next to others would be flattered
        run_lockstep([w], p["rounds"], label="data")
    consumption, consumer = train_consumption(ctx)
    rows = []
    for w in workers:
        row = w.summary()
        rates = w.values("img_s")
        row.update({"kind": w.spec["kind"], "workers": w.spec["workers"], "img_s": [rnd(r, 1) for r in rates],
                    "img_per_s": rnd(median(rates), 1)})
        row["x_train_step"] = rnd(ratio(row["img_per_s"], consumption), 1)
        rows.append(row)
    best_train = max((r for r in rows if r["kind"] == "train" and r.get("img_per_s")),
                     key=lambda r: r["workers"], default=None)
    return {"images": folder, "rows": rows, "train_step_img_per_s": consumption, "train_step": consumer,
            "train_consumption_ratio": best_train and best_train.get("x_train_step")}

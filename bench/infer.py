"""Section ``infer``: batch-1 latency and batch-32 throughput of every inference path we ship, in lockstep.

export.py's ``run_export`` writes a seeded random checkpoint as MINDIR, ONNX and INT8 ONNX (and with
``--fold_bn=False``); one process each runs the eval network as eval.py builds it, the MINDIRs through
``nn.GraphCell``, ONNX Runtime from Python and the C++ harness as scripts/run_infer_310.sh runs it. Every process
reports the top-1 class of one fixed input: all paths must run one network.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bench import budget
from bench.common import REPO, Context, median, paired_ratio, rnd, run_bounded, run_lockstep
from bench.measure import Task, Timer, ms_context

LABELS = {"ms_eval": "MindSpore eval network (GRAPH, BN folded as eval.py)", "mindir": "exported MINDIR via nn.GraphCell",
          "ort": "ONNX Runtime (Python) on our ONNX", "cpp": "C++ harness (ONNX Runtime backend)",
          "ms_eval_unfolded": "MindSpore eval network, BN kept (--fold_bn=False)",
          "ort_nospin": "ONNX Runtime (Python), intra-op spinning off",
          "mindir_unfolded": "exported MINDIR, BN kept (--fold_bn=False)",
          "ort_int8": "ONNX Runtime (Python) on the INT8 ONNX (--quantize=int8)",
          "cpp_int8": "C++ harness (ONNX Runtime backend) on the INT8 ONNX"}


def fixed_input(batch: int, size: int) -> Any:
    import numpy as np

    return np.random.default_rng(batch).standard_normal((batch, 3, size, size), dtype=np.float32)


class Export(Task):
    """Write the checkpoint and export it with export.py's ``run_export``; no measured steps."""

    def __init__(self, model: str, num_classes: int, size: int, out_dir: str, threads: int = 0,
                 formats: Optional[List[str]] = None, unfolded: bool = True, calib_data: str = "",
                 calib_images: int = 0) -> None:
        self.model, self.num_classes, self.size, self.out_dir, self.threads = model, num_classes, size, out_dir, threads
        self.formats = formats or ["MINDIR", "ONNX"]
        self.unfolded = unfolded
        self.calib_data, self.calib_images = calib_data, calib_images

    def setup(self) -> Dict[str, Any]:
        ms_context(self.threads)
        import mindspore as ms

        from mindzoo import create_model
        from mindzoo.cli.export import run_export
        from mindzoo.deploy.sidecar import read_sidecar

        ms.set_seed(0)
        out = Path(self.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        ckpt = out / f"{self.model}.ckpt"
        if not ckpt.exists():
            ms.save_checkpoint(create_model(self.model, num_classes=self.num_classes), str(ckpt))
        files: Dict[str, Any] = {"ckpt": str(ckpt)}
        seconds: Dict[str, float] = {}
        jobs = [(fmt, "dynamic", ["--dynamic_batch=True"]) for fmt in self.formats]
        if self.unfolded:  # export.py folds BN by default; this is the graph it would write without
            jobs.append(("MINDIR", "unfolded_dynamic", ["--dynamic_batch=True", "--fold_bn=False"]))
        if self.calib_data:  # random weights: agreement with fp32 is recorded, not required
            jobs.append(("ONNX", "int8_dynamic", ["--dynamic_batch=True", "--quantize=int8",
                                                  f"--calib_data={self.calib_data}",
                                                  f"--calib_images={self.calib_images}", "--int8_min_agreement=0"]))
        for fmt, tag, extra in jobs:
            name = out / f"{self.model}-{tag}"
            argv = [f"--net_name={self.model}", f"--num_classes={self.num_classes}", f"--ckpt_file={ckpt}",
                    f"--file_name={name}", f"--file_format={fmt}", f"--width={self.size}", f"--height={self.size}",
                    *extra]
            t0 = time.perf_counter()
            result = run_export(argv, set_context=False)
            seconds[f"{fmt.lower()}_{tag}"] = round(time.perf_counter() - t0, 2)
            files[f"{fmt.lower()}_{tag}"] = str(result.path)
        fold = (read_sidecar(files["mindir_dynamic"]) or {}).get("fold_bn", {}) if "MINDIR" in self.formats else {}
        int8 = (read_sidecar(files["onnx_int8_dynamic"]) or {}).get("quantization", {}) if self.calib_data else {}
        return {"files": files, "export_s": seconds, "fold_bn": fold, "int8": int8}


class _Infer(Task):
    """Common loop: batch-1 latency calls and one batch-32 call per step."""

    def __init__(self, size: int = 224, batch: int = 32, latency_iters: int = 10, warmup: int = 2,
                 threads: int = 0, **kwargs: Any) -> None:
        self.size, self.batch, self.latency_iters, self.warmup, self.threads = size, batch, latency_iters, warmup, threads
        self.kwargs = kwargs

    def load(self) -> Dict[str, Any]:
        raise NotImplementedError

    def run(self, x: Any) -> Any:
        """Run on a numpy batch and return numpy logits (the conversion is part of what a caller pays)."""
        raise NotImplementedError

    def setup(self) -> Dict[str, Any]:
        with Timer() as t:
            info = self.load() or {}
        info["load_s"] = round(t.seconds, 3)
        self.x1 = fixed_input(1, self.size)
        self.xb = fixed_input(self.batch, self.size) if self.batch else None
        with Timer() as t:
            logits = self.run(self.x1)
        info["first_step_s"] = round(t.seconds, 3)
        info["top1_of_fixed_input"] = int(logits.reshape(-1).argmax())
        if self.xb is not None:
            with Timer() as t:
                self.run(self.xb)
            info["first_batch_s"] = round(t.seconds, 3)
        for _ in range(self.warmup):
            self.run(self.x1)
        return info

    def step(self) -> Dict[str, Any]:
        with Timer() as total:
            lat = []
            for _ in range(self.latency_iters):
                t0 = time.perf_counter()
                self.run(self.x1)
                lat.append(time.perf_counter() - t0)
            tb = None
            if self.xb is not None:
                t0 = time.perf_counter()
                self.run(self.xb)
                tb = time.perf_counter() - t0
        return total.record(latency_s=lat, batch_s=tb)


class MsEval(_Infer):
    def load(self) -> Dict[str, Any]:
        info = ms_context(self.threads)
        import mindspore as ms

        from mindzoo import create_model

        self.ms = ms
        net = create_model(self.kwargs["model"], num_classes=self.kwargs["num_classes"], pretrained=self.kwargs["ckpt"])
        net.set_train(False)
        if self.kwargs.get("fold_bn", True):  # as eval.py does by default
            from mindzoo.models.fold import fold_batchnorm

            info["folded_bn"] = fold_batchnorm(net)
        self.net = net
        return info

    def run(self, x: Any) -> Any:
        return self.net(self.ms.Tensor(x)).asnumpy()


class Mindir(MsEval):
    """The exported MINDIR, run as the eval network is (``nn.GraphCell`` over ``mindspore.load``)."""

    def load(self) -> Dict[str, Any]:
        info = ms_context(self.threads)
        import mindspore as ms
        from mindspore import nn

        self.ms = ms
        self.net = nn.GraphCell(ms.load(self.kwargs["path"]))
        return info


class Ort(_Infer):
    def load(self) -> Dict[str, Any]:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if self.threads:
            opts.intra_op_num_threads = int(self.threads)
        if not self.kwargs.get("spinning", True):
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(self.kwargs["path"], opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        return {"framework": "onnxruntime", "intra_op_num_threads": self.threads,
                "spinning": self.kwargs.get("spinning", True)}

    def run(self, x: Any) -> Any:
        return self.session.run(None, {self.input_name: x})[0]


class Cpp(Task):
    """The C++ harness binary, run over ``images`` generated JPEGs per step (a fresh process each time)."""

    def __init__(self, binary: str, model_path: str, dataset_path: str, out_dir: str, resize: int = 256,
                 crop: int = 224, threads: int = 0, **_: Any) -> None:
        self.cmd = [binary, "--model_path", model_path, "--dataset_path", dataset_path, "--device_type", "CPU",
                    "--device_id", "0", "--resize", str(resize), "--crop", str(crop), "--output_dir", out_dir,
                    "--warmup", "3"]
        if threads:
            self.cmd += ["--threads", str(threads)]
        from mindzoo.deploy.harness_files import RESULT_DIR

        self.out_dir = out_dir
        self.result_dir = Path(out_dir) / RESULT_DIR

    def _run(self) -> Any:
        """One harness run; its timing file (mindzoo.deploy.harness_files)."""
        from mindzoo.deploy.harness_files import read_timing
        from mindzoo.procs import run_step

        proc = run_step(self.cmd, capture=True, timeout=1200)
        if proc.returncode != 0:
            raise RuntimeError(f"harness exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]}")
        return read_timing(self.out_dir)

    def setup(self) -> Dict[str, Any]:
        with Timer() as t:
            first = self._run()
        import numpy as np

        from mindzoo.deploy.harness_files import RESULT_SUFFIX

        logits = sorted(self.result_dir.glob(f"*{RESULT_SUFFIX}"))
        return {"framework": "onnxruntime-c++", "first_run_s": round(t.seconds, 3), "first_step_s": None,
                "images_per_run": first.count, "command": " ".join(self.cmd),
                "first_file_top1": int(np.fromfile(logits[0], dtype=np.float32).argmax()) if logits else None}

    def step(self) -> Dict[str, Any]:
        with Timer() as t:
            timing = self._run()
        return t.record(latency_s=[timing.median_ms / 1000.0], mean_ms=timing.mean_ms, batch_s=None)

    def finish(self) -> Dict[str, Any]:
        import resource

        return {"harness_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


HARNESS_BUILD_LIMIT_S = 900.0  # a cold CMake build of ascend310_infer takes a few minutes on 2 cores


def build_harness(backend: str = "onnxruntime") -> Dict[str, Any]:
    """ascend310_infer's build.sh for ``backend`` (``onnxruntime`` or ``mindspore_lite``): the binary, or the error."""
    t0 = time.perf_counter()
    proc = run_bounded(["bash", str(REPO / "ascend310_infer" / "src" / "build.sh"), backend],
                       HARNESS_BUILD_LIMIT_S, f"build.sh {backend}")
    out: Dict[str, Any] = {"build_s": round(time.perf_counter() - t0, 1)}
    if proc.returncode != 0:
        out["error"] = f"build.sh {backend} exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    else:
        out["binary"] = proc.stdout.strip().splitlines()[-1]
    return out


def summarize(worker: Any, kind: str, batch: int) -> Dict[str, Any]:
    row = worker.summary()
    if kind == "cpp":  # the worker only launches the harness: report the harness process's own numbers
        row["peak_rss_mb"] = row.get("harness_peak_rss_mb")
        row["first_step_s"] = row.get("first_run_s")
    lat = worker.values("latency_s")
    bt = worker.values("batch_s")
    b1 = median(lat)
    bmed = median(bt)
    row.update({"kind": kind, "label": LABELS.get(kind, kind),
                "b1_latency_ms": rnd(b1 * 1000 if b1 else None, 2),
                "b1_latency_ms_all": [rnd(x * 1000, 2) for x in lat],
                "b1_latency_ms_rounds": [rnd(x * 1000 if x else None, 2) for x in worker.round_values("latency_s")],
                "batch_img_per_s": rnd(batch / bmed if bmed else None, 2),
                "batch_s_rounds": [rnd(x, 3) for x in worker.round_values("batch_s")]})
    return row


def compare(rows: List[Dict[str, Any]], base_kind: str, suffix: str) -> None:
    """Paired per-round ratios against ``base_kind``: latency (lower is better) and batch throughput."""
    base = next((r for r in rows if r["kind"] == base_kind), None)
    for row in rows:
        if base is None:
            row[f"latency_vs_{suffix}"] = row[f"throughput_vs_{suffix}"] = None
            continue
        row[f"latency_vs_{suffix}"] = rnd(paired_ratio(row.get("b1_latency_ms_rounds", []),
                                                       base.get("b1_latency_ms_rounds", [])), 3)
        row[f"throughput_vs_{suffix}"] = rnd(paired_ratio(base.get("batch_s_rounds", []),
                                                          row.get("batch_s_rounds", [])), 3)


def plan(ctx: Context) -> Dict[str, Any]:
    if ctx.quick:
        return {"model": "resnet18", "num_classes": 10, "size": 64, "batch": 4, "latency_iters": 3, "rounds": 2,
                "cpp_images": 4, "calib_images": 8}
    return {"model": "resnet50", "num_classes": 1000, "size": 224, "batch": 32, "latency_iters": 5, "rounds": 6,
            "cpp_images": 32, "calib_images": 32}


def export_spec(ctx: Context, p: Dict[str, Any]) -> Dict[str, Any]:
    return {"model": p["model"], "num_classes": p["num_classes"], "size": p["size"],
            "out_dir": str(ctx.work_dir / "export"), "calib_data": str(ctx.work_dir / "calib_images"),
            "calib_images": p["calib_images"]}


def worker_specs(p: Dict[str, Any], files: Dict[str, str]) -> List[Any]:
    """(kind, task, spec) of the lockstep group, the C++ harness aside."""
    common = {"model": p["model"], "size": p["size"], "batch": p["batch"], "latency_iters": p["latency_iters"]}
    net = {"num_classes": p["num_classes"], "ckpt": files.get("ckpt")}
    return [("ms_eval", "infer.MsEval", {**common, **net}),
            ("ms_eval_unfolded", "infer.MsEval", {**common, **net, "fold_bn": False}),
            ("mindir", "infer.Mindir", {**common, "path": files.get("mindir_dynamic")}),
            ("mindir_unfolded", "infer.Mindir", {**common, "path": files.get("mindir_unfolded_dynamic")}),
            ("ort", "infer.Ort", {**common, "path": files.get("onnx_dynamic")}),
            ("ort_nospin", "infer.Ort", {**common, "path": files.get("onnx_dynamic"), "spinning": False}),
            ("ort_int8", "infer.Ort", {**common, "path": files.get("onnx_int8_dynamic"), "int8": True})]


def cpp_spec(ctx: Context, p: Dict[str, Any], binary: str, files: Dict[str, str], dataset: str,
             model: str = "onnx_dynamic") -> Dict[str, Any]:
    return {"binary": binary, "model_path": files.get(model), "dataset_path": dataset,
            "out_dir": str(ctx.work_dir / f"cpp_run_{model}"), "resize": int(p["size"] / 0.875), "crop": p["size"],
            "images": p["cpp_images"], "int8": "int8" in model}


def estimate(ctx: Context) -> float:
    p = plan(ctx)
    jobs = [(task, {"threads": ctx.threads, **spec}) for _, task, spec in worker_specs(p, {})]
    jobs += [("infer.Cpp", cpp_spec(ctx, p, "", {}, "", model)) for model in ("onnx_dynamic", "onnx_int8_dynamic")]
    kind = ctx.cpu.kind
    return (budget.expected("infer.Export", export_spec(ctx, p), kind).setup_s + budget.EXIT_S
            + budget.lockstep_s(jobs, p["rounds"], kind))


def export(ctx: Context, name: str, spec: Dict[str, Any]) -> Dict[str, Any]:
    """export.py's ``run_export`` in a worker (:class:`Export`): its files and checks, or ``{"error": ...}``."""
    w = ctx.worker(name, "infer.Export", spec)
    print(f"  [{name}] exporting {spec['model']} to {', '.join(spec.get('formats') or ['MINDIR', 'ONNX'])} with "
          "export.py's run_export ...", flush=True)
    ok = w.setup()
    w.finish()
    return w.setup_info if ok else {"error": w.error}


def cpp_folder(ctx: Context, images: int) -> str:
    from bench.data import make_image_folder

    return make_image_folder(ctx.work_dir / "cpp_images", "val", images, num_classes=2, seed=7)["path"]


def run(ctx: Context) -> Dict[str, Any]:
    from bench.data import make_image_folder

    p = plan(ctx)
    spec = export_spec(ctx, p)
    make_image_folder(Path(spec["calib_data"]), "val", 2 * p["calib_images"], num_classes=4, seed=11)
    exported = export(ctx, "export", spec)
    result: Dict[str, Any] = {**p, "export": exported}
    if "error" in exported:
        return {**result, "error": f"export failed: {exported['error']}"}
    files = exported["files"]
    specs = worker_specs(p, files)
    harness = build_harness()
    result["harness"] = harness
    if "binary" in harness:
        images = cpp_folder(ctx, p["cpp_images"])
        specs.append(("cpp", "infer.Cpp", cpp_spec(ctx, p, harness["binary"], files, images)))
        specs.append(("cpp_int8", "infer.Cpp",
                      cpp_spec(ctx, p, harness["binary"], files, images, "onnx_int8_dynamic")))
    workers = [ctx.worker(f"infer-{kind}", task, spec) for kind, task, spec in specs]
    result["rounds_done"] = run_lockstep(workers, p["rounds"], label="infer")
    rows = [summarize(w, kind, p["batch"]) for w, (kind, _, _) in zip(workers, specs)]
    if "binary" not in harness:
        rows += [{"kind": kind, "label": LABELS[kind], "error": harness.get("error")} for kind in ("cpp", "cpp_int8")]
    compare(rows, "ort", "ort")
    compare(rows, "cpp", "cpp")
    compare(rows, "ort_nospin", "ort_nospin")
    compare(rows, "ms_eval", "ms_eval")
    result["rows"] = rows
    result["int8"] = int8_summary(ctx, rows, exported.get("int8", {}))
    tops = {r["kind"]: r.get("top1_of_fixed_input") for r in rows
            if r.get("top1_of_fixed_input") is not None and not r["kind"].endswith("_int8")}
    result["top1_agree"] = len(set(tops.values())) <= 1
    result["top1_of_fixed_input"] = tops
    return result


def int8_summary(ctx: Context, rows: List[Dict[str, Any]], quantization: Dict[str, Any]) -> Dict[str, Any]:
    """INT8 speed-ups over fp32 (paired per-round ratios, > 1 = INT8 faster) with the CPU's int8 instructions."""
    by_kind = {r["kind"]: r for r in rows}
    ort_int8, cpp_int8 = by_kind.get("ort_int8", {}), by_kind.get("cpp_int8", {})

    def inverse(value: Optional[float]) -> Optional[float]:
        return rnd(1.0 / value, 3) if value else None

    return {"cpu_int8_features": ctx.cpu.to_json()["int8_features"], "cpu_int8": ctx.cpu.describe_int8(),
            "ort_b1_speedup": inverse(ort_int8.get("latency_vs_ort")),
            "ort_batch_throughput_ratio": ort_int8.get("throughput_vs_ort"),
            "cpp_b1_speedup": inverse(cpp_int8.get("latency_vs_cpp")),
            "top1_agreement_random_weights": quantization.get("verify_int8", {}).get("top1_agreement"),
            "calib_images": quantization.get("calib_images"), "calib_method": quantization.get("calib_method")}

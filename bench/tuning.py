"""Section ``tuning`` (opt-in): the speed experiments of bench/NOTES.md, each against its baseline in lockstep.

Groups (every group's first worker is the baseline; ``x base`` is each variant's speed over it, same rounds):

- ``train-context``: our train step with MindSpore context variants - ``enable_graph_kernel``,
  ``jit_config={"jit_level": O1|O2}``, ``mindspore.runtime.set_cpu_affinity(True)``;
- ``train-feed``: train.py's loop (iterator over the 2-worker JPEG pipeline) vs ``mindspore.data_sink``
  (the runtime pulls ``sink_size`` batches per call) vs the step on a fixed batch;
- ``torch-omp``: the PyTorch peer with libgomp's default wait policy vs ``OMP_WAIT_POLICY=PASSIVE`` vs oneDNN
  capped at AVX2 (what ``import mindzoo`` does to PyTorch in the same process);
- ``infer``: eval network with and without BN folded into the convs, with graph kernel / jit levels;
  static- vs dynamic-batch MINDIR; ONNX Runtime with only basic graph optimisations and without spinning.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from bench import budget
from bench.common import Context, median, paired_ratio, rnd, run_lockstep, status, table, torch_env
from bench.cpu import isa_cap_skip, skipped_row


def _variants_train(ctx: Context) -> Tuple[Dict[str, Any], List[Tuple[str, Dict[str, Any]]]]:
    base = {"model": "resnet18", "batch": 4, "size": 64} if ctx.quick else {"model": "resnet50", "batch": 16, "size": 224}
    return base, [
        ("baseline", {}),
        ("jit_level O1", {"context": {"jit_config": {"jit_level": "O1"}}}),
        ("jit_level O2", {"context": {"jit_config": {"jit_level": "O2"}}}),
        ("cpu_affinity", {"cpu_affinity": True}),
    ]


def _rows(workers: List[Any], labels: List[str], batch: int, key: str = "seconds") -> List[Dict[str, Any]]:
    rows = []
    for w, label in zip(workers, labels):
        if isinstance(w, dict):  # a skipped variant's row
            rows.append({**w, "variant": label})
            continue
        row = w.summary()
        t = median(w.values(key))
        images = batch * (w.spec.get("sink_size") or 1)
        row.update({"variant": label, "step_s_median": rnd(t), "img_per_s": rnd(images / t, 3) if t else None,
                    "step_s": [rnd(x) for x in w.values(key)]})
        rows.append(row)
    for row in rows:  # speed over the baseline, paired per round
        row["x_base"] = rnd(paired_ratio(rows[0]["step_s"], row["step_s"]), 3) if row.get("step_s") else None
    return rows


def _skip(ctx: Context, env: Dict[str, Any]) -> Any:
    """A variant that changes nothing on this CPU (oneDNN capped at AVX2 on a CPU without AVX-512) is skipped."""
    return ctx.skip(isa_cap_skip(env.get("ONEDNN_MAX_CPU_ISA") or "", ctx.cpu))


def _group(ctx: Context, name: str, specs: List[Tuple[str, str, Dict[str, Any], Dict[str, str]]], rounds: int,
           batch: int) -> Dict[str, Any]:
    entries: List[Any] = []
    for i, (_, task, spec, env) in enumerate(specs):
        reason = _skip(ctx, env)
        entries.append(skipped_row(reason, name=f"tuning-{name}-{i}", task=task, spec=spec) if reason
                       else ctx.worker(f"tuning-{name}-{i}", task, spec, env=env))
    workers = [e for e in entries if not isinstance(e, dict)]
    rounds_done = run_lockstep(workers, rounds, label=f"tuning {name}")
    return {"group": name, "rounds": rounds, "rounds_done": rounds_done,
            "rows": _rows(entries, [s[0] for s in specs], batch)}


def train_specs(ctx: Context) -> List[Tuple[str, List[Tuple[str, str, Dict[str, Any], Dict[str, Any]]]]]:
    """(group name, [(label, task, spec, env)]) of the train-side groups, in the order they run."""
    base, variants = _variants_train(ctx)
    # MindSpore keeps its memory pool: at most 3 training processes alive at once (RSS ~2.5 GB each at b16).
    chunks = [variants[:3], [variants[0]] + variants[3:]]
    groups = [(f"train-context-{i + 1}", [(label, "train.MsTrain", {**base, **extra}, {}) for label, extra in chunk])
              for i, chunk in enumerate(c for c in chunks if len(c) > 1)]
    root = ctx.work_dir / "images"
    feed = {**base, "num_classes": 4}
    groups.append(("train-feed", [("fixed batch", "train.MsTrain", feed, {}),
                                  ("train.py loop (iterator)", "train.MsTrain", {**feed, "data_dir": str(root)}, {}),
                                  ("data_sink sink_size=4", "train.MsTrain",
                                   {**feed, "data_dir": str(root), "sink_size": 4}, {})]))
    groups.append(("torch-omp", [
        ("PyTorch fp32, libgomp default wait policy", "train.TorchTrain", {**base, "mode": "fp32"}, torch_env()),
        ("PyTorch fp32, OMP_WAIT_POLICY=PASSIVE", "train.TorchTrain", {**base, "mode": "fp32"},
         torch_env(passive=True)),
        ("PyTorch fp32, ISA capped at AVX2 (as MindSpore)", "train.TorchTrain", {**base, "mode": "fp32"},
         {**torch_env(), "ONEDNN_MAX_CPU_ISA": "AVX2"})]))
    return groups


def estimate(ctx: Context) -> float:
    from bench.infer import export_spec, plan

    rounds, kind = (2 if ctx.quick else 3), ctx.cpu.kind
    total = 0.0
    for _, specs in train_specs(ctx):
        total += budget.lockstep_s([(task, {"threads": ctx.threads, **spec}) for _, task, spec, env in specs
                                    if not _skip(ctx, env)], rounds, kind)
    p = plan(ctx)
    total += budget.expected("infer.Export", export_spec(ctx, p, [1], int8=False), kind).setup_s
    return total + budget.lockstep_s([(task, {"threads": ctx.threads, **spec}) for _, _, task, spec in
                                      infer_specs(p, {})], rounds, kind)


def run(ctx: Context) -> Dict[str, Any]:
    from bench.data import make_image_folder
    from bench.train import MsTrain  # noqa: F401  (fail early if the module is broken)

    rounds = 2 if ctx.quick else 3
    make_image_folder(ctx.work_dir / "images", "train", 64 if ctx.quick else 256)
    groups = []
    for name, specs in train_specs(ctx):
        group = _group(ctx, name, specs, rounds, specs[0][2]["batch"])
        if name == "train-feed":
            for row in group["rows"]:  # MindSpore 2.10 refuses data sinking on CPU: a finding, not a bench failure
                if "sink" in row["variant"] and "supports ascend or gpu" in (row.get("error") or ""):
                    row["unsupported"] = row.pop("error")
        groups.append(group)
    groups.append(infer_group(ctx, rounds))
    return {"groups": groups}


def infer_group(ctx: Context, rounds: int) -> Dict[str, Any]:
    from bench.infer import compare, export_models, plan, summarize

    p = plan(ctx)
    export = export_models(ctx, p, static_batches=[1], int8=False)
    if "error" in export:
        return {"group": "infer", "error": export["error"], "rows": []}
    specs = infer_specs(p, export["files"])
    workers = [ctx.worker(f"tuning-infer-{kind}", task, spec) for kind, _, task, spec in specs]
    rounds_done = run_lockstep(workers, rounds, label="tuning infer")
    rows = []
    for w, (kind, label, _, _) in zip(workers, specs):
        row = summarize(w, kind, 1)
        row["variant"] = label
        rows.append(row)
    for row in rows:  # AKG (graph kernel) needs the `decorator` package, which MindSpore's wheel does not install
        if row["kind"] == "ms_eval_gk" and row.get("error"):
            row["unsupported"] = row.pop("error") + " (AKG needs the 'decorator' package: bench/NOTES.md attempt 2)"
    for base in ("ort", "mindir", "ms_eval"):
        compare(rows, base, base)
    for row in rows:
        family = "ort" if row["kind"].startswith("ort") else "mindir" if row["kind"].startswith("mindir") else "ms_eval"
        row["latency_vs_base"] = row.get(f"latency_vs_{family}")
    return {"group": "infer", "rounds": rounds, "rounds_done": rounds_done, "model": p["model"], "rows": rows}


def infer_specs(p: Dict[str, Any], files: Dict[str, str]) -> List[Tuple[str, str, str, Dict[str, Any]]]:
    """(kind, label, task, spec) of the inference variants, batch-1 latency only."""
    common = {"model": p["model"], "size": p["size"], "batch": 0, "latency_iters": p["latency_iters"]}
    net = {"num_classes": p["num_classes"], "ckpt": files.get("ckpt")}
    return [
        ("ms_eval", "MindSpore eval network, BN folded as eval.py (baseline)", "infer.MsEval", {**common, **net}),
        ("ms_eval_unfolded", "eval network, BN kept", "infer.MsEval", {**common, **net, "fold_bn": False}),
        ("ms_eval_gk", "eval network, enable_graph_kernel", "infer.MsEval",
         {**common, **net, "context": {"enable_graph_kernel": True}}),
        ("ms_eval_o1", "eval network, jit_level O1", "infer.MsEval",
         {**common, **net, "context": {"jit_config": {"jit_level": "O1"}}}),
        ("mindir", "MINDIR dynamic batch", "infer.Mindir", {**common, "path": files.get("mindir_dynamic")}),
        ("mindir_static", "MINDIR static batch 1", "infer.Mindir", {**common, "path": files.get("mindir_b1")}),
        ("ort", "ONNX Runtime, all graph optimisations (baseline)", "infer.Ort", {**common, "path": files.get("onnx_dynamic")}),
        ("ort_basic", "ONNX Runtime, basic graph optimisations", "infer.Ort",
         {**common, "path": files.get("onnx_dynamic"), "graph_optimization": "basic"}),
        ("ort_none", "ONNX Runtime, no graph optimisations", "infer.Ort",
         {**common, "path": files.get("onnx_dynamic"), "graph_optimization": "none"}),
        ("ort_nospin", "ONNX Runtime, no intra-op spinning", "infer.Ort",
         {**common, "path": files.get("onnx_dynamic"), "spinning": False}),
    ]


def report(result: Dict[str, Any]) -> str:
    lines = []
    for g in result["groups"]:
        if g["group"] == "infer":
            lines.append(f"tuning infer ({g.get('model')}, batch-1 latency, {g.get('rounds_done', g.get('rounds'))} "
                         f"lockstep rounds)")
            lines.append(table(["variant", "b1 ms", "x base", "x ORT", "first call s", "error"],
                               [(r["variant"], r.get("b1_latency_ms"), r.get("latency_vs_base"), r.get("latency_vs_ort"),
                                 r.get("first_step_s"), status(r) or r.get("unsupported", "")) for r in g["rows"]]))
        else:
            lines.append(f"tuning {g['group']} ({g.get('rounds_done', g['rounds'])} lockstep rounds)")
            lines.append(table(["variant", "img/s", "step s", "x base", "first step s", "peak RSS GB", "error"],
                               [(r["variant"], r.get("img_per_s"), r.get("step_s_median"), r.get("x_base"),
                                 r.get("first_step_s"), r.get("peak_rss_mb") and r["peak_rss_mb"] / 1024,
                                 status(r) or r.get("unsupported", "")) for r in g["rows"]]))
        lines.append("")
    return "\n".join(lines)

"""``python -m bench.report RESULTS.json [RESULTS.json ...] [--lang en|cn]``: result files as docs/performance.md's
Markdown tables, each with the machine, CPU kind and file it comes from.

Rows are rendered from the file (a row kind this module does not know shows with its recorded label), and parts no
longer measured (``scaling``, the engine's ``eval_sweep``) still render. ``ZH`` is the one string table for
``--lang cn``; a string without an entry stays English.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench.common import fmt, table
from bench.train import TORCH_LABELS  # the train table's PyTorch columns; other modes follow with their own label

MACHINE = ("Machine: {cpu}, {cores} cores, {threads} threads for every framework, {mem} GB RAM, {os}; Python {python}, "
           "MindSpore {mindspore}, PyTorch {torch}, ONNX Runtime {onnxruntime}, numpy {numpy}. load average (1/5/15 "
           "min) at start / end: {start} / {end}{duration}.")
DERIVED_KIND = "{kind}, from the file's avx512/avx512_bf16 fields"
# The targets' entries of ZH: their English keys are how bench.summary's target texts start (after a model name).
TARGETS_ZH = {
    "train step >= 1.1x PyTorch fp32": "训练步速度 >= PyTorch fp32 eager 的 1.1 倍 (速度比)",
    "MindSpore eval network batch-1 latency <= 1.25x ONNX Runtime's":
        "MindSpore 评估网络 batch-1 时延 <= ONNX Runtime 的 1.25 倍 (时延比)",
    "MindSpore exported MINDIR": "导出的 MINDIR batch-1 时延 <= ONNX Runtime 的 1.25 倍 (时延比)",
    "MindSpore eval network batch-1 latency <= 1.25x ONNX Runtime without":
        "MindSpore 评估网络 batch-1 时延 <= 关闭自旋的 ONNX Runtime 的 1.25 倍",
    "C++ harness": "C++ 推理程序 batch-1 时延 <= Python 中的 ONNX Runtime (时延比)",
    "train pipeline": "训练数据管道 (2 并行) >= 训练步消耗速度的 10 倍 (img/s 比)",
    "train.py loop >=": "train.py 训练循环 >= 裸训练步速度的 0.9 倍 (步/秒 之比)",
    "eval.py over": "eval.py 评估整个目录时每种 batch 形状只编译一个图 (编译的图数)",
    "INT8 ONNX batch-1 latency": "INT8 ONNX batch-1 时延比 fp32 ONNX Runtime 快 >= 1.6 倍 (加速比)",
}
ZH: Dict[str, str] = {
    # machine and source lines
    MACHINE: "测试机器: {cpu}, {cores} 核, 每个框架均用 {threads} 线程, 内存 {mem} GB, {os}; Python {python}, MindSpore "
             "{mindspore}, PyTorch {torch}, ONNX Runtime {onnxruntime}, numpy {numpy}。负载 (1/5/15 分钟平均) 开始 / 结束: "
             "{start} / {end}{duration}。",
    DERIVED_KIND: "{kind}, 由该文件的 avx512/avx512_bf16 字段推出",
    "; **quick mode** (`--quick`: tiny sizes and rounds, a smoke test)":
        "; **快速模式** (`--quick`: 极小的规模和轮数, 仅作冒烟测试)",
    "run duration {run:.0f} min (estimated {est:.0f} min)": "运行耗时 {run:.0f} 分钟 (预估 {est:.0f} 分钟)",
    "Measured on {host}: {cpu}, CPU kind `{kind}`, {threads} threads; `{file}`.":
        "测试机器 {host}: {cpu}, CPU 类别 `{kind}`, {threads} 线程; `{file}`。",
    "skipped": "跳过", "error": "错误", "yes": "是", "no": "否",
    "bf16 would be emulated: no AVX512_BF16 or AMX-BF16": "bf16 会被软件模拟: 无 AVX512_BF16 或 AMX-BF16",
    "it would not finish within the run's total time budget": "在整次运行的时间预算内无法完成",
    # train
    "Training throughput (img/s, higher is better; fp32 unless noted)": "训练吞吐 (img/s, 越高越好; 未注明均为 fp32)",
    "Model": "模型", "Resolution": "分辨率", "MindSpore {version} GRAPH (ours)": "MindSpore {version} GRAPH (本仓库)",
    "ours / PyTorch fp32": "本仓库 / PyTorch fp32", "first step s (ours / PyTorch fp32)": "首步耗时 s (本仓库 / PyTorch fp32)",
    "peak RSS GB (ours / PyTorch fp32)": "峰值内存 GB (本仓库 / PyTorch fp32)", "peak RSS GB": "峰值内存 GB",
    # infer
    "Inference ({model} {size}x{size})": "推理 ({model} {size}x{size})", "Path": "推理路径",
    "Batch-1 latency ms": "Batch-1 时延 ms", "latency / ORT": "时延 / ORT", "first call s": "首次调用 s",
    "MindSpore eval network (GRAPH, BN folded as eval.py)": "MindSpore 评估网络 (GRAPH, 与 eval.py 一样折叠 BN)",
    "MindSpore eval network, BN kept (--fold_bn=False)": "MindSpore 评估网络, 保留 BN (--fold_bn=False)",
    "exported MINDIR via nn.GraphCell": "导出的 MINDIR (nn.GraphCell)",
    "exported MINDIR, BN kept (--fold_bn=False)": "导出的 MINDIR, 保留 BN (--fold_bn=False)",
    "ONNX Runtime (Python) on our ONNX": "ONNX Runtime (Python), 本仓库 ONNX",
    "ONNX Runtime (Python), intra-op spinning off": "ONNX Runtime (Python), 关闭线程自旋",
    "C++ harness (ONNX Runtime backend)": "C++ 推理程序 (ONNX Runtime 后端)",
    "ONNX Runtime (Python) on the INT8 ONNX (--quantize=int8)": "ONNX Runtime (Python), INT8 ONNX (--quantize=int8)",
    "C++ harness (ONNX Runtime backend) on the INT8 ONNX": "C++ 推理程序 (ONNX Runtime 后端), INT8 ONNX",
    "MindSpore eval network (GRAPH)": "MindSpore 评估网络 (GRAPH)",  # the labels of runs before BN folding
    "MindSpore eval network, BN folded (proposed)": "MindSpore 评估网络, 折叠 BN (提议)",
    "exported MINDIR, BN folded (proposed)": "导出的 MINDIR, 折叠 BN (提议)",
    # data
    "Data pipeline (`mindspore.dataset`, batch 32, 224x224, generated ~{kb:.0f} KB JPEGs)":
        "数据管道 (`mindspore.dataset`, batch 32, 224x224, 生成的约 {kb:.0f} KB JPEG)",
    "Pipeline": "管道", "Workers": "并行数", "x train-step consumption": "相对训练步消耗的倍数",
    "train transforms": "训练变换", "eval transforms": "评估变换",
    # engine
    "Engine: host overhead of train.py's loop": "训练引擎: train.py 训练循环的主机开销",
    "Engine: host overhead of train.py's loop, eval.py over a checkpoint directory":
        "训练引擎: train.py 训练循环的主机开销, eval.py 评估整个 checkpoint 目录",
    "train.py's loop (`engine.fit`: the JPEG pipeline with its default {workers} workers, read points every {interval} "
    "steps) vs its bare train step on a fixed batch: {model} {size}x{size}, batch {batch}, a round = one epoch of "
    "{steps} steps, median of {rounds} lockstep rounds:":
        "train.py 的训练循环 (`engine.fit`: JPEG 数据管道, 默认 {workers} 个并行, 每 {interval} 步一个读取点) 对比在固定 "
        "batch 上直接调用训练步: {model} {size}x{size}, batch {batch}, 每轮 = 一个 {steps} 步的 epoch, {rounds} 轮交替运行的"
        "中位数:",
    "Feed": "输入方式", "steps/s": "步/秒", "ms/step": "毫秒/步", "loop / bare (target >= {t})": "循环 / 裸训练步 (目标 >= {t})",
    "per-epoch overhead s": "每个 epoch 的额外开销 s",
    "train.py loop (engine fit: pipeline, read points)": "train.py 训练循环 (engine fit: 数据管道, 读取点)",
    "bare train step, fixed batch": "裸训练步, 固定 batch",
    "eval.py over {n} checkpoints: {model} {size}x{size}, {images} images, batch {batch} ({shapes} batch shapes), "
    "median of {rounds} rounds:":
        "eval.py 评估 {n} 个 checkpoint: {model} {size}x{size}, {images} 张图, batch {batch} ({shapes} 种 batch 形状), "
        "{rounds} 轮的中位数:",
    "Evaluator": "方式", "graphs compiled": "编译的图数", "after each checkpoint": "每个 checkpoint 后累计",
    "first result s": "首个结果 s", "per checkpoint s": "每个 checkpoint s", "total s": "总计 s",
    "before / after (total)": "之前 / 之后 (总时间)",
    "before: fresh network per checkpoint": "之前: 每个 checkpoint 新建网络 (折叠 BN, 重新编译)",
    "after: one CheckpointEvaluator (eval.py)": "之后: 一个 CheckpointEvaluator (eval.py)",
    # scaling (recorded by runs before the section was retired: bench/NOTES.md)
    "Scaling of our {model} train step": "本仓库 {model} 训练步的扩展性", "Sweep": "扫描", "step s at": "各点单步耗时 s",
    "fitted exponent k (step time ~ x^k)": "拟合指数 k (单步耗时 ~ x^k)", "batch ({size}x{size})": "batch ({size}x{size})",
    "resolution (batch {b})": "分辨率 (batch {b})",
    "Targets (ratios from this run)": "目标 (本次运行内的比值)", "Target": "目标", "Value": "数值", "Met": "达成",
    **TARGETS_ZH,
}


def tr(text: str, lang: str, **fields: Any) -> str:
    """``text`` in ``lang`` (its ZH entry for ``cn``, else itself), formatted with ``fields``."""
    if lang == "cn":
        text = ZH.get(text, text)
    return text.format(**fields) if fields else text


def target_text(text: str, lang: str) -> str:
    """A target's text in ``lang``: a leading model name is kept, the rest translated by its known start."""
    if lang != "cn":
        return text
    model, _, rest = text.partition(" ")
    for prefix in sorted(TARGETS_ZH, key=len, reverse=True):
        if text.startswith(prefix):
            return TARGETS_ZH[prefix]
        if rest.startswith(prefix):
            return f"{model} {TARGETS_ZH[prefix]}"
    return text


def _gb(mb: Optional[float]) -> Optional[float]:
    return None if mb is None else mb / 1024


def cpu_kind(doc: Dict[str, Any]) -> Tuple[str, bool]:
    """The run's CPU kind, and whether it was derived: files written before bench/cpu.py existed only recorded
    ``avx512`` / ``avx512_bf16``."""
    m = doc["machine"]
    if "cpu" in m:
        return m["cpu"]["kind"], False
    return ("avx512-bf16" if m.get("avx512_bf16") else "avx512" if m.get("avx512") else "avx2"), True


def source_line(doc: Dict[str, Any], lang: str, source: str) -> str:
    """Under every table: which machine, CPU kind and file the numbers come from."""
    m = doc["machine"]
    return "_" + tr("Measured on {host}: {cpu}, CPU kind `{kind}`, {threads} threads; `{file}`.", lang,
                    host=m["host"], cpu=m["cpu_model"], kind=cpu_kind(doc)[0], threads=m["threads_used"],
                    file=source) + "_"


def status_cell(row: Dict[str, Any], value: str, lang: str) -> str:
    """``value``, or why there is none: ``skipped: <reason>`` / ``error: <message>``."""
    if row.get("skipped"):
        return f"{tr('skipped', lang)}: {tr(row['skipped'], lang)}"
    if row.get("error") and value == "-":
        return f"{tr('error', lang)}: {row['error'][:100]}"
    return value


def machine_line(doc: Dict[str, Any], lang: str) -> str:
    m = doc["machine"]
    kind, derived = cpu_kind(doc)
    duration = tr("; **quick mode** (`--quick`: tiny sizes and rounds, a smoke test)", lang) if doc.get("quick") else ""
    if doc.get("seconds") and doc.get("budget", {}).get("estimate_s"):
        duration += "; " + tr("run duration {run:.0f} min (estimated {est:.0f} min)", lang, run=doc["seconds"] / 60,
                              est=doc["budget"]["estimate_s"] / 60)
    cpu = f"{m['cpu_model']} ({tr(DERIVED_KIND, lang, kind=kind) if derived else kind})"
    return tr(MACHINE, lang, cpu=cpu, cores=m["cores"], threads=m["threads_used"], mem=m["memory_gb"].get("MemTotal"),
              os=m["os"], python=m["python"], **m["versions"], start=doc["load_average"]["start"],
              end=doc["load_average"]["end"], duration=duration)


def train_table(doc: Dict[str, Any], lang: str) -> str:
    groups = doc["results"]["train"].get("groups", [])
    labels: Dict[str, str] = {}
    for g in groups:
        for r in g["rows"]:
            if r["task"] == "train.TorchTrain":
                labels.setdefault(r.get("mode", r["spec"].get("mode")), r.get("label", ""))
    modes = [m for m in TORCH_LABELS if m in labels] + [m for m in labels if m not in TORCH_LABELS]
    version = ".".join((doc["machine"]["versions"].get("mindspore") or "?").split(".")[:2])
    headers = [tr("Model", lang), "Batch", tr("Resolution", lang), tr("MindSpore {version} GRAPH (ours)", lang,
                                                                        version=version),
               *[tr(TORCH_LABELS.get(m) or labels[m] or m, lang) for m in modes], tr("ours / PyTorch fp32", lang),
               tr("first step s (ours / PyTorch fp32)", lang), tr("peak RSS GB (ours / PyTorch fp32)", lang)]
    rows = []
    for g in groups:
        ours = next(r for r in g["rows"] if r["task"] == "train.MsTrain")
        by_mode = {r.get("mode", r["spec"].get("mode")): r for r in g["rows"] if r["task"] == "train.TorchTrain"}
        fp32 = by_mode.get("fp32", {})
        rows.append([g["model"], g["batch"], f"{g['size']}x{g['size']}",
                     status_cell(ours, fmt(ours.get("img_per_s")), lang),
                     *[status_cell(by_mode[m], fmt(by_mode[m].get("img_per_s")), lang) if m in by_mode else "-"
                       for m in modes],
                     f"**{fmt(ours.get('vs_torch_fp32'))}x**",
                     f"{fmt(ours.get('first_step_s'), 1)} / {fmt(fp32.get('first_step_s'), 1)}",
                     f"{fmt(_gb(ours.get('peak_rss_mb')), 1)} / {fmt(_gb(fp32.get('peak_rss_mb')), 1)}"])
    return table(headers, rows)


def infer_table(doc: Dict[str, Any], lang: str) -> str:
    res = doc["results"]["infer"]
    headers = [tr("Path", lang), tr("Batch-1 latency ms", lang), tr("latency / ORT", lang),
               f"Batch-{res.get('batch', 32)} FPS (img/s)", tr("first call s", lang), tr("peak RSS GB", lang)]
    rows = [[tr(r.get("label") or r["kind"], lang), status_cell(r, fmt(r.get("b1_latency_ms"), 1), lang),
             fmt(r.get("latency_vs_ort")), fmt(r.get("batch_img_per_s"), 1), fmt(r.get("first_step_s")),
             fmt(_gb(r.get("peak_rss_mb")))] for r in res.get("rows", [])]
    return table(headers, rows)


def data_table(doc: Dict[str, Any], lang: str) -> str:
    rows = [[tr(f"{r['kind']} transforms", lang), r["workers"], status_cell(r, fmt(r.get("img_per_s"), 0), lang),
             fmt(r.get("x_train_step"), 0)] for r in doc["results"]["data"].get("rows", [])]
    return table([tr("Pipeline", lang), tr("Workers", lang), "img/s", tr("x train-step consumption", lang)], rows)


def loop_block(loop: Dict[str, Any], lang: str) -> List[str]:
    info = next((r for r in loop["rows"] if r.get("steps_per_epoch")), {})
    caption = tr("train.py's loop (`engine.fit`: the JPEG pipeline with its default {workers} workers, read points "
                 "every {interval} steps) vs its bare train step on a fixed batch: {model} {size}x{size}, batch "
                 "{batch}, a round = one epoch of {steps} steps, median of {rounds} lockstep rounds:", lang,
                 workers=info.get("data_workers", "?"), interval=info.get("log_interval", "?"), model=loop["model"],
                 size=loop["size"], batch=loop["batch"], steps=info.get("steps_per_epoch", "?"),
                 rounds=loop.get("rounds_done", loop["rounds"]))
    rows = [[tr(r.get("label") or r["mode"], lang), status_cell(r, fmt(r.get("steps_per_s")), lang),
             fmt(r.get("step_ms"), 0), f"**{fmt(loop.get('loop_over_bare'))}x**" if r["mode"] == "loop" else "-",
             fmt(r.get("epoch_overhead_s_median"), 3) if r["mode"] == "loop" else "-"] for r in loop["rows"]]
    headers = [tr("Feed", lang), tr("steps/s", lang), tr("ms/step", lang),
               tr("loop / bare (target >= {t})", lang, t=loop["target"]), tr("per-epoch overhead s", lang)]
    return [caption, "", table(headers, rows), ""]


def sweep_block(sweep: Dict[str, Any], lang: str) -> List[str]:
    caption = tr("eval.py over {n} checkpoints: {model} {size}x{size}, {images} images, batch {batch} ({shapes} batch "
                 "shapes), median of {rounds} rounds:", lang, n=sweep["checkpoints"], model=sweep["model"],
                 size=sweep["size"], images=sweep["images"], batch=sweep["batch"],
                 shapes=sweep.get("batch_shapes") or "?", rounds=sweep.get("rounds_done", sweep["rounds"]))
    replay = "before_over_after" in sweep  # files from before the replay was retired
    rows = [[tr(r.get("label") or r["mode"], lang), status_cell(r, fmt(r.get("graphs_compiled")), lang),
             ", ".join(map(str, r.get("graphs_after_each", []))) or "-", fmt(r.get("first_result_s_median")),
             ", ".join(fmt(x) for x in r.get("checkpoint_s_median", [])) or "-", fmt(r.get("total_s_median"))]
            + ([f"**{fmt(sweep['before_over_after'])}x**" if r["mode"] == "before" else "-"] if replay else [])
            for r in sweep.get("rows", [])]
    headers = [tr(h, lang) for h in ("Evaluator", "graphs compiled", "after each checkpoint", "first result s",
                                     "per checkpoint s", "total s") + (("before / after (total)",) if replay else ())]
    return [caption, "", table(headers, rows) if rows else status_cell(sweep, "-", lang)]


def engine_table(doc: Dict[str, Any], lang: str) -> str:
    res = doc["results"]["engine"]
    parts = (loop_block(res["loop"], lang) if res.get("loop") else []) + \
        (sweep_block(res["eval_sweep"], lang) if res.get("eval_sweep") else [])
    return "\n".join(parts).rstrip()


def scaling_table(doc: Dict[str, Any], lang: str) -> str:
    res = doc["results"]["scaling"]
    rows = []
    for axis, key in (("batch", "batch"), ("resolution", "size")):
        s = res.get(axis)
        if not s:
            continue
        first = s["points"][0] if s["points"] else {"batch": "?", "size": "?"}
        name = tr("batch ({size}x{size})", lang, size=first["size"]) if axis == "batch" else \
            tr("resolution (batch {b})", lang, b=first["batch"])
        pts = status_cell(s, ", ".join(f"{p[key]}: {fmt(p.get('step_s_median'))}" for p in s["points"]) or "-", lang)
        rows.append([name, pts, fmt(s.get("exponent"))])
    return table([tr("Sweep", lang), tr("step s at", lang), tr("fitted exponent k (step time ~ x^k)", lang)], rows)


def targets_table(doc: Dict[str, Any], lang: str) -> str:
    met = {True: tr("yes", lang), False: tr("no", lang), None: "-"}
    rows = [[target_text(x["target"], lang), fmt(x["value"], 3), met[x["met"]]]
            for x in doc.get("summary", {}).get("targets", [])]
    return table([tr("Target", lang), tr("Value", lang), tr("Met", lang)], rows)


def section_title(doc: Dict[str, Any], section: str, lang: str) -> str:
    res = doc["results"][section]
    if section == "train":
        return tr("Training throughput (img/s, higher is better; fp32 unless noted)", lang)
    if section == "infer":
        return tr("Inference ({model} {size}x{size})", lang, model=res.get("model", "resnet50").replace("resnet", "ResNet"),
                  size=res.get("size", 224))
    if section == "data":
        return tr("Data pipeline (`mindspore.dataset`, batch 32, 224x224, generated ~{kb:.0f} KB JPEGs)", lang,
                  kb=res.get("images", {}).get("mean_kb") or 93)
    if section == "engine":  # eval_sweep: in files from before its retirement
        return tr("Engine: host overhead of train.py's loop" + (", eval.py over a checkpoint directory"
                                                                 if res.get("eval_sweep") else ""), lang)
    if section == "lite":
        return tr("MindSpore Lite through MindSpore's C++ API vs the ONNX Runtime C++ harness and MindSpore's Python "
                  "runtime", lang)
    model = (res.get("model") or res.get("batch", {}).get("model") or "resnet50").replace("resnet", "ResNet")
    return tr("Scaling of our {model} train step", lang, model=model)


def _by_batch(errors: Any) -> str:
    """``{"1": 1.9e-06, "3": 1.7e-06}`` as ``1.9e-06 (batch 1), 1.7e-06 (batch 3)``."""
    if not isinstance(errors, dict):
        return str(errors)
    return ", ".join(f"{value:.2g} (batch {batch})" for batch, value in errors.items())


def lite_table(doc: Dict[str, Any], lang: str) -> str:
    """The opt-in ``lite`` section: per model, batch-1 latency of each path and its paired ratios to the ORT and the
    MindSpore Lite C++ harness, then the Lite export's check against the live network."""
    parts: List[str] = []
    for res in doc["results"]["lite"].get("results", []):
        parts += [tr("{model} {size}x{size}, median of {rounds} lockstep rounds:", lang, model=res["model"],
                     size=res["size"], rounds=res.get("rounds_done", "?")), ""]
        headers = [tr("Path", lang), tr("Batch-1 latency ms", lang), tr("latency / ORT C++ harness", lang),
                   tr("latency / Lite C++ harness", lang), f"Batch-{res.get('batch') or '-'} FPS (img/s)"]
        rows = [[tr(r.get("label") or r["kind"], lang), status_cell(r, fmt(r.get("b1_latency_ms"), 1), lang),
                 fmt(r.get("latency_vs_cpp")), fmt(r.get("latency_vs_lite")), fmt(r.get("batch_img_per_s"), 2)]
                for r in res.get("rows", [])]
        parts += [table(headers, rows) if rows else status_cell(res, "-", lang), ""]
        verify = res.get("verify") or {}
        if verify:
            parts += [tr("Max relative error against the live network: MindSpore Lite through the C++ API {lite}; "
                         "ONNX Runtime {onnx}.", lang, lite=_by_batch(verify.get("lite_max_relative_error")),
                         onnx=_by_batch(verify.get("onnx_max_relative_error"))), ""]
    return "\n".join(parts).rstrip("\n")


TABLES = {"train": train_table, "infer": infer_table, "data": data_table, "engine": engine_table,
          "scaling": scaling_table, "lite": lite_table}


def section_body(doc: Dict[str, Any], section: str, lang: str) -> str:
    """One section's table, or why there is none (``skipped: ...`` / ``error: ...``)."""
    result = doc["results"][section]
    if result.get("skipped") or result.get("error"):
        return status_cell(result, "", lang)
    return TABLES[section](doc, lang)


def render(doc: Dict[str, Any], lang: str = "en", source: str = "") -> str:
    parts: List[str] = [machine_line(doc, lang), ""]
    where = source_line(doc, lang, source or "?")
    for section in TABLES:
        if section in doc["results"]:
            parts += [f"#### {section_title(doc, section, lang)}", "", where, "", section_body(doc, section, lang), ""]
    if doc.get("summary", {}).get("targets"):
        parts += [f"#### {tr('Targets (ratios from this run)', lang)}", "", where, "", targets_table(doc, lang)]
    return "\n".join(parts).rstrip()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="bench/results/*.json files (e.g. one per CPU kind)")
    parser.add_argument("--lang", choices=("en", "cn"), default="en")
    args = parser.parse_args(argv)
    blocks = []
    for path in map(Path, args.results):
        doc = json.loads(path.read_text())
        text = render(doc, args.lang, path.name)
        if len(args.results) > 1:
            text = f"### {doc['machine']['cpu_model']}, `{cpu_kind(doc)[0]}`\n\n{text}"
        blocks.append(text)
    print("\n\n".join(blocks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

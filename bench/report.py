"""``python -m bench.report RESULTS.json [RESULTS.json ...] [--lang en|cn]``: the docs' tables (model-zoo FPS-table
layout) as Markdown, one block per file.

The README performance sections (EN/CN) paste this output; every number in them comes from the named JSON file, and
every table says which machine and CPU kind (bench/cpu.py) it was measured on. Modes the run skipped show as
``skipped: <reason>``, measurements that failed (e.g. over their time limit) as ``error: <message>``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench.common import fmt, table

T = {
    "en": {
        "machine": "Machine", "load": "load average (1/5/15 min) at start / end",
        "train_title": "Training throughput (img/s, higher is better; fp32 unless noted)",
        "model": "Model", "batch": "Batch", "res": "Resolution", "ours": "MindSpore 2.10 GRAPH (ours)",
        "ratio": "ours / PyTorch fp32", "first": "first step s (ours / PyTorch fp32)",
        "rss": "peak RSS GB (ours / PyTorch fp32)",
        "infer_title": "Inference (ResNet50 224x224)", "path": "Path", "lat": "Batch-1 latency ms",
        "fps": "Batch-{b} FPS (img/s)", "xort": "latency / ORT", "first_call": "first call s",
        "data_title": "Data pipeline (`mindspore.dataset`, batch 32, 224x224, generated ~93 KB JPEGs)",
        "pipe": "Pipeline", "workers": "Workers", "imgs": "img/s", "xstep": "x train-step consumption",
        "scale_title": "Scaling of our ResNet50 train step", "axis": "Sweep", "points": "step s at",
        "exp": "fitted exponent k (step time ~ x^k)", "targets": "Targets (ratios from this run)",
        "target": "Target", "value": "Value", "met": "Met",
        "torch": {"fp32": "PyTorch 2.13 fp32 NCHW", "fp32_passive": "PyTorch fp32 NCHW, OMP PASSIVE",
                  "cl": "PyTorch fp32 channels_last", "bf16": "PyTorch bf16 autocast",
                  "bf16_cl": "PyTorch bf16 + channels_last"},
        "train_pipe": "train transforms", "eval_pipe": "eval transforms",
        "batch_axis": "batch (224x224)", "res_axis": "resolution (batch {b})", "yes": "yes", "no": "no",
        "source": "Measured on {host}: {cpu}, CPU kind `{kind}`, {threads} threads; `{file}`.",
        "skipped": "skipped", "error": "error", "duration": "run duration {run:.0f} min (estimated {est:.0f} min)",
        "quick": "; **quick mode** (`--quick`: tiny sizes and rounds, a smoke test)",
        "skips": {"bf16_emulated": "bf16 would be emulated: no AVX512_BF16 or AMX-BF16",
                  "same_as_default": "no AVX-512: an AVX2 cap changes nothing on this CPU",
                  "budget": "it would not finish within the run's total time budget"},
        "old_kind": "{kind}, from the file's avx512/avx512_bf16 fields",
        "engine_title": "Engine: host overhead of train.py's loop, eval.py over a checkpoint directory",
        "loop_caption": "train.py's loop (`engine.fit`: the JPEG pipeline with its default {workers} workers, read "
                        "points every {interval} steps) vs its bare train step on a fixed batch: {model} {size}x{size}, "
                        "batch {batch}, a round = one epoch of {steps} steps, median of {rounds} lockstep rounds",
        "feed": "Feed", "steps_s": "steps/s", "ms_step": "ms/step", "x_bare": "loop / bare (target >= {t})",
        "epoch_over": "per-epoch overhead s",
        "loop_rows": {"loop": "train.py loop (engine fit)", "bare": "bare train step, fixed batch"},
        "sweep_caption": "eval.py over {n} checkpoints: {model} {size}x{size}, {images} images, batch {batch} "
                         "({shapes} batch shapes), median of {rounds} lockstep rounds",
        "sweep": "Sweep", "graphs": "graphs compiled", "graphs_each": "after each checkpoint",
        "first_result": "first result s", "per_ckpt": "per checkpoint s", "total": "total s",
        "x_after": "before / after (total)",
        "sweep_rows": {"before": "before: fresh network per checkpoint (BN folded, compiled)",
                       "after": "after: one CheckpointEvaluator (eval.py now)"},
    },
    "cn": {
        "machine": "测试机器", "load": "负载 (1/5/15 分钟平均) 开始 / 结束",
        "train_title": "训练吞吐 (img/s, 越高越好; 未注明均为 fp32)",
        "model": "模型", "batch": "Batch", "res": "分辨率", "ours": "MindSpore 2.10 GRAPH (本仓库)",
        "ratio": "本仓库 / PyTorch fp32", "first": "首步耗时 s (本仓库 / PyTorch fp32)",
        "rss": "峰值内存 GB (本仓库 / PyTorch fp32)",
        "infer_title": "推理 (ResNet50 224x224)", "path": "推理路径", "lat": "Batch-1 时延 ms",
        "fps": "Batch-{b} FPS (img/s)", "xort": "时延 / ORT", "first_call": "首次调用 s",
        "data_title": "数据管道 (`mindspore.dataset`, batch 32, 224x224, 生成的约 93 KB JPEG)",
        "pipe": "管道", "workers": "并行数", "imgs": "img/s", "xstep": "相对训练步消耗的倍数",
        "scale_title": "本仓库 ResNet50 训练步的扩展性", "axis": "扫描", "points": "各点单步耗时 s",
        "exp": "拟合指数 k (单步耗时 ~ x^k)", "targets": "目标 (本次运行内的比值)",
        "target": "目标", "value": "数值", "met": "达成",
        "torch": {"fp32": "PyTorch 2.13 fp32 NCHW", "fp32_passive": "PyTorch fp32 NCHW, OMP PASSIVE",
                  "cl": "PyTorch fp32 channels_last", "bf16": "PyTorch bf16 autocast",
                  "bf16_cl": "PyTorch bf16 + channels_last"},
        "train_pipe": "训练变换", "eval_pipe": "评估变换",
        "batch_axis": "batch (224x224)", "res_axis": "分辨率 (batch {b})", "yes": "是", "no": "否",
        "source": "测试机器 {host}: {cpu}, CPU 类别 `{kind}`, {threads} 线程; `{file}`。",
        "skipped": "跳过", "error": "错误", "duration": "运行耗时 {run:.0f} 分钟 (预估 {est:.0f} 分钟)",
        "quick": "; **快速模式** (`--quick`: 极小的规模和轮数, 仅作冒烟测试)",
        "skips": {"bf16_emulated": "bf16 会被软件模拟: 无 AVX512_BF16 或 AMX-BF16",
                  "same_as_default": "无 AVX-512: 限制到 AVX2 不起作用",
                  "budget": "在整次运行的时间预算内无法完成"},
        "old_kind": "{kind}, 由该文件的 avx512/avx512_bf16 字段推出",
        "engine_title": "训练引擎: train.py 训练循环的主机开销, eval.py 评估整个 checkpoint 目录",
        "loop_caption": "train.py 的训练循环 (`engine.fit`: JPEG 数据管道, 默认 {workers} 个并行, 每 {interval} 步一个"
                        "读取点) 对比在固定 batch 上直接调用训练步: {model} {size}x{size}, batch {batch}, 每轮 = 一个 "
                        "{steps} 步的 epoch, {rounds} 轮交替运行的中位数",
        "feed": "输入方式", "steps_s": "步/秒", "ms_step": "毫秒/步", "x_bare": "循环 / 裸训练步 (目标 >= {t})",
        "epoch_over": "每个 epoch 的额外开销 s",
        "loop_rows": {"loop": "train.py 训练循环 (engine fit)", "bare": "裸训练步, 固定 batch"},
        "sweep_caption": "eval.py 评估 {n} 个 checkpoint: {model} {size}x{size}, {images} 张图, batch {batch} "
                         "({shapes} 种 batch 形状), {rounds} 轮交替运行的中位数",
        "sweep": "方式", "graphs": "编译的图数", "graphs_each": "每个 checkpoint 后累计",
        "first_result": "首个结果 s", "per_ckpt": "每个 checkpoint s", "total": "总计 s",
        "x_after": "之前 / 之后 (总时间)",
        "sweep_rows": {"before": "之前: 每个 checkpoint 新建网络 (折叠 BN, 重新编译)",
                       "after": "之后: 一个 CheckpointEvaluator (现在的 eval.py)"},
    },
}

INFER_LABELS_CN = {
    "ms_eval": "MindSpore 评估网络 (GRAPH, 与 eval.py 一样折叠 BN)",
    "ms_eval_unfolded": "MindSpore 评估网络, 保留 BN (--fold_bn=False)",
    "mindir": "导出的 MINDIR (nn.GraphCell)", "mindir_unfolded": "导出的 MINDIR, 保留 BN (--fold_bn=False)",
    "ort": "ONNX Runtime (Python), 本仓库 ONNX", "ort_nospin": "ONNX Runtime (Python), 关闭线程自旋",
    "cpp": "C++ 推理程序 (ONNX Runtime 后端)",
    "ort_int8": "ONNX Runtime (Python), INT8 ONNX (--quantize=int8)", "cpp_int8": "C++ 推理程序, INT8 ONNX",
}


TARGETS_CN = (  # (start of the English target text, Chinese text); the model name is kept
    ("train step >= 1.1x PyTorch fp32", "训练步速度 >= PyTorch fp32 eager 的 1.1 倍 (速度比)"),
    ("MindSpore eval network batch-1 latency <= 1.25x ONNX Runtime's",
     "MindSpore 评估网络 batch-1 时延 <= ONNX Runtime 的 1.25 倍 (时延比)"),
    ("MindSpore exported MINDIR", "导出的 MINDIR batch-1 时延 <= ONNX Runtime 的 1.25 倍 (时延比)"),
    ("MindSpore eval network batch-1 latency <= 1.25x ONNX Runtime without",
     "MindSpore 评估网络 batch-1 时延 <= 关闭自旋的 ONNX Runtime 的 1.25 倍"),
    ("C++ harness", "C++ 推理程序 batch-1 时延 <= Python 中的 ONNX Runtime (时延比)"),
    ("train pipeline", "训练数据管道 (2 并行) >= 训练步消耗速度的 10 倍 (img/s 比)"),
    ("train.py loop >=", "train.py 训练循环 >= 裸训练步速度的 0.9 倍 (步/秒 之比)"),
    ("eval.py over", "eval.py 评估整个目录时每种 batch 形状只编译一个图 (编译的图数)"),
)


def target_text(text: str, lang: str) -> str:
    if lang != "cn":
        return text
    model, _, rest = text.partition(" ")
    for prefix, cn in sorted(TARGETS_CN, key=lambda p: -len(p[0])):
        if text.startswith(prefix):
            return cn
        if rest.startswith(prefix):
            return f"{model} {cn}"
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
    return "_" + T[lang]["source"].format(host=m["host"], cpu=m["cpu_model"], kind=cpu_kind(doc)[0],
                                          threads=m["threads_used"], file=source) + "_"


def status_cell(row: Dict[str, Any], value: str, lang: str) -> str:
    """``value``, or why there is none: ``skipped: <reason>`` / ``error: <message>``."""
    t = T[lang]
    if row.get("skipped"):
        return f"{t['skipped']}: {t['skips'].get(row.get('skip_code', ''), row['skipped'])}"
    if row.get("error") and value == "-":
        return f"{t['error']}: {row['error'][:100]}"
    return value


def machine_line(doc: Dict[str, Any], lang: str) -> str:
    m = doc["machine"]
    v = m["versions"]
    t = T[lang]
    kind, derived = cpu_kind(doc)
    cpu = f"{m['cpu_model']} ({t['old_kind'].format(kind=kind) if derived else kind})"
    duration = t["quick"] if doc.get("quick") else ""
    if doc.get("seconds") and doc.get("budget", {}).get("estimate_s"):
        duration += "; " + t["duration"].format(run=doc["seconds"] / 60, est=doc["budget"]["estimate_s"] / 60)
    if lang == "cn":
        return (f"{t['machine']}: {cpu}, {m['cores']} 核, 每个框架均用 {m['threads_used']} 线程, "
                f"内存 {m['memory_gb'].get('MemTotal')} GB, {m['os']}; Python {m['python']}, MindSpore {v['mindspore']}, "
                f"PyTorch {v['torch']}, ONNX Runtime {v['onnxruntime']}, numpy {v['numpy']}。{t['load']}: "
                f"{doc['load_average']['start']} / {doc['load_average']['end']}{duration}。")
    return (f"{t['machine']}: {cpu}, {m['cores']} cores, "
            f"{m['threads_used']} threads for every framework, {m['memory_gb'].get('MemTotal')} GB RAM, "
            f"{m['os']}; Python {m['python']}, MindSpore {v['mindspore']}, PyTorch {v['torch']}, "
            f"ONNX Runtime {v['onnxruntime']}, numpy {v['numpy']}. {t['load']}: "
            f"{doc['load_average']['start']} / {doc['load_average']['end']}{duration}.")


def train_table(doc: Dict[str, Any], lang: str) -> str:
    t = T[lang]
    groups = doc["results"].get("train", {}).get("groups", [])
    modes = ["fp32", "fp32_passive", "cl", "bf16", "bf16_cl"]
    headers = [t["model"], t["batch"], t["res"], t["ours"], *[t["torch"][m] for m in modes], t["ratio"], t["first"],
               t["rss"]]
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
    return table(headers, rows, markdown=True)


def infer_table(doc: Dict[str, Any], lang: str) -> str:
    t = T[lang]
    res = doc["results"].get("infer", {})
    b = res.get("batch", 32)
    headers = [t["path"], t["lat"], t["xort"], t["fps"].format(b=b), t["first_call"], t["rss"].split(" (")[0]]
    rows = []
    for r in res.get("rows", []):
        label = INFER_LABELS_CN.get(r["kind"], r["label"]) if lang == "cn" else r["label"]
        rows.append([label, status_cell(r, fmt(r.get("b1_latency_ms"), 1), lang), fmt(r.get("latency_vs_ort")),
                     fmt(r.get("batch_img_per_s"), 1), fmt(r.get("first_step_s")), fmt(_gb(r.get("peak_rss_mb")))])
    return table(headers, rows, markdown=True)


def data_table(doc: Dict[str, Any], lang: str) -> str:
    t = T[lang]
    res = doc["results"].get("data", {})
    rows = [[t["train_pipe"] if r["kind"] == "train" else t["eval_pipe"], r["workers"],
             status_cell(r, fmt(r.get("img_per_s"), 0), lang), fmt(r.get("x_train_step"), 0)]
            for r in res.get("rows", [])]
    return table([t["pipe"], t["workers"], t["imgs"], t["xstep"]], rows, markdown=True)


def scaling_table(doc: Dict[str, Any], lang: str) -> str:
    t = T[lang]
    res = doc["results"].get("scaling", {})
    rows = []
    for axis in ("batch", "resolution"):
        s = res.get(axis)
        if not s:
            continue
        key = "batch" if axis == "batch" else "size"
        name = t["batch_axis"] if axis == "batch" else t["res_axis"].format(b=s["points"][0]["batch"])
        pts = status_cell(s, ", ".join(f"{p[key]}: {fmt(p.get('step_s_median'))}" for p in s["points"]) or "-", lang)
        rows.append([name, pts, fmt(s.get("exponent"))])
    return table([t["axis"], t["points"], t["exp"]], rows, markdown=True)


def engine_table(doc: Dict[str, Any], lang: str) -> str:
    t = T[lang]
    res = doc["results"].get("engine", {})
    parts = []
    loop = res.get("loop")
    if loop:
        info = next((r for r in loop["rows"] if r.get("steps_per_epoch")), {})
        parts.append(t["loop_caption"].format(workers=info.get("data_workers", "?"),
                                              interval=info.get("log_interval", "?"), model=loop["model"],
                                              size=loop["size"], batch=loop["batch"],
                                              steps=info.get("steps_per_epoch", "?"),
                                              rounds=loop.get("rounds_done", loop["rounds"])) + ":")
        rows = [[t["loop_rows"][r["mode"]], status_cell(r, fmt(r.get("steps_per_s")), lang), fmt(r.get("step_ms"), 0),
                 f"**{fmt(loop.get('loop_over_bare'))}x**" if r["mode"] == "loop" else "-",
                 fmt(r.get("epoch_overhead_s_median"), 3) if r["mode"] == "loop" else "-"] for r in loop["rows"]]
        parts += ["", table([t["feed"], t["steps_s"], t["ms_step"], t["x_bare"].format(t=loop["target"]),
                             t["epoch_over"]], rows, markdown=True), ""]
    sweep = res.get("eval_sweep")
    if sweep:
        parts.append(t["sweep_caption"].format(n=sweep["checkpoints"], model=sweep["model"], size=sweep["size"],
                                               images=sweep["images"], batch=sweep["batch"],
                                               shapes=sweep.get("batch_shapes") or "?",
                                               rounds=sweep.get("rounds_done", sweep["rounds"])) + ":")
        rows = [[t["sweep_rows"][r["mode"]], status_cell(r, fmt(r.get("graphs_compiled")), lang),
                 ", ".join(map(str, r.get("graphs_after_each", []))) or "-", fmt(r.get("first_result_s_median")),
                 ", ".join(fmt(x) for x in r.get("checkpoint_s_median", [])) or "-", fmt(r.get("total_s_median")),
                 f"**{fmt(sweep.get('before_over_after'))}x**" if r["mode"] == "before" else "-"]
                for r in sweep.get("rows", [])]
        body = table([t["sweep"], t["graphs"], t["graphs_each"], t["first_result"], t["per_ckpt"], t["total"],
                      t["x_after"]], rows, markdown=True) if rows else status_cell(sweep, "-", lang)
        parts += ["", body]
    return "\n".join(parts).rstrip()


def targets_table(doc: Dict[str, Any], lang: str) -> str:
    t = T[lang]
    rows = [[target_text(x["target"], lang), fmt(x["value"], 3), {True: t["yes"], False: t["no"], None: "-"}[x["met"]]]
            for x in doc.get("summary", {}).get("targets", [])]
    return table([t["target"], t["value"], t["met"]], rows, markdown=True)


def render(doc: Dict[str, Any], lang: str = "en", source: str = "") -> str:
    t = T[lang]
    parts: List[str] = [machine_line(doc, lang), ""]
    where = source_line(doc, lang, source or "?")
    for title, fn, section in ((t["train_title"], train_table, "train"), (t["infer_title"], infer_table, "infer"),
                               (t["data_title"], data_table, "data"), (t["engine_title"], engine_table, "engine"),
                               (t["scale_title"], scaling_table, "scaling")):
        if section not in doc["results"]:
            continue
        result = doc["results"][section]
        body = status_cell(result, "", lang) if result.get("skipped") or result.get("error") else fn(doc, lang)
        parts += [f"#### {title}", "", where, "", body, ""]
    parts += [f"#### {t['targets']}", "", where, "", targets_table(doc, lang)]
    return "\n".join(parts)


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

"""Section ``scaling``: ResNet50 train-step time vs batch size and vs resolution, with log-log exponents.

One worker process per sweep runs our train step (:class:`bench.train.MsTrain`) on increasing shapes; each new
shape is compiled (GRAPH mode), warmed up once and then timed for a few steps. The fitted exponent ``k`` of
``step_time ~ x^k`` is the least-squares slope in log-log space: ~1 for batch means no per-step overhead worth
amortising (and no batch-size efficiency to gain), ~2 for resolution means cost follows pixel count. Peak RSS
is the process's high-water mark after each point (the sweep grows, so it is that point's peak).
"""
from __future__ import annotations

from typing import Any, Dict, List

from bench.common import Context, loglog_slope, rnd, table


def plan(ctx: Context) -> Dict[str, Any]:
    if ctx.quick:
        return {"model": "resnet18", "steps": 1,
                "batch": {"size": 64, "values": [2, 4]}, "resolution": {"batch": 2, "values": [32, 64]}}
    return {"model": "resnet50", "steps": 2,
            "batch": {"size": 224, "values": [8, 16, 32, 64]},
            "resolution": {"batch": 16, "values": [112, 160, 224, 288, 384]}}


def sweep(ctx: Context, model: str, axis: str, points: List[Dict[str, int]], steps: int) -> Dict[str, Any]:
    first = points[0]
    w = ctx.worker(f"scaling-{axis}", "train.MsTrain", {"model": model, "batch": first["batch"], "size": first["size"]})
    rows: List[Dict[str, Any]] = []
    print(f"  [scaling {axis}] {model} at {first} ...", flush=True)
    if w.setup():
        rows.append({**first, "point_error": None})
        # the setup compiled and warmed the first point; time it like the others
        try:
            r = w.call("point", batch=first["batch"], size=first["size"], steps=steps)
            rows[-1].update(r)
            rows[-1].update({k: w.setup_info.get(k) for k in ("compile_s", "first_step_s")})  # the real compile
        except Exception as exc:  # noqa: BLE001  (WorkerError; keep the sweep's other points)
            w.fail(str(exc))
        for p in points[1:]:
            if w.error:
                break
            print(f"  [scaling {axis}] {p} ...", flush=True)
            try:
                rows.append({**p, **w.call("point", batch=p["batch"], size=p["size"], steps=steps)})
            except Exception as exc:  # noqa: BLE001
                w.fail(str(exc))
    w.finish()
    for r in rows:
        r.pop("point_error", None)
        med = r.get("step_s_median")
        r["img_per_s"] = rnd(r["batch"] / med, 3) if med else None
        r["step_s_median"] = rnd(med)
        r["step_s"] = [rnd(x) for x in r.get("step_s", [])]
    xs = [r[axis_key(axis)] for r in rows if r.get("step_s_median")]
    ys = [r["step_s_median"] for r in rows if r.get("step_s_median")]
    out = {"axis": axis, "model": model, "points": rows, "exponent": rnd(loglog_slope(xs, ys), 3),
           "setup": w.setup_info}
    if w.error:
        out["error"] = w.error
    return out


def axis_key(axis: str) -> str:
    return "batch" if axis == "batch" else "size"


def run(ctx: Context) -> Dict[str, Any]:
    p = plan(ctx)
    batch_points = [{"batch": b, "size": p["batch"]["size"]} for b in p["batch"]["values"]]
    res_points = [{"batch": p["resolution"]["batch"], "size": s} for s in p["resolution"]["values"]]
    return {"model": p["model"], "steps_per_point": p["steps"],
            "batch": sweep(ctx, p["model"], "batch", batch_points, p["steps"]),
            "resolution": sweep(ctx, p["model"], "resolution", res_points, p["steps"])}


def report(result: Dict[str, Any]) -> str:
    lines = []
    for axis in ("batch", "resolution"):
        s = result[axis]
        rows = [(r["batch"], r["size"], r.get("step_s_median"), r.get("img_per_s"), r.get("compile_s"),
                 r.get("peak_rss_mb_so_far") and r["peak_rss_mb_so_far"] / 1024) for r in s["points"]]
        lines.append(f"scaling vs {axis}: {s['model']} train step; fitted exponent step_time ~ {axis}^k: "
                     f"k = {s['exponent']}" + (f"  (error: {s['error']})" if s.get("error") else ""))
        lines.append(table(["batch", "size", "step s", "img/s", "compile s", "peak RSS GB"], rows))
        lines.append("")
    return "\n".join(lines)

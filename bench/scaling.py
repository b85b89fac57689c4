"""Section ``scaling``: ResNet50 train-step time vs batch size and vs resolution, with log-log exponents.

One worker process per sweep runs our train step (:class:`bench.train.MsTrain`) on increasing shapes; each new
shape is compiled (GRAPH mode), warmed up once and then timed for a few steps. The fitted exponent ``k`` of
``step_time ~ x^k`` is the least-squares slope in log-log space: ~1 for batch means no per-step overhead worth
amortising (and no batch-size efficiency to gain), ~2 for resolution means cost follows pixel count. Peak RSS
is the process's high-water mark after each point (the sweep grows, so it is that point's peak).
"""
from __future__ import annotations

from typing import Any, Dict, List

from bench import budget
from bench.common import BUDGET_EXHAUSTED, Context, loglog_slope, rnd, table


def plan(ctx: Context) -> Dict[str, Any]:
    if ctx.quick:
        return {"model": "resnet18", "steps": 1,
                "batch": {"size": 64, "values": [2, 4]}, "resolution": {"batch": 2, "values": [32, 64]}}
    return {"model": "resnet50", "steps": 2,
            "batch": {"size": 224, "values": [8, 16, 32]},
            "resolution": {"batch": 8, "values": [112, 160, 224, 288, 384]}}


def sweep_points(p: Dict[str, Any]) -> Dict[str, List[Dict[str, int]]]:
    return {"batch": [{"batch": b, "size": p["batch"]["size"]} for b in p["batch"]["values"]],
            "resolution": [{"batch": p["resolution"]["batch"], "size": s} for s in p["resolution"]["values"]]}


def estimate(ctx: Context) -> float:
    p, kind = plan(ctx), ctx.cpu.kind
    total = 0.0
    for pts in sweep_points(p).values():
        first = {"model": p["model"], "threads": ctx.threads, **pts[0]}
        total += budget.expected("train.MsTrain", first, kind).setup_s + budget.EXIT_S
        total += sum(budget.point_s({**first, **pt}, kind, p["steps"]) for pt in pts)
    return total


def sweep(ctx: Context, model: str, axis: str, points: List[Dict[str, int]], steps: int) -> Dict[str, Any]:
    first = points[0]
    spec = {"model": model, "batch": first["batch"], "size": first["size"]}
    w = ctx.worker(f"scaling-{axis}", "train.MsTrain", spec)
    rows: List[Dict[str, Any]] = []
    cut = False

    def point_s(p: Dict[str, int]) -> float:
        return budget.point_s({**w.spec, **p}, ctx.speed_kind, steps)

    def point(p: Dict[str, int]) -> Dict[str, Any]:
        return w.call("point", limit=ctx.point_limit({**w.spec, **p}, steps),
                      what=f"point batch {p['batch']} size {p['size']}", batch=p["batch"], size=p["size"], steps=steps)

    print(f"  [scaling {axis}] {model} at {first} ...", flush=True)
    if not w.fits(w.expected.setup_s + point_s(first)):
        w.skip(BUDGET_EXHAUSTED)
    elif w.setup():
        rows.append({**first, "point_error": None})
        # the setup compiled and warmed the first point; time it like the others
        try:
            rows[-1].update(point(first))
            rows[-1].update({k: w.setup_info.get(k) for k in ("compile_s", "first_step_s")})  # the real compile
        except Exception as exc:  # noqa: BLE001  (WorkerError; keep the sweep's other points)
            w.fail(str(exc))
        for p in points[1:]:
            if w.error:
                break
            if not w.fits(point_s(p)):
                print(f"  [scaling {axis}] the next point would exceed the run's time budget: {len(rows)} of "
                      f"{len(points)} points", flush=True)
                cut = True
                break
            print(f"  [scaling {axis}] {p} ...", flush=True)
            try:
                rows.append({**p, **point(p)})
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
           "setup": w.setup_info, "time_limits": {**w.limits.to_json(), "point_s": round(ctx.point_limit(
               {**w.spec, **points[-1]}, steps), 1)}}
    if w.error:
        out["error"] = w.error
    if w.skipped or cut:
        out.update(skipped=BUDGET_EXHAUSTED.text if w.skipped else f"{BUDGET_EXHAUSTED.text} after {len(rows)} points",
                   skip_code=BUDGET_EXHAUSTED.code)
    return out


def axis_key(axis: str) -> str:
    return "batch" if axis == "batch" else "size"


def run(ctx: Context) -> Dict[str, Any]:
    p = plan(ctx)
    pts = sweep_points(p)
    return {"model": p["model"], "steps_per_point": p["steps"],
            "batch": sweep(ctx, p["model"], "batch", pts["batch"], p["steps"]),
            "resolution": sweep(ctx, p["model"], "resolution", pts["resolution"], p["steps"])}


def report(result: Dict[str, Any]) -> str:
    lines = []
    for axis in ("batch", "resolution"):
        s = result[axis]
        rows = [(r["batch"], r["size"], r.get("step_s_median"), r.get("img_per_s"), r.get("compile_s"),
                 r.get("peak_rss_mb_so_far") and r["peak_rss_mb_so_far"] / 1024) for r in s["points"]]
        note = f"  (error: {s['error']})" if s.get("error") else f"  (skipped: {s['skipped']})" if s.get("skipped") else ""
        lines.append(f"scaling vs {axis}: {s['model']} train step; fitted exponent step_time ~ {axis}^k: "
                     f"k = {s['exponent']}" + note)
        lines.append(table(["batch", "size", "step s", "img/s", "compile s", "peak RSS GB"], rows))
        lines.append("")
    return "\n".join(lines)

"""``python -m bench [--quick] [--only SECTION[,SECTION...]] [--out FILE] [--estimate] ...``: run the sections,
print their tables, write one JSON file. Exit status 1 when a measurement failed (its row has an ``error``; the JSON
is still written), else 0.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench import ALL_SECTIONS, SCHEMA, SECTIONS, budget, report, summary
from bench.common import (BUDGET_EXHAUSTED, REPO, Context, available_cores, kill_all_workers, load_average,
                          machine_info)
from bench.cpu import KINDS, as_kind, detect

RESULTS_DIR = REPO / "bench" / "results"
BUDGET_MINUTES = {False: 30.0, True: 20.0}  # full run, --quick


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny models, sizes and step counts (CI smoke test)")
    parser.add_argument("--only", default="",
                        help=f"comma-separated sections out of {', '.join(ALL_SECTIONS)} (default: {', '.join(SECTIONS)})")
    parser.add_argument("--out", default="",
                        help="JSON output file (default bench/results/<date>-<host>-<cpu kind>[-quick].json)")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for every framework (default: the cores this process may use)")
    parser.add_argument("--work-dir", default="",
                        help="scratch directory, kept with the worker logs (default: a temporary one, removed)")
    parser.add_argument("--estimate", action="store_true",
                        help="print the expected duration of each section on this CPU kind (or --plan-as) and exit")
    parser.add_argument("--budget-minutes", type=float, default=-1.0,
                        help="total time budget: once used up, nothing new starts and the rest is recorded as "
                             f"skipped (default {BUDGET_MINUTES[False]:.0f}, --quick {BUDGET_MINUTES[True]:.0f}; "
                             "0: none)")
    parser.add_argument("--limit-scale", type=float, default=1.0,
                        help="multiply every worker's derived time limit (setup and per round) by this")
    parser.add_argument("--setup-limit", type=float, default=0.0,
                        help="seconds any worker's setup (start, build, compile, first step) may take "
                             "(default: derived from the mode, bench/budget.py)")
    parser.add_argument("--step-limit", type=float, default=0.0,
                        help="seconds any worker's measured round may take (default: derived from the mode)")
    parser.add_argument("--plan-as", default="", choices=("",) + KINDS, metavar="KIND",
                        help=f"skip and estimate as on a CPU of KIND ({', '.join(KINDS)}); measurements still run "
                             "on this CPU and the JSON records both")
    parser.add_argument("--run-emulated", action="store_true",
                        help="measure the modes this CPU would only emulate (normally skipped), within their time "
                             "limits")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in sections if s not in ALL_SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(ALL_SECTIONS)}")
    if args.limit_scale <= 0 or args.setup_limit < 0 or args.step_limit < 0:
        parser.error("--limit-scale must be > 0, --setup-limit and --step-limit >= 0")
    args.sections = sections
    if args.budget_minutes < 0:
        args.budget_minutes = BUDGET_MINUTES[args.quick]
    return args


def default_out(quick: bool, host: str, kind: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y-%m-%d")
    return RESULTS_DIR / f"{stamp}-{host}-{kind}{'-quick' if quick else ''}.json"


def collect(value: Any, key: str, path: str = "") -> List[str]:
    """Every ``key`` (``error`` or ``skipped``) string in a result tree, as ``path (worker name): text``."""
    found = []
    if isinstance(value, dict):
        if value.get(key) and isinstance(value[key], str):
            where = f"{path or '.'} ({value['name']})" if value.get("name") else path or "."
            found.append(f"{where}: {value[key]}")
        for name, item in value.items():
            if name != key:
                found += collect(item, key, f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += collect(item, key, f"{path}[{i}]")
    return found


def collect_errors(value: Any) -> List[str]:
    return collect(value, "error")


def estimate_sections(ctx: Context, sections: Sequence[str]) -> Dict[str, float]:
    return {name: round(importlib.import_module(f"bench.{name}").estimate(ctx), 1) for name in sections}


def estimate_text(estimates: Dict[str, float], kind: str) -> str:
    parts = ", ".join(f"{name} {seconds / 60:.1f}" for name, seconds in estimates.items())
    return (f"estimated {sum(estimates.values()) / 60:.1f} min on a quiet {kind} machine ({parts} min; "
            f"bench/budget.py, an estimate, not a measurement)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    threads = args.threads or available_cores()
    real_cpu = detect()
    plan_cpu = as_kind(args.plan_as, real_cpu) if args.plan_as else real_cpu
    machine = machine_info(threads, real_cpu)
    ctx_args = dict(quick=args.quick, threads=threads, cpu=plan_cpu, speed_kind=real_cpu.kind,
                    limit_scale=args.limit_scale, setup_limit=args.setup_limit, step_limit=args.step_limit,
                    run_emulated=args.run_emulated)
    if args.estimate:
        scratch = Path(args.work_dir or tempfile.gettempdir()) / "mindzoo-bench"
        ctx = Context(work_dir=scratch, log_dir=scratch / "logs", **ctx_args)
        print(f"{real_cpu.describe()}{f'; planned as {plan_cpu.kind}' if args.plan_as else ''}")
        print(estimate_text(estimate_sections(ctx, args.sections), plan_cpu.kind))
        return 0
    started = time.time()
    if args.budget_minutes:
        ctx_args["deadline"] = time.monotonic() + args.budget_minutes * 60
    out_path = Path(args.out) if args.out else default_out(args.quick, machine["host"], real_cpu.kind)
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="mindzoo-bench-"))
    log_dir = work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(work_dir=work_dir, log_dir=log_dir, **ctx_args)
    estimates = estimate_sections(ctx, args.sections)
    doc: Dict[str, Any] = {
        "schema": SCHEMA,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "sections": args.sections,
        "machine": machine,
        "cpu_kind": real_cpu.kind,
        "plan_as": args.plan_as or None,
        "run_emulated": args.run_emulated,
        "budget": {"minutes": args.budget_minutes or None, "estimate_kind": plan_cpu.kind,
                   "estimate_s": round(sum(estimates.values()), 1), "estimate_by_section_s": estimates},
        "time_limits": {"factor": budget.FACTOR, "setup_grace_s": budget.SETUP_GRACE_S,
                        "step_grace_s": budget.STEP_GRACE_S, "scale": args.limit_scale,
                        "setup_s": args.setup_limit or None, "step_s": args.step_limit or None},
        "load_average": {"start": load_average()},
        "results": {},
    }
    print(f"mindzoo bench: {', '.join(args.sections)}{' (quick)' if args.quick else ''}; {real_cpu.describe()}"
          f"{f', planned as {plan_cpu.kind}' if args.plan_as else ''}; {threads} threads, load average "
          f"{doc['load_average']['start']}; scratch {work_dir}", flush=True)
    total = sum(estimates.values()) / 60
    print(estimate_text(estimates, plan_cpu.kind)
          + (f"; budget {args.budget_minutes:.0f} min" if args.budget_minutes else "; no time budget"), flush=True)
    if args.budget_minutes and total > args.budget_minutes:
        print(f"  the estimate exceeds the budget: whatever has not started after {args.budget_minutes:.0f} min "
              "is skipped", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a terminated run still kills its workers
    try:
        for name in args.sections:
            run_section(ctx, machine, name, estimates[name])
    finally:
        kill_all_workers()
        if not args.work_dir:  # a failed or terminated run leaves no scratch behind either
            shutil.rmtree(work_dir, ignore_errors=True)

    doc["results"] = ctx.results
    doc["summary"] = summary.build(doc["results"])
    doc["load_average"]["end"] = load_average()
    doc["seconds"] = round(time.time() - started, 1)
    doc["finished"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    errors = collect_errors(doc["results"])
    doc["errors"] = errors
    doc["skipped"] = collect(doc["results"], "skipped")
    doc["budget"]["cut"] = any(BUDGET_EXHAUSTED.text in line for line in doc["skipped"])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, out_path)

    print()
    print(report.render(doc, "en", out_path.name))
    print(f"\nload average: start {doc['load_average']['start']}, end {doc['load_average']['end']}; "
          f"{doc['seconds'] / 60:.1f} min in all (estimated {total:.1f})")
    print(f"wrote {out_path}")
    if doc["skipped"]:
        print(f"{len(doc['skipped'])} skipped:\n  " + "\n  ".join(doc["skipped"]))
    if errors:
        print(f"{len(errors)} measurement(s) failed:\n  " + "\n  ".join(errors), file=sys.stderr)
    if args.work_dir:
        print(f"scratch and worker logs kept in {work_dir}")
    return 1 if errors else 0


def run_section(ctx: Context, machine: Dict[str, Any], name: str, estimate_s: float) -> None:
    """Run one section into ``ctx.results[name]`` and print its table (bench.report's, as the docs show it)."""
    module = importlib.import_module(f"bench.{name}")
    t0 = time.time()
    load0 = load_average()
    print(f"== {name} (estimated {estimate_s / 60:.1f} min)", flush=True)
    if ctx.past_deadline():
        result: Dict[str, Any] = {"skipped": BUDGET_EXHAUSTED.text, "skip_code": BUDGET_EXHAUSTED.code}
    else:
        try:
            result = module.run(ctx)
        except Exception as exc:  # one broken section must not lose the others
            import traceback

            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {exc}"}
    result["seconds"] = round(time.time() - t0, 1)
    result["estimate_s"] = estimate_s
    result["load_average"] = {"start": load0, "end": load_average()}
    ctx.results[name] = result
    print(report.section_body({"machine": machine, "results": ctx.results}, name, "en"), flush=True)

if __name__ == "__main__":
    raise SystemExit(main())

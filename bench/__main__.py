"""``python -m bench [--quick] [--only SECTION[,SECTION...]] [--out FILE] [--threads N]``.

Runs the sections (default: train, infer, data, scaling; ``tuning`` only when named), prints their tables
and writes one JSON file (default ``bench/results/<date>-<host>[-quick].json``). Exit status 0 when every
measurement ran, 1 when some failed (their rows carry an ``error`` and the JSON is still written).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench import ALL_SECTIONS, SCHEMA, SECTIONS
from bench.common import REPO, Context, available_cores, load_average, machine_info

RESULTS_DIR = REPO / "bench" / "results"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny models, sizes and step counts (CI smoke test)")
    parser.add_argument("--only", default="", help=f"comma-separated sections out of {', '.join(ALL_SECTIONS)}")
    parser.add_argument("--out", default="", help="JSON output file (default bench/results/<date>-<host>.json)")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for every framework (default: the cores this process may use)")
    parser.add_argument("--work-dir", default="", help="scratch directory (default: a temporary one, removed)")
    parser.add_argument("--keep-work-dir", action="store_true", help="keep the scratch directory and worker logs")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds a worker may take for one reply")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in sections if s not in ALL_SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(ALL_SECTIONS)}")
    args.sections = sections
    return args


def default_out(quick: bool, host: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y-%m-%d")
    return RESULTS_DIR / f"{stamp}-{host}{'-quick' if quick else ''}.json"


def collect_errors(value: Any, path: str = "") -> List[str]:
    found = []
    if isinstance(value, dict):
        if value.get("error") and isinstance(value["error"], str):
            found.append(f"{path or '.'}: {value['error']}")
        for key, item in value.items():
            if key != "error":
                found += collect_errors(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += collect_errors(item, f"{path}[{i}]")
    return found


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    threads = args.threads or available_cores()
    machine = machine_info(threads)
    out_path = Path(args.out) if args.out else default_out(args.quick, machine["host"])
    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="mindzoo-bench-"))
    log_dir = work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(quick=args.quick, threads=threads, work_dir=work_dir, log_dir=log_dir, timeout=args.timeout)

    started = time.time()
    doc: Dict[str, Any] = {
        "schema": SCHEMA,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "sections": args.sections,
        "machine": machine,
        "load_average": {"start": load_average()},
        "results": {},
    }
    print(f"mindzoo bench: {', '.join(args.sections)}{' (quick)' if args.quick else ''}; {machine['cpu_model']}, "
          f"{threads} threads, load average {doc['load_average']['start']}; scratch {work_dir}", flush=True)
    reports = []
    for name in args.sections:
        module = importlib.import_module(f"bench.{name}")
        t0 = time.time()
        load0 = load_average()
        print(f"== {name}", flush=True)
        try:
            result = module.run(ctx)
        except Exception as exc:  # one broken section must not lose the others
            import traceback

            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["seconds"] = round(time.time() - t0, 1)
        result["load_average"] = {"start": load0, "end": load_average()}
        ctx.results[name] = result
        doc["results"][name] = result
        text = module.report(result) if "error" not in result else f"{name}: ERROR {result['error']}"
        reports.append(text)
        print(text, flush=True)

    from bench import summary

    doc["summary"] = summary.build(doc["results"])
    doc["load_average"]["end"] = load_average()
    doc["seconds"] = round(time.time() - started, 1)
    errors = collect_errors(doc["results"])
    doc["errors"] = errors
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, out_path)

    print()
    print("\n\n".join(reports))
    print(summary.report(doc["summary"]))
    print(f"\nload average: start {doc['load_average']['start']}, end {doc['load_average']['end']}; "
          f"{doc['seconds']:.0f} s in all")
    print(f"wrote {out_path}")
    if errors:
        print(f"{len(errors)} measurement(s) failed:\n  " + "\n  ".join(errors), file=sys.stderr)
    if args.keep_work_dir or args.work_dir:
        print(f"scratch and worker logs kept in {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

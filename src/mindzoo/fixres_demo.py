"""FixRes on CPU in one command: the train-test resolution discrepancy, and the fine-tune that fixes it.

    python -m mindzoo.fixres_demo --data demo_data --out output/fixres_demo

1. builds the demo digits (``mindzoo.data.demo``; a no-op if already built),
2. trains ResNet18 at 40 px with RandomResizedCrop (``configs/demo_fixres.yaml``, train.py),
3. evaluates that checkpoint with eval.py at the train resolution and at higher test resolutions,
4. FixRes-fine-tunes it at each fine-tune resolution (``configs/demo_fixres_finetune.yaml``, train.py
   ``--fixres_finetune=True``) and evaluates the result at that resolution,
5. prints a markdown table and writes it to ``<out>/fixres_demo.md`` and ``<out>/fixres_demo.json``.

Every step is the train.py / eval.py command a user would type (printed before it runs; its output goes to
``<out>/logs``); this module only sequences them and collects ``eval_result.json``. ResNet18 is not a FixRes
model: the fine-tune works for any registered network, the test resolution is just ``--eval_image_size``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mindzoo.config import CONFIG_DIR, load_config
from mindzoo.errors import MindzooError, UsageError
from mindzoo.procs import run_step
from mindzoo.weights.naming import newest_checkpoint

REPO = Path(__file__).resolve().parents[2]
STAGE1_CONFIG = CONFIG_DIR / "demo_fixres.yaml"
STAGE2_CONFIG = CONFIG_DIR / "demo_fixres_finetune.yaml"
COLUMNS = ("model", "train res", "test res", "fine-tuned", "top-1", "top-5")


def _command(tool: str) -> List[str]:
    """``python train.py`` in a source checkout; the installed package's entry point otherwise."""
    script = REPO / f"{tool}.py"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", f"import sys; from mindzoo.cli.{tool} import main; sys.exit(main())"]


class Runner:
    """Runs the steps in order, each logged to ``<out>/logs/<name>.log``; a failing step stops the demo."""

    def __init__(self, out: Path) -> None:
        self.logs = out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.start = time.time()
        self.seconds: Dict[str, float] = {}

    def __call__(self, name: str, tool: str, args: List[str]) -> None:
        cmd = _command(tool) + args
        shown = " ".join([f"python {tool}.py", *args])
        print(f"[{time.time() - self.start:6.0f} s] {name}\n    $ {shown}", flush=True)
        log = self.logs / f"{name}.log"
        started = time.time()
        code = run_step(cmd, log=log).returncode
        self.seconds[name] = round(time.time() - started, 1)
        if code != 0:
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or [""]
            raise MindzooError(f"step '{name}' failed with exit code {code} ({tail[0].strip()}); see {log}")


def _last_checkpoint(directory: Path, net_name: str) -> Path:
    found = newest_checkpoint(directory, net_name)
    if found is None:
        raise MindzooError(f"no checkpoint was written to {directory}")
    return found


def _evaluate(run: Runner, name: str, config: Path, data: Path, ckpt: Path, size: int, out: Path) -> Dict[str, float]:
    run(name, "eval", [f"--config_path={config}", f"--data_path={data}", f"--pretrained={ckpt}",
                       f"--eval_image_size={size}", f"--output_dir={out}"])
    result = json.loads((out / "eval_result.json").read_text(encoding="utf-8"))
    if result["image_size"] != size:
        raise MindzooError(f"eval.py evaluated at {result['image_size']} px, not {size}")
    return {"top1": result["top1"], "top5": result["top5"], "total": result["total"]}


def markdown_table(rows: List[Dict[str, object]]) -> str:
    """The result rows as a GitHub markdown table, accuracies in percent."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---:|---:|:---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['train_res']} | {row['test_res']} | "
                     f"{'yes' if row['finetuned'] else 'no'} | {100 * row['top1']:.2f}% | {100 * row['top5']:.2f}% |")
    return "\n".join(lines)


def run_demo(data: Path, out: Path, test_sizes: Sequence[int], finetune_sizes: Sequence[int],
             epochs: int = 0, finetune_epochs: int = 0) -> Dict[str, object]:
    """All steps of the module docstring; returns what fixres_demo.json holds."""
    from mindzoo.data.demo import build_demo_dataset

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} is not empty: remove it or choose another --out")
    stage1 = load_config(["--config_path", str(STAGE1_CONFIG)])
    stage2 = load_config(["--config_path", str(STAGE2_CONFIG)])
    train_res = stage1.train_image_size
    run = Runner(out)
    counts = build_demo_dataset(data)
    print(f"demo digits at {data}: {counts['train']} train / {counts['val']} val images", flush=True)

    stage1_args = [f"--config_path={STAGE1_CONFIG}", f"--data_path={data}", f"--output_dir={out / 'stage1'}"]
    run(f"stage1_train_{train_res}px", "train", stage1_args + ([f"--epoch_size={epochs}"] if epochs else []))
    base = _last_checkpoint(out / "stage1" / "checkpoints", stage1.net_name)

    rows: List[Dict[str, object]] = []
    before: Dict[int, float] = {}
    for size in sorted({train_res, *test_sizes, *finetune_sizes}):
        name = f"eval_stage1_{size}px"
        scores = _evaluate(run, name, STAGE1_CONFIG, data, base, size, out / name)
        before[size] = scores["top1"]
        rows.append({"model": stage1.net_name, "train_res": train_res, "test_res": size, "finetuned": False,
                     **scores, "checkpoint": str(base)})
    gains: Dict[str, float] = {}
    for size in finetune_sizes:
        ft_dir = out / f"finetune_{size}px"
        ft_args = [f"--config_path={STAGE2_CONFIG}", f"--data_path={data}", f"--pretrained={base}",
                   f"--eval_image_size={size}", f"--output_dir={ft_dir}"]
        run(f"finetune_{size}px", "train", ft_args + ([f"--epoch_size={finetune_epochs}"] if finetune_epochs else []))
        tuned = _last_checkpoint(ft_dir / "checkpoints", stage2.net_name)
        name = f"eval_finetuned_{size}px"
        scores = _evaluate(run, name, STAGE2_CONFIG, data, tuned, size, out / name)
        rows.append({"model": stage2.net_name, "train_res": train_res, "test_res": size, "finetuned": True,
                     **scores, "checkpoint": str(tuned)})
        gains[str(size)] = scores["top1"] - before[size]
    return {"rows": rows, "top1_gain_from_finetune": gains, "seconds": run.seconds,
            "total_seconds": round(time.time() - run.start, 1),
            "configs": {"stage1": str(STAGE1_CONFIG), "stage2": str(STAGE2_CONFIG)},
            "overrides": {"epochs": epochs, "finetune_epochs": finetune_epochs}}


def _sizes(text: str) -> List[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated pixel sizes, got '{text}'") from None
    if any(size < 8 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be at least 8 px, got '{text}'")
    return sizes


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mindzoo.fixres_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="demo_data", help="demo digits directory (built if missing)")
    parser.add_argument("--out", default="output/fixres_demo", help="run directory (must be new or empty)")
    parser.add_argument("--test_sizes", type=_sizes, default=[48, 56, 64],
                        help="resolutions to test the 40 px model at before fine-tuning (default 48,56,64)")
    parser.add_argument("--finetune_sizes", type=_sizes, default=[56, 64],
                        help="resolutions to FixRes-fine-tune and test at (default 56,64)")
    parser.add_argument("--epochs", type=int, default=0, help="stage-1 epochs (default: the config's)")
    parser.add_argument("--finetune_epochs", type=int, default=0, help="fine-tune epochs (default: the config's)")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    try:
        result = run_demo(Path(args.data).resolve(), out, args.test_sizes, args.finetune_sizes, args.epochs,
                          args.finetune_epochs)
    except MindzooError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    table = markdown_table(result["rows"])
    (out / "fixres_demo.md").write_text(table + "\n", encoding="utf-8")
    (out / "fixres_demo.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\n{table}\n")
    for size, gain in result["top1_gain_from_finetune"].items():
        verdict = "better" if gain > 0 else "NOT better"
        print(f"{size} px: the FixRes fine-tune is {verdict} than the same model before it ({100 * gain:+.2f} top-1)")
    print(f"total {result['total_seconds']:.0f} s; table and numbers in {out / 'fixres_demo.md'} and "
          f"{out / 'fixres_demo.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

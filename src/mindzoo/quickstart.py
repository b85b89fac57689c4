"""The whole mission on CPU in one command (``bash scripts/quickstart.sh``), through the user-facing CLIs.

Builds the demo digits dataset, trains the demo ResNet on it with train.py, scores the last checkpoint
with eval.py, exports MINDIR + ONNX + a calibrated INT8 ONNX (docs/int8.md) with export.py, runs the C++ harness
through run_infer_310.sh on each (ONNX Runtime's C++ API for the ONNX files; MindSpore's runtime through its Python
API, embedded, for the MINDIR on CPU) and prints one table. Every step is the command a user would type; this module
only sequences them, and the harness takes its sizes from the export's sidecar as a user's run does.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
ACC_LOG = re.compile(r"Total data: (\d+), top1 accuracy: (\d+(?:\.\d+)?), top5 accuracy: (\d+(?:\.\d+)?)")


def _run(step: str, cmd: List[str], cwd: Path = REPO) -> float:
    """Run one step with its output streaming through; stop the quickstart if it fails."""
    print(f"\n=== {step}: {' '.join(cmd)}", flush=True)
    start = time.time()
    code = subprocess.call(cmd, cwd=cwd)
    if code != 0:
        print(f"quickstart: step '{step}' failed with exit code {code}", file=sys.stderr)
        sys.exit(code)
    return time.time() - start


def _latest_checkpoint(directory: Path, net_name: str) -> Path:
    from mindzoo.train.callbacks import CheckpointManager

    latest = CheckpointManager(directory, net_name, keep_max=1).latest()
    if latest is None:
        sys.exit(f"quickstart: no checkpoint was written to {directory}")
    return latest


def _cpp_latency(infer_dir: Path) -> Dict[str, float]:
    text = (infer_dir / "time_Result" / "test_perform_static.txt").read_text()
    numbers = {}
    for key, pattern in (("mean_ms", r"average time: ([0-9.]+) ms"), ("median_ms", r"median[^0-9]*([0-9.]+) ms")):
        match = re.search(pattern, text)
        if match:
            numbers[key] = float(match.group(1))
    return numbers


def _harness_result(infer_dir: Path) -> Dict[str, object]:
    """acc.log, latency and the backend's own description (result_Files/meta.json) of one harness run."""
    match = ACC_LOG.search((infer_dir / "acc.log").read_text())
    if not match:
        sys.exit(f"quickstart: cannot read {infer_dir / 'acc.log'}")
    meta = json.loads((infer_dir / "result_Files" / "meta.json").read_text())
    latency = _cpp_latency(infer_dir)
    return {
        "total": int(match[1]), "top1": float(match[2]), "top5": float(match[3]),
        "backend": meta.get("backend_description", meta.get("backend", "?")),
        "resize": meta.get("resize"), "crop": meta.get("crop"),
        "latency": f"{latency.get('mean_ms', float('nan')):.2f} ms mean, "
                   f"{latency.get('median_ms', float('nan')):.2f} ms median",
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="demo_data", help="where to build the demo dataset")
    parser.add_argument("--out", default="output/quickstart", help="run directory")
    parser.add_argument("--config", default="configs/demo_resnet18.yaml")
    args = parser.parse_args(argv)
    py = sys.executable
    data, out, config = (REPO / args.data), (REPO / args.out), args.config
    sys.path.insert(0, str(REPO / "src"))
    from mindzoo.config import load_config

    cfg = load_config([f"--config_path={REPO / config}"])
    size = cfg.eval_image_size
    times: Dict[str, float] = {}
    start = time.time()

    times["data"] = _run("demo dataset", [py, "-m", "mindzoo.data.demo", "--out", str(data)])
    times["train"] = _run("train", [py, "train.py", f"--config_path={config}", f"--data_path={data}",
                                    f"--output_dir={out}"])
    ckpt = _latest_checkpoint(out / "checkpoints", cfg.net_name)
    times["eval"] = _run("eval", [py, "eval.py", f"--config_path={config}", f"--data_path={data}",
                                  f"--pretrained={ckpt}", f"--output_dir={out}"])
    exported = {}
    for fmt in ("MINDIR", "ONNX"):
        name = out / f"{cfg.net_name}_demo"
        times[f"export {fmt}"] = _run(f"export {fmt}", [py, "export.py", f"--config_path={config}",
                                                        f"--ckpt_file={ckpt}", f"--file_name={name}",
                                                        f"--file_format={fmt}"])
        exported[fmt] = json.loads(Path(f"{name}.json").read_text())
    int8_name = out / f"{cfg.net_name}_demo_int8"
    times["export ONNX INT8"] = _run("export ONNX INT8", [py, "export.py", f"--config_path={config}",
                                                          f"--ckpt_file={ckpt}", f"--file_name={int8_name}",
                                                          "--file_format=ONNX", "--quantize=int8",
                                                          f"--calib_data={data}"])
    int8_sidecar = json.loads(Path(f"{int8_name}.json").read_text())
    harness: Dict[str, Dict[str, object]] = {}
    for fmt, suffix in (("ONNX", "onnx"), ("ONNX INT8", "onnx"), ("MINDIR", "mindir")):
        model = int8_name.with_suffix(".onnx") if fmt == "ONNX INT8" else out / f"{cfg.net_name}_demo.{suffix}"
        infer_dir = out / f"infer_cpu_{fmt.lower().replace(' ', '_')}"
        infer_dir.mkdir(parents=True, exist_ok=True)
        times[f"C++ inference {fmt}"] = _run(f"C++ harness on the {fmt} (batch 1)", [
            "bash", str(REPO / "scripts" / "run_infer_310.sh"), str(model), str(data / "val"), "0", "CPU"],
            cwd=infer_dir)
        harness[fmt] = _harness_result(infer_dir)

    python_result = json.loads((out / "eval_result.json").read_text())

    print("\n## mindzoo quickstart results\n")
    print(f"model `{cfg.net_name}` trained {cfg.epoch_size} epochs on the demo digits at {size}x{size}; "
          f"checkpoint `{ckpt.relative_to(REPO)}`\n")
    print("| path | images | top-1 | top-5 | notes |")
    print("|---|---:|---:|---:|---|")
    print(f"| eval.py (MindSpore {cfg.mode}, CPU) | {python_result['total']} | {100 * python_result['top1']:.2f}% "
          f"| {100 * python_result['top5']:.2f}% | batch {cfg.eval_batch_size} |")
    for fmt, row in harness.items():
        print(f"| C++ harness on the {fmt}: {row['backend']} | {row['total']} | {100 * row['top1']:.2f}% "
              f"| {100 * row['top5']:.2f}% | batch 1, {row['latency']}; resize {row['resize']}, crop {row['crop']} "
              f"from the export's sidecar |")
    for fmt, sidecar in exported.items():
        errors = sidecar.get("verify", {}).get("max_relative_error") or {}
        worst = max(errors.values()) if isinstance(errors, dict) and errors else float("nan")
        print(f"| export {fmt} | - | - | - | reloaded and checked: max relative error {worst:.2g} |")
    quantization = int8_sidecar["quantization"]
    check = quantization["verify_int8"]
    print(f"| export ONNX INT8 | {check['images']} held out | - | - | top-1 agreement with fp32 "
          f"{100 * check['top1_agreement']:.2f}%, max relative logit error {check['max_relative_error']:.2g}; "
          f"calibrated ({quantization['calib_method']}) on {quantization['calib_images']} train images |")
    print("\n| step | seconds |\n|---|---:|")
    for step, seconds in times.items():
        print(f"| {step} | {seconds:.0f} |")
    print(f"| total | {time.time() - start:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

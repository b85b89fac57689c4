"""The whole mission on CPU in one command (``bash scripts/quickstart.sh``), through the user-facing CLIs.

Builds the demo digits dataset, trains the demo ResNet on it with train.py, scores the last checkpoint
with eval.py, exports MINDIR + ONNX + a calibrated INT8 ONNX (docs/int8.md) with export.py, runs the C++ harness
through run_infer_310.sh on each (ONNX Runtime's C++ API for the ONNX files; MindSpore's runtime through its Python
API, embedded, for the MINDIR on CPU) and prints one table. Every step is the command a user would type; this module
only sequences them, and the harness takes its sizes from the export's sidecar as a user's run does.
It also exports MINDIR_LITE and runs that through MindSpore's C++ API (MindSpore Lite) for one more row.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mindzoo.procs import run_step
from mindzoo.weights.naming import newest_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _run(step: str, cmd: List[str], cwd: Path = REPO) -> float:
    """Run one step with its output streaming through; stop the quickstart if it fails."""
    print(f"\n=== {step}: {' '.join(cmd)}", flush=True)
    start = time.time()
    code = run_step(cmd, cwd=cwd).returncode
    if code != 0:
        print(f"quickstart: step '{step}' failed with exit code {code}", file=sys.stderr)
        sys.exit(code)
    return time.time() - start


def _latest_checkpoint(directory: Path, net_name: str) -> Path:
    latest = newest_checkpoint(directory, net_name)
    if latest is None:
        sys.exit(f"quickstart: no checkpoint was written to {directory}")
    return latest


def _harness_result(infer_dir: Path) -> Dict[str, object]:
    """acc.log, latency and the backend's own description (result_Files/meta.json) of one harness run."""
    from mindzoo.deploy.harness_files import parse_acc_line, read_meta, read_timing, RESULT_DIR

    total, top1, top5 = parse_acc_line((infer_dir / "acc.log").read_text(), str(infer_dir / "acc.log"))
    meta = read_meta(str(infer_dir / RESULT_DIR)) or {}
    timing = read_timing(str(infer_dir))
    return {
        "total": total, "top1": top1, "top5": top5,
        "backend": meta.get("backend_description", meta.get("backend", "?")),
        "resize": meta.get("resize"), "crop": meta.get("crop"),
        "latency": f"{timing.mean_ms:.2f} ms mean, {timing.median_ms:.2f} ms median",
    }


def _lite_route(py: str, config: str, ckpt: Path, name: Path, val: Path, times: Dict[str, float]) -> Dict[str, object]:
    """export.py --file_format=MINDIR_LITE, then run_infer_310.sh on NAME_lite.mindir (MindSpore's C++ API)."""
    times["export MINDIR_LITE"] = _run("export MINDIR_LITE (ONNX -> MindSpore Lite)", [
        py, "export.py", f"--config_path={config}", f"--ckpt_file={ckpt}", f"--file_name={name}",
        "--file_format=MINDIR_LITE"])
    infer_dir = name.parent / "infer_cpu_lite"
    infer_dir.mkdir(parents=True, exist_ok=True)
    times["C++ inference MindSpore Lite"] = _run("C++ harness on the MindSpore Lite model (batch 1)", [
        "bash", str(REPO / "scripts" / "run_infer_310.sh"), f"{name}_lite.mindir", str(val), "0", "CPU"],
        cwd=infer_dir)
    return {**_harness_result(infer_dir), "sidecar": json.loads(Path(f"{name}_lite.json").read_text())}


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
    lite = _lite_route(py, config, ckpt, out / f"{cfg.net_name}_demo", data / "val", times)
    exported["MINDIR_LITE"] = lite.pop("sidecar")

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
    print(f"| C++ harness on the MindSpore Lite model (MindSpore C++ API): {lite['backend']} | {lite['total']} "
          f"| {100 * lite['top1']:.2f}% | {100 * lite['top5']:.2f}% | batch 1, {lite['latency']} |")
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

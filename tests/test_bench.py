"""The benchmark suite (bench/): it runs and writes the JSON its docs and tables are built from.

Never asserts a speed: only that ``python -m bench --quick`` runs and its JSON has the expected structure.
The default test runs the ``data`` section (generated JPEGs, pipelines, a tiny train.py loop); the slow one
runs every section in quick mode.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import common, profile, summary  # noqa: E402
from bench.__main__ import collect_errors, parse_args  # noqa: E402

MACHINE_KEYS = {"host", "cpu_model", "cores", "threads_used", "versions", "memory_gb"}


def _run_bench(tmp_path: Path, *args: str, timeout: int) -> dict:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    assert out.is_file(), f"no JSON written (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    doc = json.loads(out.read_text())
    assert proc.returncode == 0, f"exit {proc.returncode}; errors: {doc.get('errors')}\n{proc.stderr[-2000:]}"
    assert doc["schema"] == "mindzoo-bench/1"
    assert doc["quick"] is True
    assert MACHINE_KEYS <= set(doc["machine"])
    assert set(doc["machine"]["versions"]) >= {"mindspore", "torch", "onnxruntime"}
    assert len(doc["load_average"]["start"]) == 3 and len(doc["load_average"]["end"]) == 3
    assert doc["errors"] == []
    return doc


def test_quick_data_section_writes_json(tmp_path: Path) -> None:
    doc = _run_bench(tmp_path, "--only", "data", timeout=300)
    assert doc["sections"] == ["data"]
    data = doc["results"]["data"]
    assert data["images"]["images"] > 0
    kinds = {(row["kind"], row["workers"]) for row in data["rows"]}
    assert ("train", 1) in kinds and ("eval", 1) in kinds
    for row in data["rows"]:
        assert row["img_per_s"] > 0 and row["peak_rss_mb"] > 0 and len(row["img_s"]) == row["rounds"]
    assert [r["name"] for r in data["loop"]["rows"]] == ["loop-synthetic", "loop-pipeline"]
    assert all(r["img_per_s"] > 0 for r in data["loop"]["rows"])
    assert "load_average" in data and "seconds" in data


@pytest.mark.slow
def test_quick_all_sections_write_json(tmp_path: Path) -> None:
    doc = _run_bench(tmp_path, timeout=1800)
    results = doc["results"]
    assert set(results) == {"train", "infer", "data", "scaling"}
    group = results["train"]["groups"][0]
    assert [r["task"] for r in group["rows"]][0] == "train.MsTrain"
    assert {r["mode"] for r in group["rows"]} >= {"ms", "fp32", "fp32_passive"}
    assert all(r["img_per_s"] > 0 and r["first_step_s"] > 0 for r in group["rows"])
    kinds = {r["kind"] for r in results["infer"]["rows"]}
    assert kinds == {"ms_eval", "ms_eval_unfolded", "mindir", "mindir_unfolded", "ort", "ort_nospin", "cpp"}
    assert results["infer"]["top1_agree"] is True
    assert all(r["b1_latency_ms"] > 0 for r in results["infer"]["rows"])
    for axis in ("batch", "resolution"):
        assert isinstance(results["scaling"][axis]["exponent"], float)
    assert {t["target"].split()[0] for t in doc["summary"]["targets"]}


def test_loglog_slope_recovers_exponents() -> None:
    xs = [8, 16, 32, 64]
    assert common.loglog_slope(xs, [0.5 * x for x in xs]) == pytest.approx(1.0)
    assert common.loglog_slope(xs, [3 * x ** 2 for x in xs]) == pytest.approx(2.0)
    assert common.loglog_slope([1], [1]) is None


def test_median_ratio_and_table() -> None:
    assert common.median([3, 1, 2]) == 2 and common.median([4, 1, 3, 2]) == 2.5 and common.median([]) is None
    assert common.ratio(2.0, 0) is None and common.ratio(3.0, 2.0) == 1.5
    text = common.table(["a", "b"], [("x", 1.2345), ("y", None)])
    assert "1.23" in text and "-" in text.splitlines()[-1]
    assert common.table(["a"], [("x",)], markdown=True).startswith("| a |")


def test_profile_parse_sums_the_last_step() -> None:
    lines = [
        "onednn_verbose,v1,info,cpu,isa:Intel AVX2",
        profile.BEGIN,
        "onednn_verbose,v1,primitive,exec,cpu,convolution,x64:gemm:jit,forward_training,src:f32,,alg,mb8,10.0",
        profile.END,
        "@@BENCH_WALL@@ 0.1",
        profile.BEGIN,
        "onednn_verbose,v1,primitive,exec,cpu,convolution,x64:gemm:jit,forward_training,src:f32,,alg,mb8,20.0",
        "onednn_verbose,v1,primitive,exec,cpu,convolution,x64:gemm:jit,forward_training,src:f32,,alg,mb8,30.0",
        "onednn_verbose,v1,primitive,exec,cpu,batch_normalization,ncsp_bnorm:any,backward,src:f32,,,mb8,5.0",
        profile.END,
        "@@BENCH_WALL@@ 0.1",
    ]
    result = profile.parse(lines)
    assert result["isa"] == "Intel AVX2"
    assert result["onednn_ms"] == 55.0 and result["outside_onednn_ms"] == 45.0
    assert result["rows"][0]["calls"] == 2 and result["rows"][0]["ms"] == 50.0


def test_summary_targets_from_one_run() -> None:
    results = {
        "train": {"groups": [{"model": "resnet50", "rows": [
            {"task": "train.MsTrain", "spec": {}, "vs_torch_fp32": 1.2},
            {"task": "train.TorchTrain", "spec": {"mode": "fp32"}, "vs_torch_fp32": 1.0}]}]},
        "infer": {"rows": [{"kind": "ms_eval", "latency_vs_ort": 1.5, "latency_vs_ort_nospin": 1.2},
                           {"kind": "mindir", "latency_vs_ort": 1.25},
                           {"kind": "ort", "latency_vs_ort": 1.0}, {"kind": "cpp", "latency_vs_ort": 0.98}]},
        "data": {"train_consumption_ratio": 250.0},
    }
    targets = summary.build(results)["targets"]
    assert [t["met"] for t in targets] == [True, False, True, True, True, True]
    assert targets[0]["value"] == pytest.approx(1.2)


def test_cli_options_and_error_collection() -> None:
    assert parse_args(["--only", "data,train"]).sections == ["data", "train"]
    assert parse_args([]).sections == ["train", "infer", "data", "scaling"]
    with pytest.raises(SystemExit):
        parse_args(["--only", "nope"])
    errors = collect_errors({"a": [{"error": "boom"}, {"x": 1}], "b": {"error": None}})
    assert errors == ["a[0]: boom"]

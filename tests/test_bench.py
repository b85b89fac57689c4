"""The benchmark suite (bench/): it runs and writes the JSON its docs and tables are built from.

Never asserts a speed: only that ``python -m bench --quick`` runs and its JSON has the expected structure.
The default tests run the ``data`` section (generated JPEGs, pipelines), the ``engine`` section (train.py's loop
vs its bare step) and the ``train`` section planned as an
AVX2-only CPU (its bf16 mode skipped), check CPU-kind detection on canned /proc/cpuinfo texts of the three machine
kinds, run real worker processes into their time limits, check that a run removes its temporary scratch however it
ends (passed, failed, terminated) and render the committed result files as the docs' tables; the slow one runs
every section in quick mode.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import SECTIONS, budget, common, cpu, report, summary  # noqa: E402
from bench.__main__ import BUDGET_MINUTES, collect_errors, default_out, estimate_sections, parse_args  # noqa: E402

MACHINE_KEYS = {"host", "cpu_model", "cpu", "cores", "threads_used", "versions", "memory_gb"}

# The first processor of /proc/cpuinfo on the project's three machine kinds (trimmed to the fields read, flags
# complete). Zen 3: AVX2 only; Zen 4: AVX-512 with AVX512_BF16; Intel Sapphire Rapids: AVX-512, AMX, AVX512_FP16.
_X86_BASE = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht "
             "syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid tsc_known_freq pni pclmulqdq "
             "ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm "
             "3dnowprefetch fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb "
             "sha_ni xsaveopt xsavec xgetbv1 arat umip vaes vpclmulqdq rdpid fsrm")
ZEN3_CPUINFO = f"""processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: {_X86_BASE} cmp_legacy cr8_legacy sse4a misalignsse osvw topoext ssbd ibrs ibpb stibp vmmcall clzero
bugs\t\t: sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass srso

processor\t: 1
vendor_id\t: AuthenticAMD
flags\t\t: {_X86_BASE} avx512f avx512_bf16
"""
ZEN4_CPUINFO = f"""processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9B14
flags\t\t: {_X86_BASE} cmp_legacy cr8_legacy sse4a misalignsse osvw topoext avx512f avx512dq avx512ifma avx512cd \
avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vbmi2 gfni avx512_vnni avx512_bitalg avx512_vpopcntdq
"""
INTEL_AMX_CPUINFO = f"""processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: {_X86_BASE} ss xtopology tsc_deadline_timer hle rtm avx512f avx512dq avx512ifma avx512cd avx512bw \
avx512vl xsaves avx_vnni avx512_bf16 avx512vbmi avx512_vbmi2 gfni avx512_vnni avx512_bitalg avx512_vpopcntdq \
cldemote movdiri movdir64b serialize tsxldtrk amx_bf16 avx512_fp16 amx_tile amx_int8 arch_capabilities
"""


def _scratch_env(tmp_path: Path) -> dict:
    """The bench's environment with its default scratch (a temporary directory) under ``tmp_path/tmp``."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp_path / "tmp")}


def _scratch_left(tmp_path: Path) -> list:
    return sorted((tmp_path / "tmp").glob("mindzoo-bench-*"))


def _run_bench(tmp_path: Path, *args: str, timeout: int) -> dict:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=_scratch_env(tmp_path))
    assert out.is_file(), f"no JSON written (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert _scratch_left(tmp_path) == []  # its temporary scratch (images, exports) is removed
    doc = json.loads(out.read_text())
    assert proc.returncode == 0, f"exit {proc.returncode}; errors: {doc.get('errors')}\n{proc.stderr[-2000:]}"
    assert doc["schema"] == "mindzoo-bench/1"
    assert doc["quick"] is True
    assert MACHINE_KEYS <= set(doc["machine"])
    assert set(doc["machine"]["versions"]) >= {"mindspore", "torch", "onnxruntime"}
    assert len(doc["load_average"]["start"]) == 3 and len(doc["load_average"]["end"]) == 3
    assert doc["errors"] == []
    assert doc["machine"]["cpu"] == cpu.detect().to_json()  # the flags of the CPU it ran on
    assert doc["cpu_kind"] == doc["machine"]["cpu"]["kind"] in cpu.KINDS
    assert doc["seconds"] > 0 and doc["budget"]["estimate_s"] > 0
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
    assert "load_average" in data and "seconds" in data


def test_quick_engine_section_loop_overhead(tmp_path: Path) -> None:
    doc = _run_bench(tmp_path, "--only", "engine", timeout=600)
    engine = doc["results"]["engine"]
    loop = engine["loop"]
    rows = {r["mode"]: r for r in loop["rows"]}
    assert [r["name"] for r in loop["rows"]] == ["engine-loop", "engine-bare"] and loop["rounds_done"] == loop["rounds"]
    assert rows["loop"]["stepper"] == "Model.train" and rows["loop"]["data_workers"] >= 1  # train.py's loop
    steps = rows["loop"]["steps_per_epoch"]
    assert steps == engine["images"]["train"]["images"] // loop["batch"] == rows["bare"]["steps_per_round"]
    # the loop reads the host at its read points: every log_interval steps and at the epoch's end
    assert rows["loop"]["reads"] == [-(-steps // rows["loop"]["log_interval"])] * loop["rounds"]
    for row in rows.values():
        assert row["steps_per_s"] > 0 and len(row["round_s"]) == loop["rounds"] and "error" not in row
    assert loop["loop_over_bare"] > 0 and loop["target"] == 0.9
    assert loop["met"] is (loop["loop_over_bare"] >= 0.9)
    assert "eval_sweep" not in engine  # retired: tests/test_eval_sweep.py asserts one graph per batch shape
    targets = {t["target"].split(" ")[0]: t for t in doc["summary"]["targets"]}
    assert targets["train.py"]["value"] == loop["loop_over_bare"] and targets["train.py"]["met"] is loop["met"]
    text = report.render(doc, "en", "run.json")
    assert "Engine: host overhead" in text and "quick mode" in text and "CPU kind `" in text
    cn = report.render(doc, "cn", "run.json")
    assert "训练引擎" in cn and "train.py 训练循环 >= 裸训练步速度的 0.9 倍" in cn


@pytest.mark.slow
def test_quick_all_sections_write_json(tmp_path: Path) -> None:
    doc = _run_bench(tmp_path, timeout=1800)
    results = doc["results"]
    assert set(results) == set(SECTIONS) == {"train", "infer", "data", "engine"}
    group = results["train"]["groups"][0]
    assert [r["task"] for r in group["rows"]][0] == "train.MsTrain"
    assert {r["mode"] for r in group["rows"]} >= {"ms", "fp32", "fp32_passive"}
    assert all(r["img_per_s"] > 0 and r["first_step_s"] > 0 for r in group["rows"])
    kinds = {r["kind"] for r in results["infer"]["rows"]}
    assert kinds == {"ms_eval", "ms_eval_unfolded", "mindir", "mindir_unfolded", "ort", "ort_nospin", "cpp",
                     "ort_int8", "cpp_int8"}
    int8 = results["infer"]["int8"]
    assert int8["ort_b1_speedup"] > 0 and "avx512_vnni" in int8["cpu_int8_features"]
    assert results["infer"]["top1_agree"] is True
    assert all(r["b1_latency_ms"] > 0 for r in results["infer"]["rows"])
    assert {t["target"].split()[0] for t in doc["summary"]["targets"]}


def test_median_ratio_and_table() -> None:
    assert common.median([3, 1, 2]) == 2 and common.median([4, 1, 3, 2]) == 2.5 and common.median([]) is None
    assert common.ratio(2.0, 0) is None and common.ratio(3.0, 2.0) == 1.5
    text = common.table(["a", "b"], [("x", 1.2345), ("y", None)])
    assert "1.23" in text and "-" in text.splitlines()[-1]
    assert common.table(["a"], [("x",)]).startswith("| a |")


def test_summary_targets_from_one_run() -> None:
    results = {
        "train": {"groups": [{"model": "resnet50", "rows": [
            {"task": "train.MsTrain", "spec": {}, "vs_torch_fp32": 1.2},
            {"task": "train.TorchTrain", "spec": {"mode": "fp32"}, "vs_torch_fp32": 1.0}]}]},
        "infer": {"rows": [{"kind": "ms_eval", "latency_vs_ort": 1.5, "latency_vs_ort_nospin": 1.2},
                           {"kind": "mindir", "latency_vs_ort": 1.25},
                           {"kind": "ort", "latency_vs_ort": 1.0}, {"kind": "cpp", "latency_vs_ort": 0.98}]},
        "data": {"train_consumption_ratio": 250.0},
        "engine": {"loop": {"model": "resnet18", "size": 32, "batch": 8, "target": 0.9, "loop_over_bare": 0.95}},
    }
    targets = summary.build(results)["targets"]
    assert [t["met"] for t in targets] == [True, False, True, True, True, True, True]
    assert targets[0]["value"] == pytest.approx(1.2)
    results["engine"]["loop"]["loop_over_bare"] = 0.85
    assert [t["met"] for t in summary.build(results)["targets"]][-1:] == [False]


def test_cli_options_and_error_collection() -> None:
    assert parse_args(["--only", "data,train"]).sections == ["data", "train"]
    assert parse_args([]).sections == ["train", "infer", "data", "engine"]
    assert parse_args([]).budget_minutes == 30 and parse_args(["--quick"]).budget_minutes == 20
    assert parse_args(["--budget-minutes", "0"]).budget_minutes == 0
    for bad in (["--only", "nope"], ["--only", "tuning"], ["--plan-as", "avx1024"], ["--limit-scale", "0"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    errors = collect_errors({"a": [{"error": "boom"}, {"x": 1, "name": "w", "error": "late"}], "b": {"error": None}})
    assert errors == ["a[0]: boom", "a[1] (w): late"]


def test_cpu_kinds_from_canned_cpuinfo() -> None:
    zen3 = cpu.parse_cpuinfo(ZEN3_CPUINFO, "zen3")
    assert (zen3.model_name, zen3.vendor, zen3.kind) == ("AMD EPYC 7B13", "AuthenticAMD", "avx2")
    assert not zen3.has("avx512f") and not zen3.native_bf16  # the second processor's flags are not read
    zen4 = cpu.parse_cpuinfo(ZEN4_CPUINFO, "zen4")
    assert (zen4.kind, zen4.native_bf16, zen4.has("avx512_fp16"), zen4.has("amx_tile")) == \
        ("avx512-bf16", True, False, False)
    intel = cpu.parse_cpuinfo(INTEL_AMX_CPUINFO, "intel")
    assert (intel.vendor, intel.kind, intel.native_bf16) == ("GenuineIntel", "avx512-bf16-amx", True)
    assert intel.to_json()["features"] == {"avx2": True, "avx512f": True, "avx512_bf16": True, "amx_bf16": True,
                                           "amx_tile": True, "avx512_fp16": True}
    assert zen3.to_json()["features"]["avx2"] and zen3.to_json()["flags_source"] == "zen3"
    assert cpu.parse_cpuinfo(ZEN4_CPUINFO.replace(" avx512_bf16", "")).kind == "avx512"
    assert "AVX-512F" in zen4.describe() and "AMX" not in zen4.describe()
    for kind in cpu.KINDS:  # --plan-as gives a CPU of exactly that kind
        assert cpu.as_kind(kind, zen3).kind == kind
    with pytest.raises(ValueError, match="unknown CPU kind"):
        cpu.as_kind("avx1024", zen3)


def test_skip_decisions_per_cpu_kind() -> None:
    zen3, zen4, intel = (cpu.parse_cpuinfo(t) for t in (ZEN3_CPUINFO, ZEN4_CPUINFO, INTEL_AMX_CPUINFO))
    for mode in ("fp32", "fp32_passive", "cl"):  # fp32 runs natively everywhere
        assert all(cpu.torch_mode_skip(mode, c) is None for c in (zen3, zen4, intel))
    for mode in ("bf16", "bf16_cl"):
        assert cpu.torch_mode_skip(mode, zen3) is cpu.BF16_EMULATED
        assert cpu.torch_mode_skip(mode, zen4) is None and cpu.torch_mode_skip(mode, intel) is None
    amx_only = cpu.parse_cpuinfo(INTEL_AMX_CPUINFO.replace(" avx512_bf16", ""))  # AMX-BF16 alone is native bf16
    assert cpu.torch_mode_skip("bf16", amx_only) is None
    row = cpu.skipped_row(cpu.BF16_EMULATED, name="w", mode="bf16")
    assert row["skipped"] == cpu.BF16_EMULATED.text and row["skip_code"] == "bf16_emulated"
    assert report.status_cell(row, "-", "en") == f"skipped: {cpu.BF16_EMULATED.text}"


class Sleeper:
    """A bench worker task (driven through ``python -m bench.worker``) that sleeps as told and keeps a child
    process alive, so a test can see a time limit kill the worker's whole process group."""

    def __init__(self, pid_file: str, setup_s: float = 0.0, step_s: float = 0.0, threads: int = 0) -> None:
        self.pid_file, self.setup_s, self.step_s = pid_file, setup_s, step_s

    def setup(self) -> dict:
        self.child = subprocess.Popen(["sleep", "600"])
        Path(self.pid_file).write_text(str(self.child.pid))
        time.sleep(self.setup_s)
        return {"first_step_s": self.setup_s}

    def step(self) -> dict:
        t0 = time.perf_counter()
        time.sleep(self.step_s)
        return {"seconds": time.perf_counter() - t0}

    def finish(self) -> dict:
        self.child.kill()
        self.child.wait()
        return {}


def test_worker_over_its_time_limit_is_killed_and_the_others_finish(tmp_path: Path) -> None:
    from helpers import alive  # here: the workers import this module as tests.test_bench, without tests/ on the path

    task = "tests.test_bench:Sleeper"
    pids = {name: tmp_path / f"{name}.pid" for name in ("hung-setup", "fast", "hung-step")}
    limits = budget.Limits(setup_s=60.0, step_s=3.0)
    workers = [common.Worker("hung-setup", task, {"pid_file": str(pids["hung-setup"]), "setup_s": 600}, tmp_path,
                             limits=budget.Limits(setup_s=4.0, step_s=3.0)),
               common.Worker("fast", task, {"pid_file": str(pids["fast"]), "step_s": 0.05}, tmp_path, limits=limits),
               common.Worker("hung-step", task, {"pid_file": str(pids["hung-step"]), "step_s": 600}, tmp_path,
                             limits=limits)]
    t0 = time.monotonic()
    assert common.run_lockstep(workers, 3, label="test", pause=0.0) == 3
    elapsed = time.monotonic() - t0
    rows = {w.name: w.summary() for w in workers}
    assert rows["fast"]["rounds"] == 3 and "error" not in rows["fast"]
    assert rows["hung-step"]["rounds"] == 0
    assert rows["hung-step"]["error"] == "time limit of 3 s exceeded (round 1); worker killed"
    assert rows["hung-setup"]["error"].startswith("time limit of 4 s exceeded (setup")
    assert rows["hung-step"]["time_limits"] == {"setup_s": 60.0, "step_s": 3.0}
    assert elapsed < 120  # neither hung worker blocked the run for its 600 s
    assert all(w.proc.poll() is not None for w in workers)
    assert not alive(int(pids["hung-step"].read_text()))  # the worker's child died with its process group
    if pids["hung-setup"].exists():
        assert not alive(int(pids["hung-setup"].read_text()))
    assert common._LIVE.isdisjoint(workers)


def test_work_that_would_overrun_the_run_budget_is_not_started(tmp_path: Path) -> None:
    task, deadline = "tests.test_bench:Sleeper", time.monotonic() + 120
    big = common.Worker("big", task, {"pid_file": str(tmp_path / "big")}, tmp_path, deadline=deadline,
                        expected=budget.Expected(setup_s=600.0, step_s=1.0))
    small = common.Worker("small", task, {"pid_file": str(tmp_path / "small"), "step_s": 0.01}, tmp_path,
                          deadline=deadline, expected=budget.Expected(setup_s=1.0, step_s=0.01))
    assert common.run_lockstep([big, small], 2, label="test") == 2
    row = big.summary()
    assert row["skipped"] == common.BUDGET_EXHAUSTED.text and row["rounds"] == 0 and "error" not in row
    assert not (tmp_path / "big").exists() and big.proc.poll() is not None  # never set up
    assert small.summary()["rounds"] == 2 and "skipped" not in small.summary()
    slow = common.Worker("slow-rounds", task, {"pid_file": str(tmp_path / "slow")}, tmp_path, deadline=deadline,
                         expected=budget.Expected(setup_s=1.0, step_s=600.0))
    assert common.run_lockstep([slow], 2, label="test") == 0  # set up, but no round fits: skipped
    assert slow.summary()["skipped"] == common.BUDGET_EXHAUSTED.text and (tmp_path / "slow").exists()


def test_quick_train_planned_as_avx2_skips_bf16(tmp_path: Path) -> None:
    doc = _run_bench(tmp_path, "--only", "train", "--plan-as", "avx2", timeout=600)
    assert doc["plan_as"] == "avx2" and doc["budget"]["estimate_kind"] == "avx2"
    rows = {r["mode"]: r for r in doc["results"]["train"]["groups"][0]["rows"]}
    assert rows["bf16_cl"]["skipped"] == cpu.BF16_EMULATED.text and rows["bf16_cl"]["skip_code"] == "bf16_emulated"
    assert "img_per_s" not in rows["bf16_cl"] and "vs_torch_fp32" not in rows["bf16_cl"]
    for mode in ("ms", "fp32", "fp32_passive"):
        assert rows[mode]["img_per_s"] > 0 and "skipped" not in rows[mode]
        assert rows[mode]["time_limits"]["setup_s"] > rows[mode]["time_limits"]["step_s"] > 0
    assert doc["skipped"] == [f"train.groups[0].rows[3] (train-resnet18-torch-bf16_cl): {cpu.BF16_EMULATED.text}"]
    text = report.render(doc, "en", "run.json")
    assert f"skipped: {cpu.BF16_EMULATED.text}" in text
    assert f"CPU kind `{doc['machine']['cpu']['kind']}`" in text and "`run.json`" in text
    assert "跳过: bf16" in report.render(doc, "cn", "run.json")


def test_time_limit_fails_rows_not_the_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "data", "--setup-limit", "0.5",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=_scratch_env(tmp_path))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert _scratch_left(tmp_path) == []  # a failed run removes its scratch too
    doc = json.loads(out.read_text())
    rows = doc["results"]["data"]["rows"]
    assert rows and all(r["error"].startswith("time limit of 0.5 s exceeded (setup") for r in rows)
    assert len(doc["errors"]) == len(rows) and doc["time_limits"]["setup_s"] == 0.5


def test_terminated_run_removes_its_scratch(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bench", "--quick", "--only", "data", "--out",
                             str(tmp_path / "bench.json")], cwd=REPO, env=_scratch_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "tmp").glob("mindzoo-bench-*/logs/*")) and time.monotonic() < deadline:
            time.sleep(0.2)  # until a worker writes its log: the run is under way
        assert _scratch_left(tmp_path), "the bench never started a worker"
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
    assert proc.returncode == 143, output[-2000:]
    assert _scratch_left(tmp_path) == [] and not (tmp_path / "bench.json").exists()


def test_total_budget_skips_what_has_not_started(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "engine,data", "--budget-minutes",
                           "1e-9", "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["budget"]["cut"] is True and doc["budget"]["minutes"] == 1e-9
    for name in ("engine", "data"):
        assert doc["results"][name]["skipped"] == common.BUDGET_EXHAUSTED.text
    assert len(doc["skipped"]) == 2 and doc["errors"] == []


def test_full_run_estimate_fits_the_budget_on_every_cpu_kind(tmp_path: Path) -> None:
    real = cpu.detect()
    totals = {}
    for kind in cpu.KINDS:
        ctx = common.Context(quick=False, threads=2, work_dir=tmp_path, log_dir=tmp_path, cpu=cpu.as_kind(kind, real),
                             speed_kind=kind)
        totals[kind] = sum(estimate_sections(ctx, SECTIONS).values())
        assert 5 * 60 < totals[kind] < BUDGET_MINUTES[False] * 60, (kind, totals[kind])
    assert totals["avx2"] > totals["avx512-bf16"]  # slower per image, even with its bf16 modes skipped


def test_time_limits_follow_the_mode() -> None:
    r50 = {"model": "resnet50", "batch": 32, "size": 224}
    for kind in budget.MEASURED_KINDS:
        first = budget.limits("train.MsTrain", r50, kind)
        assert 120 < first.setup_s < 600 and 60 < first.step_s < first.setup_s  # a few minutes for a first step
        tiny = budget.limits("train.MsTrain", {"model": "resnet18", "batch": 4, "size": 64}, kind)
        assert tiny.setup_s < first.setup_s and tiny.step_s < first.step_s
    assert budget.limits("train.MsTrain", r50, "avx2").setup_s > budget.limits("train.MsTrain", r50, "avx512-bf16").setup_s
    scaled = budget.limits("train.MsTrain", r50, "avx2", scale=2.0)
    assert scaled.setup_s == pytest.approx(2 * budget.limits("train.MsTrain", r50, "avx2").setup_s)
    assert budget.limits("train.TorchTrain", {**r50, "mode": "fp32"}, "avx2", setup_s=5.0, step_s=1.0) == \
        budget.Limits(5.0, 1.0)
    with pytest.raises(KeyError):
        budget.expected("nope.Task", {}, "avx2")


def test_result_files_are_named_by_cpu_kind() -> None:
    path = default_out(False, "host", "avx2")
    assert path.parent.name == "results" and path.name.endswith("-host-avx2.json")
    assert default_out(True, "host", "avx512-bf16-amx").name.endswith("-host-avx512-bf16-amx-quick.json")


def test_report_renders_committed_results_in_both_languages(capsys: pytest.CaptureFixture) -> None:
    """``python -m bench.report FILE [--lang cn]``: the docs' tables from a committed full run."""
    path = REPO / "bench" / "results" / "2026-12-01-vm-avx512-bf16-amx.json"
    assert report.main([str(path)]) == 0
    en = capsys.readouterr().out
    for title in ("Training throughput", "Inference (ResNet50 224x224)", "Data pipeline", "Engine: host overhead",
                  "Scaling of our ResNet50 train step", "Targets (ratios from this run)"):
        assert f"#### {title}" in en
    assert "| resnet50 | 32 | 224x224 | 3.80 |" in en and "**0.86x**" in en  # numbers straight from the file
    assert "| MindSpore eval network (GRAPH, BN folded as eval.py) | 95.0 | 2.99 |" in en
    assert "| before: fresh network per checkpoint | 10 | 2, 4, 6, 8, 10 |" in en and "**1.46x**" in en
    assert en.count(f"CPU kind `avx512-bf16-amx`, 2 threads; `{path.name}`") == 6
    assert report.main([str(path), "--lang", "cn"]) == 0
    cn = capsys.readouterr().out
    assert "#### 训练吞吐" in cn and "| MindSpore 评估网络 (GRAPH, 与 eval.py 一样折叠 BN) | 95.0 |" in cn
    assert "resnet50 训练步速度 >= PyTorch fp32 eager 的 1.1 倍" in cn and "| 0.864 | 否 |" in cn
    assert cn.count("| ") == en.count("| ")  # the same tables, translated cell by cell


def test_report_shows_rows_it_has_no_string_for() -> None:
    """A row another section adds later (a new inference path, a new PyTorch mode) shows with its recorded label
    in either language, and an untranslated string stays English rather than vanishing."""
    path = REPO / "bench" / "results" / "2026-12-01-vm-avx512-bf16-amx.json"
    doc = json.loads(path.read_text())
    doc["results"]["infer"]["rows"].append({"kind": "lite_cpp", "label": "MindSpore Lite C++ (INT8)",
                                            "b1_latency_ms": 12.5, "latency_vs_ort": 0.4})
    doc["results"]["infer"]["rows"].append({"kind": "no_label", "b1_latency_ms": 1.0})
    group = doc["results"]["train"]["groups"][0]
    group["rows"].append({**group["rows"][1], "mode": "fp16", "label": "PyTorch eager fp16", "img_per_s": 7.5})
    for lang in ("en", "cn"):
        text = report.render(doc, lang, path.name)
        assert "| MindSpore Lite C++ (INT8) | 12.5 | 0.40 |" in text and "| no_label | 1.0 |" in text
        assert "PyTorch eager fp16 |" in text.splitlines()[6]  # the train header, after the known modes
        assert "| 14.74 | 7.50 |" in text  # resnet50's bf16_cl, then the new mode's column
    assert report.tr("a string nobody translated", "cn") == "a string nobody translated"
    assert report.tr("Batch-1 latency ms", "cn") == "Batch-1 时延 ms"


def test_run_bounded_reports_a_time_limit_as_exit_minus_9() -> None:
    """bench's helper commands run through mindzoo.procs.run_step: output captured, the group killed at the limit."""
    done = common.run_bounded([sys.executable, "-c", "print('hi')"], 60, "echo")
    assert (done.returncode, done.stdout.strip()) == (0, "hi")
    late = common.run_bounded([sys.executable, "-c", "import time; time.sleep(60)"], 1, "sleeper")
    assert late.returncode == -9 and "time limit of 1 s exceeded (sleeper)" in late.stderr


def test_opt_in_sections_are_accepted_but_not_run_by_default() -> None:
    """``--only lite`` names the opt-in MindSpore Lite section; a plain run does not include it."""
    from bench import ALL_SECTIONS

    assert parse_args(["--only", "lite"]).sections == ["lite"]
    assert parse_args([]).sections == list(SECTIONS) and "lite" in ALL_SECTIONS and "lite" not in SECTIONS
    with pytest.raises(SystemExit):
        parse_args(["--only", "nonsense"])


def test_report_renders_the_opt_in_lite_section() -> None:
    """``python -m bench --only lite`` prints bench.report's lite table (a missing renderer crashed the run after
    measuring, before the JSON was written)."""
    path = REPO / "bench" / "results" / "2026-12-06-vm-avx512-bf16-lite.json"
    doc = json.loads(path.read_text())
    for lang in ("en", "cn"):
        text = report.section_body(doc, "lite", lang)
        assert "| C++ harness, MindSpore C++ API on MindSpore Lite (_lite.mindir) | 395 | 0.98 | 1.00 | - |" in text
        assert "1.9e-06 (batch 1)" in text
    assert "#### MindSpore Lite through MindSpore's C++ API" in report.render(doc, "en", path.name)

"""train.py and eval.py end to end on tiny real data: exact resume, full-val counting, bad input."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import mindspore as ms
import numpy as np
import pytest

from helpers import REPO, error_lines, make_image_folder, run

TINY = [
    "--net_name=resnet18", "--num_classes=4", "--train_image_size=32", "--eval_image_size=32",
    "--batch_size=4", "--eval_batch_size=8", "--lr=0.4", "--warmup_epochs=1", "--log_interval=5",
    "--num_parallel_workers=1", "--keep_checkpoint_max=10",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    # 4 x 12 train images (12 steps of 4), 4 classes x 5 val = 20 val images: not a multiple of 8.
    return make_image_folder(tmp_path_factory.mktemp("data"), {
        "train": {f"c{k}": 12 for k in range(4)}, "val": {f"c{k}": 5 for k in range(4)}})


# The default data-worker count (num_parallel_workers=0: one per core, 2 here), random augmentation on, eval on.
DEFAULT_WORKERS = [arg for arg in TINY if not arg.startswith("--num_parallel_workers")]
TIMING_FIELDS = {"img_per_s", "step_time_s", "seconds"}


def _checkpoint_arrays(path):
    return {name: param.asnumpy() for name, param in ms.load_checkpoint(str(path)).items()}


def _trajectory(output_dir):
    """metrics.jsonl without its timing fields: every logged loss, lr, loss scale and eval count."""
    records = [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in record.items() if k not in TIMING_FIELDS} for record in records]


@pytest.fixture(scope="module")
def default_run(data, tmp_path_factory):
    """Two epochs of train.py with the default worker count: the reference for the repeat and resume tests."""
    from mindzoo.data.dataset import auto_num_workers

    if auto_num_workers() < 2:
        pytest.skip("one core: the default is a single data worker, which the other tests already cover")
    out = tmp_path_factory.mktemp("default_run")
    proc = run("train.py", [f"--data_path={data}", *DEFAULT_WORKERS, "--epoch_size=2", f"--output_dir={out}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.mark.slow
def test_the_same_command_twice_gives_bit_identical_checkpoints_and_metrics(data, default_run, tmp_path):
    """Same machine, seed and command: identical weights, optimizer state, losses and accuracies (timing aside),
    with 2 data workers and random augmentation. Across CPU kinds the numbers differ (README).

    Slow: the default suite's killed-run test runs the same command again and asserts the same final weights,
    optimizer state and whole metrics trajectory; this one adds every intermediate checkpoint."""
    again = tmp_path / "again"
    proc = run("train.py", [f"--data_path={data}", *DEFAULT_WORKERS, "--epoch_size=2", f"--output_dir={again}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = sorted(p.name for p in (default_run / "checkpoints").glob("*.ckpt"))
    assert names == ["best_acc.ckpt", "resnet18-1_12.ckpt", "resnet18-2_12.ckpt"]
    assert names == sorted(p.name for p in (again / "checkpoints").glob("*.ckpt"))
    for name in names:
        first = _checkpoint_arrays(default_run / "checkpoints" / name)
        second = _checkpoint_arrays(again / "checkpoints" / name)
        assert sorted(first) == sorted(second) and len(first) > 100
        for key in first:
            np.testing.assert_array_equal(first[key], second[key], err_msg=f"{name}: {key}")
    trajectory = _trajectory(default_run)
    assert [r["event"] for r in trajectory].count("eval") == 2 and any(r["event"] == "step" for r in trajectory)
    assert trajectory == _trajectory(again)


def test_killed_run_resumes_to_the_same_weights(data, default_run, tmp_path):
    """SIGKILL after epoch 1's checkpoint, resume with --resume_ckpt=auto: final weights equal an unbroken run's,
    with the default worker count."""
    args = [f"--data_path={data}", *DEFAULT_WORKERS, "--epoch_size=2"]
    broken = tmp_path / "broken"
    child = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args, f"--output_dir={broken}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not _logged_past_epoch_1(broken) and time.time() < deadline:
        assert child.poll() is None, "training ended before it could be killed"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not list((broken / "checkpoints").glob("resnet18-2_*.ckpt")), "the kill came too late to test resume"
    assert list((broken / "checkpoints").glob("resnet18-1_12.ckpt"))

    proc = run("train.py", [*args, f"--output_dir={broken}", "--resume_ckpt=auto"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "resumed from" in proc.stdout
    final_a = _checkpoint_arrays(default_run / "checkpoints" / "resnet18-2_12.ckpt")
    final_b = _checkpoint_arrays(broken / "checkpoints" / "resnet18-2_12.ckpt")
    weights = [k for k in final_a if k.startswith(("conv1", "layer", "fc", "bn1"))]
    moments = [k for k in final_a if k.startswith("moments.")]
    assert len(weights) > 50 and moments
    for key in [*weights, *moments, "global_step", "loss_scale"]:
        np.testing.assert_array_equal(final_a[key], final_b[key], err_msg=key)
    # the killed run logged epoch 2 steps past its checkpoint; the resumed run dropped them and logged them again
    assert _trajectory(broken) == _trajectory(default_run)


def _logged_past_epoch_1(output_dir):
    """Epoch 1's checkpoint is written and metrics.jsonl already has a step line of epoch 2."""
    metrics = output_dir / "metrics.jsonl"
    if not (output_dir / "checkpoints" / "resnet18-1_12.ckpt").exists() or not metrics.exists():
        return False
    lines = [line for line in metrics.read_text().splitlines() if line.endswith("}")]
    return any(json.loads(line).get("epoch") == 2 and json.loads(line)["event"] == "step" for line in lines)


def test_train_logs_metrics_checkpoints_and_eval_counts_every_image(data, tmp_path):
    out = tmp_path / "run"
    proc = run("train.py", [f"--data_path={data}", *TINY, "--epoch_size=2", f"--output_dir={out}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "img/s" in proc.stdout and "ETA" in proc.stdout and "loss is" in proc.stdout
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["event"] == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2] and all(r["total"] == 20 for r in evals)
    assert (out / "curves.png").stat().st_size > 1000 and (out / "checkpoints" / "best_acc.ckpt").is_file()
    assert (out / "train_rank0.log").read_text().count("eval: top1") == 2

    ev = tmp_path / "eval"
    proc = run("eval.py", [f"--data_path={data}", "--net_name=resnet18", "--num_classes=4", "--eval_image_size=32",
                           "--eval_batch_size=8", f"--pretrained={out / 'checkpoints' / 'best_acc.ckpt'}",
                           f"--output_dir={ev}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("result: ")][0]
    assert "'top_1_accuracy': " in line and "'top_5_accuracy': 1.0" in line and "ckpt= " in line
    result = json.loads((ev / "eval_result.json").read_text())
    assert result["total"] == 20 and result["image_size"] == 32
    best_eval = max(r["top1"] for r in evals)
    assert result["top1"] == pytest.approx(best_eval)
    proc = run("eval.py", [f"--data_path={data}", "--net_name=resnet18", "--num_classes=4", "--eval_image_size=32",
                           f"--pretrained={out / 'checkpoints' / 'best_acc.ckpt'}", f"--output_dir={tmp_path / 'bn'}",
                           "--fold_bn=False"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "bn" / "eval_result.json").read_text())["top1"] == pytest.approx(best_eval)

    proc = run("eval.py", [f"--data_path={data / 'val'}", "--net_name=resnet18", "--num_classes=4",
                           "--eval_image_size=32", f"--pretrained={out / 'checkpoints'}", f"--output_dir={ev}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpts = [line.split("ckpt= ")[1] for line in proc.stdout.splitlines() if line.startswith("result: ")]
    assert [os.path.basename(c) for c in ckpts] == ["best_acc.ckpt", "resnet18-1_12.ckpt", "resnet18-2_12.ckpt"]
    per_ckpt = json.loads((ev / "eval_result.json").read_text())
    assert [r["total"] for r in per_ckpt] == [20, 20, 20]
    # eval.py folds BN once and assigns each checkpoint's folded values: each agrees with eval-while-train's
    # unfolded count, and the directory costs one graph compile (20 images: one batch shape)
    assert [r["top1"] for r in per_ckpt] == pytest.approx([best_eval, evals[0]["top1"], evals[1]["top1"]])
    assert "3 checkpoint(s) evaluated with 1 compiled graph(s)" in proc.stdout


def _nan_checkpoint(path, num_classes=4):
    import mindzoo

    net = mindzoo.create_model("resnet18", num_classes=num_classes)
    net.fc.weight.set_data(ms.Tensor(np.full(net.fc.weight.shape, np.nan, np.float32)))
    ms.save_checkpoint(net, str(path))
    return path


def test_eval_scores_a_nan_network_zero(data, tmp_path):
    ckpt = _nan_checkpoint(tmp_path / "nan.ckpt")
    proc = run("eval.py", [f"--data_path={data}", "--net_name=resnet18", "--num_classes=4", "--eval_image_size=32",
                           f"--pretrained={ckpt}", f"--output_dir={tmp_path / 'ev'}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "ev" / "eval_result.json").read_text())
    assert (result["top1"], result["top5"], result["total"]) == (0.0, 0.0, 20)
    assert "20 of 20 images got non-finite logits" in proc.stdout


def test_eval_while_train_never_saves_a_nan_network_as_best(data, tmp_path):
    """A dynamic loss scale skips every NaN step, so training runs on and evaluates the NaN network."""
    ckpt = _nan_checkpoint(tmp_path / "nan.ckpt")
    out = tmp_path / "run"
    proc = run("train.py", [f"--data_path={data}", *TINY, "--epoch_size=1", "--warmup_epochs=0",
                            f"--pretrained={ckpt}", "--loss_scale_type=dynamic", f"--output_dir={out}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if r["event"] == "eval"]
    assert [(r["top1"], r["top5"], r["nonfinite"]) for r in evals] == [(0.0, 0.0, 20)]
    assert (out / "checkpoints" / "resnet18-1_12.ckpt").is_file()
    assert not (out / "checkpoints" / "best_acc.ckpt").exists()


def test_eval_of_a_root_without_val_names_the_missing_val(tmp_path):
    root = make_image_folder(tmp_path / "data", {"train": {"a": 1, "b": 1}})
    ckpt = tmp_path / "r18.ckpt"
    ckpt.write_bytes(b"")
    proc = run("eval.py", [f"--data_path={root}", "--net_name=resnet18", "--num_classes=2", f"--pretrained={ckpt}",
                           f"--output_dir={tmp_path / 'ev'}"], timeout=120)
    assert proc.returncode == 2
    assert error_lines(proc) == [f"error: {root} has train/ but no val/: eval.py evaluates {root / 'val'}/<class>/*; "
                                 "create it, or pass the val folder itself as --data_path"]


@pytest.mark.parametrize("case", ["missing_dir", "empty_class", "num_classes", "unknown_key", "unwritable",
                                  "corrupt_image", "warmup", "ascend", "unknown_model"])
def test_bad_input_is_one_line_exit_2(data, tmp_path, case):
    args = [f"--data_path={data}", *TINY, "--epoch_size=2", f"--output_dir={tmp_path / 'out'}"]
    expected = {
        "missing_dir": (f"--data_path={tmp_path / 'nowhere'}", "nowhere"),
        "num_classes": ("--num_classes=5", "num_classes=5"),
        "unknown_key": ("--epochs=3", "did you mean 'epoch_size'"),
        "warmup": ("--warmup_epochs=2", "warmup_epochs (2) must be in [0, epoch_size=2)"),
        "unknown_model": ("--net_name=resnet5", "net_name: unknown model 'resnet5'; did you mean 'resnet50'?"),
        # this machine's MindSpore has no Ascend: one line with MindSpore's reason and the fix, nothing else
        "ascend": ("--device_target=Ascend", "device_target Ascend cannot be used here (Unsupported device target "
                   "Ascend. This process only supports one of the ['CPU']); on this machine pass --device_target CPU"),
        "unwritable": (f"--output_dir={data / 'train' / 'c0' / 'train_c0_000.jpg' / 'out'}", "not writable"),
    }
    if case == "empty_class":
        broken = tmp_path / "broken"
        make_image_folder(broken, {"train": {"a": 4, "b": 4}, "val": {"a": 1, "b": 1}})
        (broken / "train" / "c").mkdir()
        extra, needle = f"--data_path={broken}", str(broken / "train" / "c")
        args.append("--num_classes=3")
    elif case == "corrupt_image":
        broken = tmp_path / "broken"
        make_image_folder(broken, {"train": {f"c{k}": 4 for k in range(4)}, "val": {f"c{k}": 1 for k in range(4)}})
        bad = broken / "train" / "c2" / "train_c2_001.jpg"
        bad.write_bytes(bad.read_bytes()[:200])  # truncated mid-scan, as from an interrupted copy
        extra, needle = f"--data_path={broken}", str(bad)
    else:
        extra, needle = expected[case]
    proc = run("train.py", [*args, extra], timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = error_lines(proc)
    assert len(errors) == 1 and needle in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    if case == "ascend":
        assert proc.stderr.strip().splitlines() == errors, proc.stderr[-2000:]


def test_eval_checkpoint_with_other_num_classes_is_clear(data, tmp_path):
    import mindzoo

    ckpt = tmp_path / "r18_10.ckpt"
    ms.save_checkpoint(mindzoo.create_model("resnet18", num_classes=10), str(ckpt))
    proc = run("eval.py", [f"--data_path={data}", "--net_name=resnet18", "--num_classes=4", f"--pretrained={ckpt}",
                           f"--output_dir={tmp_path}"], timeout=120)
    assert proc.returncode == 2
    assert error_lines(proc) and "10-class classifier" in error_lines(proc)[0]


def test_mid_epoch_step_checkpoint_resumes_to_the_same_weights(data, tmp_path):
    """--save_checkpoint_steps=5 (12 steps an epoch): resuming from resnet18-2_3.ckpt (epoch 2, step 3) replays
    epoch 2's shuffled, augmented order, skips its first 3 steps and ends with the unbroken run's weights."""
    args = [f"--data_path={data}", *TINY, "--epoch_size=3", "--run_eval=False", "--save_checkpoint_steps=5",
            "--keep_checkpoint_max=20"]
    unbroken = tmp_path / "unbroken"
    proc = run("train.py", [*args, f"--output_dir={unbroken}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = sorted(p.name for p in (unbroken / "checkpoints").glob("resnet18-*.ckpt"))
    assert names == sorted(f"resnet18-{e}_{s}.ckpt" for e, s in
                           [(1, 5), (1, 10), (1, 12), (2, 3), (2, 8), (2, 12), (3, 1), (3, 6), (3, 11), (3, 12)])

    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copy(unbroken / "checkpoints" / "resnet18-2_3.ckpt", resumed / "checkpoints")
    proc = run("train.py", [*args, f"--output_dir={resumed}", "--resume_ckpt=auto"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "at epoch 2 step 3/12, global step 15" in proc.stdout
    for name in ("resnet18-3_6.ckpt", "resnet18-3_12.ckpt"):
        expected = ms.load_checkpoint(str(unbroken / "checkpoints" / name))
        got = ms.load_checkpoint(str(resumed / "checkpoints" / name))
        assert set(got) == set(expected)
        for key in expected:
            np.testing.assert_array_equal(got[key].asnumpy(), expected[key].asnumpy(), err_msg=f"{name}: {key}")
    epochs = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["steps"]) for r in epochs if r["event"] == "epoch"] == [(2, 9), (3, 12)]


def test_non_finite_loss_stops_at_the_next_read_point_without_a_checkpoint(data, tmp_path):
    """A fixed loss scale and an absurd LR: the loss turns non-finite within the first read window (5 steps),
    the run stops there with exit 1 and saves nothing (the window's end is also a step checkpoint point)."""
    out = tmp_path / "run"
    proc = run("train.py", [f"--data_path={data}", *TINY, "--epoch_size=2", "--run_eval=False", "--lr=1.0e+36",
                            "--warmup_epochs=0", "--save_checkpoint_steps=5", f"--output_dir={out}"], timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    (line,) = error_lines(proc)
    assert line.startswith("error: loss became non-finite in epoch 1 between steps 1 and 5 (seen at the next "
                           "host read point) with a fixed loss scale of 1.0"), line
    assert not list(out.glob("checkpoints/*.ckpt"))


def test_cpu_runs_the_host_loop_and_a_failed_plot_is_a_warning(data, tmp_path):
    """dataset sink mode and sink_size on CPU: MindSpore's host loop, said once, with the usual log lines.
    curves.png cannot be written (a directory is in the way): a warning, exit 0, checkpoints saved."""
    out = tmp_path / "run"
    (out / "curves.png").mkdir(parents=True)
    proc = run("train.py", [f"--data_path={data}", *TINY, "--epoch_size=1", "--run_eval=False", "--sink_size=4", "--warmup_epochs=0",
                            f"--output_dir={out}"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("dataset_sink_mode=True: MindSpore runs its host loop on CPU (sinks need Ascend or "
                             "GPU); sink_size unused") == 1
    assert [line.split("step: ")[1].split(",")[0] for line in proc.stdout.splitlines() if " step: " in line] == \
        ["5/12", "10/12", "12/12"]
    warning = [line for line in proc.stdout.splitlines() if " WARNING could not plot " in line]
    assert warning and "training finished and its checkpoints are saved" in warning[0], proc.stdout[-2000:]
    assert (out / "checkpoints" / "resnet18-1_12.ckpt").is_file() and "Traceback" not in proc.stderr


def test_eval_while_train_under_o3_scores_like_eval_py(data, tmp_path):
    """O3 casts the trained network to fp16. Classifier biases 1000.00, 1000.01, 1000.02, 1000.03 (zero weights):
    fp32 ranks class c3 first for every image (its 5 images are top-1 right), fp16 rounds all four to 1000, a
    tie, which counts against the label (0 right). Eval-while-train must score what eval.py scores on the
    same checkpoint: 5 of 20."""
    import mindspore as ms

    from mindzoo.cli.eval import main as eval_main
    from mindzoo.config import load_config
    from mindzoo.eval.metrics import evaluate
    from mindzoo.train.callbacks import EvalCallback, MetricsWriter
    from mindzoo.train.engine import build_run
    from mindzoo.train.stepping import EpochSummary

    run = build_run(load_config([f"--data_path={data}", *TINY, "--epoch_size=1", "--warmup_epochs=0",
                                 "--amp_level=O3", "--loss_scale=1024", f"--output_dir={tmp_path / 'o3'}"]))
    fc = run.net.get_classifier()
    fc.weight.set_data(ms.Tensor(np.zeros(fc.weight.shape, np.float32)))
    fc.bias.set_data(ms.Tensor(np.array([1000.0, 1000.01, 1000.02, 1000.03], np.float32)))
    assert evaluate(run.net, run.data.eval_dataset()).correct_top1 == 0  # the fp16 training network: all ties

    metrics = tmp_path / "metrics.jsonl"
    EvalCallback(run, MetricsWriter(metrics)).on_epoch_end(run, EpochSummary(1, 12, 0.0, 0.0, None))
    (record,) = [json.loads(line) for line in metrics.read_text().splitlines()]
    checkpoint = tmp_path / "o3.ckpt"
    ms.save_checkpoint(run.net, str(checkpoint))
    assert eval_main([f"--data_path={data}", "--net_name=resnet18", "--num_classes=4", "--eval_image_size=32",
                      "--eval_batch_size=8", f"--pretrained={checkpoint}", f"--output_dir={tmp_path / 'eval'}"]) == 0
    scored = json.loads((tmp_path / "eval" / "eval_result.json").read_text())
    assert (record["correct_top1"], record["correct_top5"], record["total"]) == (5, 20, 20)
    assert (scored["top1"], scored["top5"], scored["total"]) == (record["top1"], record["top5"], 20)


def test_model_zoo_standalone_form_on_a_cpu_only_machine_is_one_line(data, tmp_path):
    """`run_standalone_train.sh DEVICE_ID DATA_PATH` runs on Ascend, as the model zoo's script does; this
    machine's MindSpore has none: one line naming the device, MindSpore's reason and the fix, exit 2."""
    proc = subprocess.run(["bash", str(REPO / "scripts" / "run_standalone_train.sh"), "0", str(data),
                           "--num_classes=4", "--net_name=resnet18"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        "error: device_target Ascend cannot be used here (Unsupported device target Ascend. This process only "
        "supports one of the ['CPU']); on this machine pass --device_target CPU (the model zoo's scripts: "
        "--platform CPU)"], proc.stderr[-2000:]

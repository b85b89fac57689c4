"""Real data-parallel training on CPU (msrun, mccl over 127.0.0.1) through the launch scripts, and what the
launchers do when a rank dies. Every process here is the real train.py.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import pytest

from helpers import alive, make_image_folder, process_stat

REPO = Path(__file__).resolve().parent.parent
#: Tiny, deterministic training: eval-style transform, file order, constant LR (no scaling by batch).
TRAIN_ARGS = [
    "--net_name=resnet18", "--num_classes=2", "--train_image_size=32", "--batch_size=2", "--epoch_size=1",
    "--train_shuffle=False", "--random_augment=False", "--run_eval=False", "--lr_schedule=constant",
    "--warmup_epochs=0", "--lr=0.1", "--lr_base_batch=0", "--momentum=0.9", "--weight_decay=0.0001",
    "--label_smoothing=0.1", "--log_interval=1", "--num_parallel_workers=1",
]
DIGEST_LINE = re.compile(r"rank (\d+) trainable parameters sha256 ([0-9a-f]{64})")
ALL_DIGEST_LINE = re.compile(r"rank (\d+) all parameters sha256 ([0-9a-f]{64}) \(trainable and BatchNorm statistics\)")


def test_a_rank_reads_its_own_shard_and_a_single_process_reads_everything() -> None:
    """DistInfo.shard() is the one place the dataset's num_shards/shard_id come from (train.py and eval.py)."""
    from mindzoo.runtime import DistInfo, init_data_parallel

    assert init_data_parallel(False) == DistInfo() and DistInfo().shard() == {}
    assert DistInfo(rank=1, group_size=2).shard() == {"num_shards": 2, "shard_id": 1}


def _script_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SERVER_ID", "DRY_RUN", "MASTER_PORT")}
    env.update(extra)
    return env


def _launch(script: str, args: Sequence[str], cwd: Path, log: Path, **env: str) -> subprocess.Popen:
    """Start a launch script with its stdout+stderr going to ``log`` (read while it runs)."""
    with open(log, "wb") as fh:
        return subprocess.Popen(["bash", str(REPO / "scripts" / script), *args], cwd=cwd, stdout=fh,
                                stderr=subprocess.STDOUT, env=_script_env(**env), start_new_session=True)


def _wait_for_text(path: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            pytest.fail(f"launcher exited ({process.returncode}) before {path.name} showed {text!r}")
        time.sleep(1)
    pytest.fail(f"{path} did not show {text!r} within {timeout:.0f} s")


def _processes_with(marker: str) -> List[int]:
    """Live (non-zombie) processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _environ(pid: int) -> Dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _stop(process: subprocess.Popen, marker: str) -> None:
    """Test cleanup: whatever happened, leave no process of this test behind."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for pid in _processes_with(marker):
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------- data-parallel parity


def _reference_run(data: Path, init_ckpt: Path, cfg_args: Sequence[str]) -> Dict[str, Dict[str, np.ndarray]]:
    """Single process, batch 4 (the concatenated global batch), BatchNorm statistics per rank's half.

    Returns the final parameters of the model copy that saw rank 0's halves (``rank0``: trainable weights,
    its BN moving statistics, its optimizer moments) and of the copy that saw rank 1's (``rank1``).
    """
    import mindspore as ms

    from mindzoo.weights.checkpoint import load_weights
    from mindzoo.config import load_config
    from mindzoo.data import create_dataset, train_transforms
    from mindzoo.models import create_model
    from mindzoo.train.loss import CrossEntropySmooth
    from mindzoo.train.optim import build_optimizer

    cfg = load_config(list(cfg_args))
    previous_mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        nets = [create_model(cfg.net_name, num_classes=cfg.num_classes) for _ in range(2)]
        for net in nets:
            load_weights(net, init_ckpt)
            net.set_train(True)
        optimizers = [build_optimizer(net, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.nesterov) for net in nets]
        loss_fn = CrossEntropySmooth(cfg.num_classes, cfg.label_smoothing)
        grad_fns = [ms.value_and_grad(lambda x, y, n=net: loss_fn(n(x), y), None, opt.parameters)
                    for net, opt in zip(nets, optimizers)]
        transforms = train_transforms(cfg.train_image_size, nets[0].data_config, random_augment=False)
        world = 2
        dataset = create_dataset(str(data), "train", transforms, cfg.batch_size * world, shuffle=False,
                                 drop_remainder=True, num_classes=cfg.num_classes)
        steps = 0
        for images, labels in dataset.create_tuple_iterator(num_epochs=1):
            # ImageFolderDataset shards round-robin: rank r holds images r, r + 2, r + 4, ... so its batch
            # of 2 at this step is rows r and r + 2 of the concatenated batch of 4.
            grads = [grad_fns[r](images[r::world], labels[r::world])[1] for r in range(world)]
            mean = tuple((g0 + g1) * 0.5 for g0, g1 in zip(*grads))  # all-reduce sum, times 1/world
            for optimizer in optimizers:
                optimizer(mean)
            steps += 1
        assert steps == 2, "the fixture has 8 images: 2 global batches of 4"
        result = {}
        for r, (net, optimizer) in enumerate(zip(nets, optimizers)):
            trainable = {p.name for p in net.trainable_params()}
            arrays = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
            result[f"rank{r}"] = {
                "trainable": {k: v for k, v in arrays.items() if k in trainable},
                "bn_stats": {k: v for k, v in arrays.items() if k not in trainable},
                "moments": {m.name: m.asnumpy().copy() for m in optimizer.moments},
            }
        return result
    finally:
        ms.set_context(mode=previous_mode)


def _assert_close(actual: Dict[str, np.ndarray], expected: Dict[str, np.ndarray], what: str,
                  rel: float = 1e-6) -> None:
    """Per tensor: max |a - e| <= rel * max |e| (elementwise relative error is meaningless near zero)."""
    assert set(actual) == set(expected), f"{what}: names differ"
    worst = max(float(np.max(np.abs(actual[k] - expected[k]))) / max(float(np.max(np.abs(expected[k]))), 1e-30)
                for k in expected)
    print(f"{what}: worst relative difference {worst:.3g}")
    assert worst <= rel, f"{what}: worst relative difference {worst:.3g} > {rel:g}"


def test_two_workers_equal_single_process_on_the_concatenated_batch(tmp_path: Path) -> None:
    """2 msrun workers x batch 2 on CPU == one process on the concatenated batch of 4, with per-rank BatchNorm.

    What is compared, and why. Each rank computes BatchNorm batch statistics over its own 2 images (MindSpore's
    data parallelism does not synchronise BN), so a single process normalising all 4 images together is a
    different computation and does not match. The honest single-process equivalent normalises each rank's half
    of the concatenated batch on its own ("ghost" BN) and takes the mean of the two halves' gradients, which,
    the halves being equal in size, is the gradient of the mean loss over the 4 images. That is what
    ``_reference_run`` does (PYNATIVE, in this process), from the same initial weights (``--pretrained``), with
    the images split the way ``ImageFolderDataset`` shards them (round-robin), 2 steps, SGD momentum + weight
    decay. Then:

    - rank 0's checkpoint: trainable weights and optimizer moments equal the reference to 1e-6 relative, and
      the update itself is far above that tolerance (the comparison is not vacuous);
    - BN moving statistics are per rank: rank 0's equal the reference copy that saw rank 0's halves;
    - rank 1 saves no checkpoint; every rank logs a sha256 of its trainable parameters at the end of training,
      and the two ranks' digests are equal (bit-identical weights), and equal the digest of rank 0's checkpoint.
    """
    import mindspore as ms

    from mindzoo.weights.files import read_checkpoint
    from mindzoo.distributed import parameter_digest
    from mindzoo.models import create_model

    data = make_image_folder(tmp_path / "data", {"train": {"a": 4, "b": 4}}, size=32)
    ms.set_seed(7)
    init_net = create_model("resnet18", num_classes=2)
    init_ckpt = tmp_path / "init.ckpt"
    ms.save_checkpoint(init_net, str(init_ckpt))
    initial = {p.name: p.asnumpy().copy() for p in init_net.trainable_params()}

    output = tmp_path / "dp"
    args = [str(data), "2", "", "CPU", *TRAIN_ARGS, f"--pretrained={init_ckpt}", f"--output_dir={output}"]
    proc = subprocess.run(["bash", str(REPO / "scripts" / "run_distribute_train_msrun.sh"), *args], cwd=tmp_path,
                          env=_script_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "all 2 workers finished" in proc.stdout

    (ckpt_path,) = (output / "checkpoints").glob("resnet18-1_2.ckpt")
    state = {k: v.asnumpy() for k, v in read_checkpoint(ckpt_path).items()}
    reference = _reference_run(data, init_ckpt, TRAIN_ARGS)["rank0"]

    trained = {k: state[k] for k in reference["trainable"]}
    _assert_close(trained, reference["trainable"], "rank 0 trainable parameters vs reference")
    _assert_close({k: state[k] for k in reference["moments"]}, reference["moments"], "optimizer moments")
    _assert_close({k: state[k] for k in reference["bn_stats"]}, reference["bn_stats"], "rank 0 BN moving stats")
    moved = {k: trained[k] - initial[k] for k in initial}
    update = max(float(np.max(np.abs(moved[k]))) / float(np.max(np.abs(trained[k]))) for k in moved)
    assert update > 1e-2, f"training barely moved the weights ({update:.3g}): the comparison would be vacuous"

    digests = _digests(output)
    assert digests[0] == digests[1], "the ranks' trainable parameters differ"
    ckpt_params = read_checkpoint(ckpt_path)
    assert digests[0] == parameter_digest([ckpt_params[k] for k in reference["trainable"]])
    # rank 1 adopted rank 0's BatchNorm statistics at the checkpoint: the whole state is the same on both ranks
    assert _digests(output, ALL_DIGEST_LINE)[0] == _digests(output, ALL_DIGEST_LINE)[1]


def _digests(output: Path, pattern: "re.Pattern[str]" = DIGEST_LINE) -> Dict[int, str]:
    """rank -> the last digest its train_rank<r>.log reports."""
    found = {}
    for rank in (0, 1):
        lines = pattern.findall((output / f"train_rank{rank}.log").read_text())
        assert lines and int(lines[-1][0]) == rank, f"train_rank{rank}.log has no digest line"
        found[rank] = lines[-1][1]
    return found


# ---------------------------------------------------------------- one job: broadcast at start, resume


#: 16 images, 2 ranks x batch 2: 4 steps an epoch, 12 in all; a step checkpoint every 3 global steps lands
#: mid-epoch (resnet18-1_3, -2_2, -3_1). Shuffled, randomly augmented: the replayed order matters.
RESUME_ARGS = [*TRAIN_ARGS, "--epoch_size=3", "--train_shuffle=True", "--random_augment=True",
               "--save_checkpoint_steps=3", "--keep_checkpoint_max=20", "--run_eval=True", "--eval_batch_size=4"]


def _msrun(data: Path, output: Path, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [str(data), "2", "", "CPU", *RESUME_ARGS, f"--output_dir={output}", *extra]
    return subprocess.run(["bash", str(REPO / "scripts" / "run_distribute_train_msrun.sh"), *args], cwd=cwd,
                          env=_script_env(), capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def unbroken_job(tmp_path_factory) -> Dict[str, Path]:
    root = tmp_path_factory.mktemp("job")
    data = make_image_folder(root / "data", {"train": {"a": 8, "b": 8}, "val": {"a": 3, "b": 2}}, size=32)
    proc = _msrun(data, root / "unbroken", root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"root": root, "data": data, "output": root / "unbroken"}


def _assert_same_final_state(resumed: Path, unbroken: Path) -> None:
    """Each rank's parameters and BatchNorm statistics, and rank 0's final checkpoint, equal the unbroken job's."""
    from mindzoo.weights.files import read_checkpoint

    for pattern in (DIGEST_LINE, ALL_DIGEST_LINE):
        expected = _digests(unbroken, pattern)
        assert expected[0] == expected[1]
        assert _digests(resumed, pattern) == expected
    final = {k: v.asnumpy() for k, v in read_checkpoint(unbroken / "checkpoints" / "resnet18-3_4.ckpt").items()}
    again = {k: v.asnumpy() for k, v in read_checkpoint(resumed / "checkpoints" / "resnet18-3_4.ckpt").items()}
    assert set(again) == set(final) and any(k.endswith("moving_variance") for k in final)
    for key, value in final.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


@pytest.mark.slow
def test_two_workers_resume_from_a_mid_epoch_checkpoint_as_one_job(unbroken_job, tmp_path: Path) -> None:
    """msrun, 2 workers: a job restarted with --resume_ckpt=auto from a step checkpoint (epoch 2, step 2 of 4)
    ends, on both ranks, with the unbroken job's parameters and BatchNorm statistics, bit for bit.

    The launcher resolves ``auto`` once (rank 0's newest checkpoint in the shared output_dir) and passes that
    path to every rank; the interrupted epoch's shuffled, augmented order is replayed and its first 2 steps
    skipped.

    Slow (80 s: two 2-worker jobs): its parts are in the default suite. The exact mid-epoch replay is
    test_train_eval's step-checkpoint test, msrun's one ``auto`` for every rank is test_launch's dry run, the ranks'
    training as one job is test_two_workers_equal_single_process..., rank 0's state reaching every rank is
    test_ranks_with_different_seeds_start_from_rank_0s_parameters.
    """
    unbroken = unbroken_job["output"]
    names = {p.name for p in (unbroken / "checkpoints").glob("resnet18-*.ckpt")}
    assert {"resnet18-1_3.ckpt", "resnet18-2_2.ckpt", "resnet18-3_1.ckpt", "resnet18-3_4.ckpt"} <= names
    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copy(unbroken / "checkpoints" / "resnet18-2_2.ckpt", resumed / "checkpoints")
    proc = _msrun(unbroken_job["data"], resumed, tmp_path, "--resume_ckpt=auto")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    chosen = resumed / "checkpoints" / "resnet18-2_2.ckpt"
    assert f"resume: auto -> {chosen} (rank 0's newest checkpoint), for every rank" in proc.stdout
    for rank in (0, 1):
        assert f"resumed from {chosen} at epoch 2 step 2/4, global step 6" in \
            (resumed / f"train_rank{rank}.log").read_text()
    _assert_same_final_state(resumed, unbroken)


BROADCAST_SCRIPT = """
import os, sys
import mindzoo
import mindspore as ms
from mindzoo.config import load_config
from mindzoo.distributed import parameter_digest
from mindzoo.models import create_model
from mindzoo.train.engine import build_run

rank = int(os.environ["RANK_ID"])
run = build_run(load_config([*sys.argv[1:], f"--seed={1 + rank}"]), write_outputs=False)
ms.set_seed(1 + rank)
own = create_model("resnet18", num_classes=2)  # what this rank's seed initialises, never broadcast
print(f"rank {rank} own {parameter_digest(own.get_parameters())} "
      f"started {parameter_digest(run.net.get_parameters())} step {parameter_digest(run.train_step.get_parameters())} "
      f"fusion {ms.get_auto_parallel_context('all_reduce_fusion_config')}", flush=True)
"""


def test_ranks_with_different_seeds_start_from_rank_0s_parameters(tmp_path: Path) -> None:
    """msrun, 2 workers seeded 1 and 2 (different random initial weights): after build_run both hold rank 0's
    parameters, BatchNorm statistics and optimizer state (an explicit ops.Broadcast from rank 0). The config's
    all_reduce_fusion_config reaches the auto-parallel context."""
    from mindzoo.launch import child_env
    from mindzoo.launch.msrun import free_port, msrun_executable

    data = make_image_folder(tmp_path / "data", {"train": {"a": 4, "b": 4}}, size=32)
    script = tmp_path / "broadcast_check.py"
    script.write_text(BROADCAST_SCRIPT)
    cmd = [msrun_executable(), "--worker_num=2", "--local_worker_num=2", f"--master_port={free_port()}",
           f"--log_dir={tmp_path / 'log'}", "--join=True", str(script), f"--data_path={data}", "--run_distribute=True",
           *TRAIN_ARGS, f"--output_dir={tmp_path / 'out'}", "--all_reduce_fusion_config=20,40"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=child_env({}, _script_env()), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    found = {}
    for rank in (0, 1):
        match = re.search(rf"rank {rank} own (\w+) started (\w+) step (\w+) fusion \[20, 40\]",
                          (tmp_path / "log" / f"worker_{rank}.log").read_text())
        assert match, f"worker {rank} printed no digests"
        found[rank] = match.groups()
    assert found[0][0] != found[1][0], "the per-rank seeds did not give different initial weights"
    assert found[0][1] == found[1][1] == found[0][0], "the ranks did not start from rank 0's parameters"
    assert found[0][2] == found[1][2]


@pytest.mark.slow
def test_killed_two_worker_job_resumes_as_one_job(unbroken_job, tmp_path: Path) -> None:
    """SIGKILL rank 1 after rank 0's first checkpoint; relaunch with --resume_ckpt=auto: same final state."""
    output = tmp_path / "broken"
    log = tmp_path / "launcher.log"
    args = [str(unbroken_job["data"]), "2", "", "CPU", *RESUME_ARGS, f"--output_dir={output}"]
    launcher = _launch("run_distribute_train_msrun.sh", args, tmp_path, log)
    marker = f"--output_dir={output}"
    try:
        deadline = time.monotonic() + 300
        while not list((output / "checkpoints").glob("resnet18-1_*.ckpt")) and time.monotonic() < deadline:
            assert launcher.poll() is None, log.read_text()[-3000:]
            time.sleep(0.05)
        (worker,) = _msrun_worker(marker, 1)
        os.kill(worker, signal.SIGKILL)
        assert launcher.wait(timeout=120) == 1
    finally:
        _stop(launcher, marker)
    assert not (output / "checkpoints" / "resnet18-3_4.ckpt").exists(), "the kill came too late to test resume"
    proc = _msrun(unbroken_job["data"], output, tmp_path, "--resume_ckpt=auto")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "resume: auto -> " in proc.stdout
    _assert_same_final_state(output, unbroken_job["output"])


# ---------------------------------------------------------------- a rank dies


def _parent(pid: int) -> int:
    fields = process_stat(pid)
    return int(fields[1]) if fields else 0


def _msrun_worker(marker: str, rank: int) -> List[int]:
    """msrun's rank-``rank`` worker; not a child it forks (it has the worker's command line and environment
    until it execs, as the CI run that saw two such pids showed)."""
    workers = [pid for pid in _processes_with(marker)
               if _environ(pid).get("MS_ROLE") == "MS_WORKER" and _environ(pid).get("RANK_ID") == str(rank)]
    return [pid for pid in workers if _parent(pid) not in workers]


def _kill_msrun_rank1_and_check(tmp_path: Path, in_training: bool) -> None:
    """SIGKILL rank 1; the launcher must exit non-zero within 60 s naming rank 1, leaving no process behind."""
    data = make_image_folder(tmp_path / "data", {"train": {"a": 4, "b": 4}}, size=32)
    output = tmp_path / "dp"
    log = tmp_path / "launcher.log"
    args = [str(data), "2", "", "CPU", *TRAIN_ARGS, "--epoch_size=1000", f"--output_dir={output}"]
    launcher = _launch("run_distribute_train_msrun.sh", args, tmp_path, log)
    marker = f"--output_dir={output}"
    try:
        if in_training:  # both ranks inside the training loop, i.e. inside collectives
            for rank in (0, 1):
                _wait_for_text(output / f"train_rank{rank}.log", "epoch: 1 step: 1/", launcher, timeout=300)
        else:  # rank 1 still importing MindSpore: it never joins the cluster
            deadline = time.monotonic() + 120
            while not _msrun_worker(marker, 1) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # let the launcher see the worker once (it maps pids to ranks)
        workers = _msrun_worker(marker, 1)
        assert len(workers) == 1, f"expected one rank-1 worker, found {workers}"
        os.kill(workers[0], signal.SIGKILL)
        killed_at = time.monotonic()
        code = launcher.wait(timeout=120)
        elapsed = time.monotonic() - killed_at
        text = log.read_text(errors="replace")
        assert code == 1, text[-3000:]
        assert elapsed < 60, f"the launcher took {elapsed:.0f} s to give up"
        assert "rank 1 failed with exit code -9 (killed by SIGKILL); last lines of " in text, text[-3000:]
        assert "msrun_log/worker_1.log:" in text
        time.sleep(1)
        assert _processes_with(marker) == [], "workers or scheduler outlived the launcher"
    finally:
        _stop(launcher, marker)


def test_msrun_worker_dying_before_the_cluster_forms(tmp_path: Path) -> None:
    """Plain ``msrun --join=True`` hangs here for ``cluster_time_out`` (600 s): it kills the other worker and
    then waits for its scheduler, which waits for the dead worker to register. The supervisor stops it."""
    _kill_msrun_rank1_and_check(tmp_path, in_training=False)


@pytest.mark.slow
def test_msrun_worker_killed_mid_training(tmp_path: Path) -> None:
    """Plain ``msrun --join=True`` takes ~35 s more here (its scheduler waits out the dead worker's heartbeat)."""
    _kill_msrun_rank1_and_check(tmp_path, in_training=True)


def _two_device_table(path: Path) -> Path:
    path.write_text('{"version": "1.0", "server_count": "1", "status": "completed", "server_list": [\n'
                    ' {"server_id": "10.0.0.1", "device": [\n'
                    '  {"device_id": "0", "device_ip": "192.168.100.101", "rank_id": "0"},\n'
                    '  {"device_id": "1", "device_ip": "192.168.100.102", "rank_id": "1"}]}]}\n')
    return path


def test_ranktable_launcher_reports_the_failed_rank(tmp_path: Path) -> None:
    """On CPU there is no HCCL: every rank's ``init()`` fails; the launcher names a rank, shows why, exits 1."""
    data = make_image_folder(tmp_path / "data", {"train": {"a": 4, "b": 4}}, size=32)
    table = _two_device_table(tmp_path / "table.json")
    proc = subprocess.run(["bash", str(REPO / "scripts" / "run_distribute_train.sh"), str(table), str(data),
                           *TRAIN_ARGS, "--device_target=CPU"], cwd=tmp_path, env=_script_env(SERVER_ID="10.0.0.1"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    match = re.search(r"rank (\d) failed with exit code 1; last lines of train_parallel(\d)/log.txt:", proc.stderr)
    assert match and match.group(1) == match.group(2), proc.stderr
    assert "error: run_distribute=True but the collective backend did not start" in proc.stderr
    for rank in (0, 1):
        env_log = (tmp_path / f"train_parallel{rank}" / "env.log").read_text()
        assert f"RANK_ID={rank}\n" in env_log and f"DEVICE_ID={rank}\n" in env_log and "RANK_SIZE=2\n" in env_log
        assert f"RANK_TABLE_FILE={table}\n" in env_log
    assert _processes_with(str(tmp_path / "train_parallel")) == []


def test_ranktable_launcher_stops_the_job_when_a_rank_is_killed(tmp_path: Path) -> None:
    """SIGKILL rank 1: the launcher stops rank 0 and exits 1 naming rank 1, with the tail of its log.

    An HCCL rank table needs Ascend devices to form a group, so here the ranks run train.py with
    ``--device_target=CPU --run_distribute=False`` passed through: two independent real training processes,
    which is all the supervision logic needs.
    """
    data = make_image_folder(tmp_path / "data", {"train": {"a": 4, "b": 4}}, size=32)
    table = _two_device_table(tmp_path / "table.json")
    log = tmp_path / "launcher.log"
    launcher = _launch("run_distribute_train.sh", [str(table), str(data), *TRAIN_ARGS, "--epoch_size=1000",
                                                   "--device_target=CPU", "--run_distribute=False"],
                       tmp_path, log, SERVER_ID="10.0.0.1")
    marker = str(tmp_path / "train_parallel")
    try:
        for rank in (0, 1):
            _wait_for_text(tmp_path / f"train_parallel{rank}" / "log.txt", "epoch: 1 step: 1/", launcher, timeout=300)
        pids = dict(re.findall(r"rank (\d): device \d, pid (\d+)", log.read_text()))
        os.kill(int(pids["1"]), signal.SIGKILL)
        killed_at = time.monotonic()
        code = launcher.wait(timeout=60)
        assert time.monotonic() - killed_at < 60
        text = log.read_text(errors="replace")
        assert code == 1
        assert ("rank 1 failed with exit code -9 (killed by SIGKILL); last lines of train_parallel1/log.txt:\n"
                in text), text[-3000:]
        assert "stopping the other ranks (0)" in text
        assert _processes_with(marker) == [], "rank 0 outlived the launcher"
    finally:
        _stop(launcher, marker)

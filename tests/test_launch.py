"""Launch-script logic without accelerators: rank tables, DRY_RUN plans, argument handling, supervision.

The rank-table launcher is the Ascend path; with ``DRY_RUN=1`` it prints each rank's environment and
command instead of starting anything, which is what these tests read. A few cases go through the real
shell scripts (exit codes, stderr); the many table defects are checked in-process (the same ``main``).
"""
from __future__ import annotations

import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from helpers import alive
from mindzoo.launch import cli
from mindzoo.launch.ranktable import format_cores, load_rank_table, local_addresses, split_cores
from mindzoo.launch.supervisor import start_rank, supervise

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
TABLE_8 = DATA / "rank_table_8pcs.json"
TABLE_16 = DATA / "rank_table_16pcs_2servers.json"
DRY_LINE = re.compile(r"^\[dry-run\] rank (\d+): (DEVICE_ID=.*) cwd=(\S+)$")
CMD_LINE = re.compile(r"^\[dry-run\] rank (\d+): (?!DEVICE_ID=)(.*)$")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """The launchers only check the layout's top (``DATA/train``); no images needed."""
    (tmp_path / "data" / "train" / "a").mkdir(parents=True)
    return tmp_path / "data"


def run_script(name: str, args: List[str], cwd: Path, env: Dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("SERVER_ID", "DRY_RUN", "MASTER_PORT")}
    full_env.update(env)
    return subprocess.run(["bash", str(REPO / "scripts" / name), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


def parse_dry_run(stdout: str) -> Dict[int, Tuple[Dict[str, str], str, List[str]]]:
    """rank -> (environment, cwd, command) from the ``[dry-run]`` lines."""
    plans: Dict[int, Tuple[Dict[str, str], str, List[str]]] = {}
    envs: Dict[int, Tuple[Dict[str, str], str]] = {}
    for line in stdout.splitlines():
        match = DRY_LINE.match(line)
        if match:
            envs[int(match.group(1))] = (dict(kv.split("=", 1) for kv in match.group(2).split()), match.group(3))
            continue
        match = CMD_LINE.match(line)
        if match:
            rank = int(match.group(1))
            plans[rank] = (*envs[rank], shlex.split(match.group(2)))
    return plans


def run_main(argv: List[str], env: Dict[str, str], capsys) -> Tuple[int, str, str]:
    out = io.StringIO()
    code = cli.main(argv, env=env, out=out)
    captured = capsys.readouterr()
    return code, out.getvalue() + captured.out, captured.err


# ---------------------------------------------------------------- rank table: DRY_RUN plans


def test_dry_run_8pcs_single_server(tmp_path: Path, dataset: Path) -> None:
    config = REPO / "configs" / "resnet50.yaml"
    resume = tmp_path / "resume.ckpt"
    resume.write_bytes(b"x")
    proc = run_script("run_distribute_train.sh",
                      [str(TABLE_8), str(dataset), str(config), str(resume), "--batch_size=2", "--epoch_size", "6"],
                      cwd=tmp_path, env={"SERVER_ID": "10.155.111.140", "DRY_RUN": "1"})
    assert proc.returncode == 0, proc.stderr
    plans = parse_dry_run(proc.stdout)
    assert sorted(plans) == list(range(8))
    for rank, (env, cwd, cmd) in plans.items():
        assert env == {"DEVICE_ID": str(rank), "RANK_ID": str(rank), "RANK_SIZE": "8",
                       "RANK_TABLE_FILE": str(TABLE_8)}
        assert cwd == str(tmp_path / f"train_parallel{rank}")
        script = cmd.index(str(REPO / "train.py"))
        assert cmd[script + 1:] == [
            "--run_distribute=True", "--device_target=Ascend", f"--data_path={dataset}",
            f"--config_path={config}", f"--resume_ckpt={resume}", f"--output_dir={cwd}/output",
            "--batch_size=2", "--epoch_size", "6",  # pass-through options last, verbatim: they win
        ]
    assert not list(tmp_path.glob("train_parallel*")), "DRY_RUN must not create anything"


@pytest.mark.parametrize("server_id, first_rank", [("10.155.111.140", 0), ("10.155.111.141", 8)])
def test_dry_run_16pcs_two_servers(tmp_path: Path, dataset: Path, server_id: str, first_rank: int) -> None:
    proc = run_script("run_distribute_train.sh", [str(TABLE_16), str(dataset)], cwd=tmp_path,
                      env={"SERVER_ID": server_id, "DRY_RUN": "1"})
    assert proc.returncode == 0, proc.stderr
    plans = parse_dry_run(proc.stdout)
    assert sorted(plans) == list(range(first_rank, first_rank + 8))
    for rank, (env, cwd, cmd) in plans.items():
        assert env["DEVICE_ID"] == str(rank - first_rank)
        assert env["RANK_ID"] == str(rank)
        assert env["RANK_SIZE"] == "16"
        assert cwd.endswith(f"train_parallel{rank}")
        assert f"--output_dir={cwd}/output" in cmd
    assert f"server {server_id} runs ranks {', '.join(map(str, range(first_rank, first_rank + 8)))}" in proc.stdout


def test_this_server_found_by_address(tmp_path: Path, dataset: Path, capsys, monkeypatch) -> None:
    """Without SERVER_ID the launcher picks the server whose server_id is one of this host's addresses."""
    host_ip = sorted(a for a in local_addresses() if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", a))[-1]
    table = json.loads(TABLE_16.read_text())
    table["server_list"][1]["server_id"] = host_ip
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["ranktable", str(path), str(dataset)], {"DRY_RUN": "1"}, capsys)
    assert code == 0, err
    assert sorted(parse_dry_run(out)) == list(range(8, 16))


def test_core_binding_split() -> None:
    assert split_cores(range(192), 8) == [tuple(range(i * 24, (i + 1) * 24)) for i in range(8)]
    assert split_cores([0, 1], 8) == [()] * 8  # fewer cores than ranks: no binding
    assert split_cores([4, 5, 6, 7, 0, 1, 2, 3, 8], 2) == [(0, 1, 2, 3), (4, 5, 6, 7)]
    assert format_cores([0, 1, 2, 3, 8, 9, 11]) == "0-3,8-9,11"


def test_dry_run_binds_cores_with_taskset(tmp_path: Path, dataset: Path, capsys, monkeypatch) -> None:
    """A 2-device table on a 2-core machine: rank r runs under ``taskset -c r``."""
    table = json.loads(TABLE_8.read_text())
    table["server_list"][0]["device"] = table["server_list"][0]["device"][:2]
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table))
    monkeypatch.chdir(tmp_path)
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 or not any((Path(d) / "taskset").exists() for d in os.environ["PATH"].split(os.pathsep)):
        pytest.skip("needs taskset and 2 cores")
    code, out, err = run_main(["ranktable", str(path), str(dataset)], {"DRY_RUN": "1", "SERVER_ID": "10.155.111.140"},
                              capsys)
    assert code == 0, err
    shares = split_cores(cores, 2)
    for rank, (_, _, cmd) in parse_dry_run(out).items():
        assert cmd[0].endswith("taskset") and cmd[1:3] == ["-c", format_cores(shares[rank])]
    code, out, _ = run_main(["ranktable", str(path), str(dataset)],
                            {"DRY_RUN": "1", "SERVER_ID": "10.155.111.140", "BIND_CORES": "0"}, capsys)
    assert all(not cmd[0].endswith("taskset") for _, _, cmd in parse_dry_run(out).values())


def _resume_values(cmd: List[str]) -> List[str]:
    return [arg.split("=", 1)[1] for arg in cmd if arg.startswith("--resume_ckpt=")]


def _checkpoints(directory: Path, names: List[str]) -> Path:
    directory.mkdir(parents=True)
    for name in names:
        (directory / name).write_bytes(b"not read by DRY_RUN")
    return directory


@pytest.mark.parametrize("how", ["positional", "pass-through"])
def test_dry_run_resolves_auto_resume_once_for_every_rank(tmp_path: Path, dataset: Path, how: str) -> None:
    """RESUME_CKPT=auto: only rank 0 saves, in train_parallel0/output/checkpoints; every rank gets that newest file."""
    rank0 = _checkpoints(tmp_path / "train_parallel0" / "output" / "checkpoints",
                         ["resnet50-1_100.ckpt", "resnet50-2_40.ckpt", "resnet50-2_100.ckpt", "best_acc.ckpt",
                          "resnet18-9_100.ckpt"])
    _checkpoints(tmp_path / "train_parallel3" / "output" / "checkpoints", ["resnet50-7_100.ckpt"])  # never read
    config = REPO / "configs" / "resnet50.yaml"
    args = [str(TABLE_8), str(dataset), str(config)] + (["auto"] if how == "positional" else ["", "--resume_ckpt=auto"])
    proc = run_script("run_distribute_train.sh", args, cwd=tmp_path, env={"SERVER_ID": "10.155.111.140", "DRY_RUN": "1"})
    assert proc.returncode == 0, proc.stderr
    newest = rank0 / "resnet50-2_100.ckpt"
    assert f"resume: auto -> {newest} (rank 0's newest checkpoint), for every rank" in proc.stdout
    plans = parse_dry_run(proc.stdout)
    assert sorted(plans) == list(range(8))
    for rank, (_, _, cmd) in plans.items():
        assert _resume_values(cmd)[-1] == str(newest), f"rank {rank}"  # the last one wins


def test_dry_run_auto_resume_without_checkpoints_starts_every_rank_fresh(tmp_path: Path, dataset: Path) -> None:
    proc = run_script("run_distribute_train.sh", [str(TABLE_8), str(dataset), "", "auto"], cwd=tmp_path,
                      env={"SERVER_ID": "10.155.111.140", "DRY_RUN": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "no checkpoint in" in proc.stdout and "every rank starts fresh" in proc.stdout
    assert {tuple(_resume_values(cmd))[-1] for _, _, cmd in parse_dry_run(proc.stdout).values()} == {""}
    assert not list(tmp_path.glob("train_parallel*"))


def test_dry_run_auto_resume_on_a_server_without_rank_0_defers_to_rank_0(tmp_path: Path, dataset: Path) -> None:
    """Server 2 of 2 cannot see rank 0's directory: ``auto`` stays and train.py takes rank 0's choice."""
    proc = run_script("run_distribute_train.sh", [str(TABLE_16), str(dataset), "", "auto"], cwd=tmp_path,
                      env={"SERVER_ID": "10.155.111.141", "DRY_RUN": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "decided by rank 0 at start-up" in proc.stdout
    assert {_resume_values(cmd)[-1] for _, _, cmd in parse_dry_run(proc.stdout).values()} == {"auto"}


# ---------------------------------------------------------------- rank table: errors


def _table(**changes) -> dict:
    table = json.loads(TABLE_16.read_text())
    for key, value in changes.items():
        table[key] = value
    return table


def _device(server: int, index: int, table: dict) -> dict:
    return table["server_list"][server]["device"][index]


def _mutations():
    """(id, edit of a valid 16-device table, fragment of the expected message)."""
    def drop(key):
        return lambda t: t.pop(key)

    def dev(server, index, key, value=None):
        def edit(t):
            if value is None:
                _device(server, index, t).pop(key)
            else:
                _device(server, index, t)[key] = value
        return edit

    return [
        ("no-version", drop("version"), "missing 'version'"),
        ("no-server_count", drop("server_count"), "missing 'server_count'"),
        ("no-server_list", drop("server_list"), "missing 'server_list'"),
        ("no-status", drop("status"), "missing 'status'"),
        ("status-initializing", lambda t: t.update(status="initializing"), 'status is "initializing"'),
        ("server_count-mismatch", lambda t: t.update(server_count="3"),
         "server_count is 3 but server_list has 2 server(s)"),
        ("server_count-not-int", lambda t: t.update(server_count="two"), "server_count must be a non-negative integer"),
        ("empty-server_list", lambda t: t.update(server_list=[], server_count="0"), "server_list must be a non-empty list"),
        ("no-server_id", lambda t: t["server_list"][1].pop("server_id"), "server_list[1] has no 'server_id'"),
        ("duplicate-server_id", lambda t: t["server_list"][1].update(server_id="10.155.111.140"),
         "server_id 10.155.111.140 appears twice"),
        ("no-device-list", lambda t: t["server_list"][0].pop("device"), "server_list[0] has no 'device'"),
        ("empty-device-list", lambda t: t["server_list"][0].update(device=[]), "server_list[0].device must be a non-empty list"),
        ("no-device_id", dev(0, 3, "device_id"), "server_list[0].device[3] has no 'device_id'"),
        ("no-device_ip", dev(1, 2, "device_ip"), "server_list[1].device[2] has no 'device_ip'"),
        ("no-rank_id", dev(1, 7, "rank_id"), "server_list[1].device[7] has no 'rank_id'"),
        ("bad-device_ip", dev(0, 0, "device_ip", "192.1.27"), "server_list[0].device[0].device_ip \"192.1.27\" is not an IP"),
        ("rank_id-not-int", dev(0, 1, "rank_id", "one"), "server_list[0].device[1].rank_id must be a non-negative integer"),
        ("duplicate-device_id", dev(0, 1, "device_id", "0"), "device_id 0 appears twice on server 10.155.111.140"),
        ("duplicate-rank_id", dev(1, 0, "rank_id", "3"),
         "rank_id 3 appears twice (server_list[0].device[3] and server_list[1].device[0])"),
        ("rank_ids-not-0..N-1", dev(1, 7, "rank_id", "16"), "rank_ids must be 0..15 for 16 devices: missing [15], unexpected [16]"),
    ]


@pytest.mark.parametrize("edit, message", [m[1:] for m in _mutations()], ids=[m[0] for m in _mutations()])
def test_malformed_table_is_one_line_exit_2(tmp_path: Path, dataset: Path, capsys, monkeypatch, edit,
                                            message: str) -> None:
    table = _table()
    edit(table)
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["ranktable", str(path), str(dataset)], {"SERVER_ID": "10.155.111.140"}, capsys)
    assert code == 2
    assert err.splitlines() == [err.strip()] and err.startswith(f"error: rank table {path}: "), err
    assert message in err
    assert "[dry-run]" not in out and not list(tmp_path.glob("train_parallel*"))


@pytest.mark.parametrize("text, message", [
    ("{\"version\": \"1.0\",", "not valid JSON (Expecting property name enclosed in double quotes at line 1"),
    ("[1, 2]", "the top level must be a JSON object, got list"),
])
def test_unparsable_table(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "table.json"
    path.write_text(text)
    with pytest.raises(Exception) as info:
        load_rank_table(str(path))
    assert message in str(info.value) and getattr(info.value, "exit_code", None) == 2


def test_bad_json_through_the_script(tmp_path: Path, dataset: Path) -> None:
    path = tmp_path / "table.json"
    path.write_text("{not json")
    proc = run_script("run_distribute_train.sh", [str(path), str(dataset)], cwd=tmp_path, env={"DRY_RUN": "1"})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: rank table {path}: not valid JSON "
                                                f"(Expecting property name enclosed in double quotes at line 1 column 2)"]
    assert "[dry-run]" not in proc.stdout


def test_table_without_this_server(tmp_path: Path, dataset: Path) -> None:
    """Neither server_id is an address of this host (documentation addresses), and no SERVER_ID."""
    table = _table()
    table["server_list"][0]["server_id"], table["server_list"][1]["server_id"] = "198.51.100.7", "198.51.100.8"
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table))
    proc = run_script("run_distribute_train.sh", [str(path), str(dataset)], cwd=tmp_path, env={})
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: rank table {path} does not list this server "
                           "(server_ids: 198.51.100.7, 198.51.100.8; this host: ")
    assert line.endswith("set SERVER_ID=<server_id>")
    assert not list(tmp_path.glob("train_parallel*"))


def test_server_id_not_in_table(tmp_path: Path, dataset: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(["ranktable", str(TABLE_16), str(dataset)], {"SERVER_ID": "10.0.0.9"}, capsys)
    assert code == 2
    assert err.strip() == (f"error: SERVER_ID=10.0.0.9 is not in rank table {TABLE_16} "
                           "(server_ids: 10.155.111.140, 10.155.111.141)")


@pytest.mark.parametrize("args, message", [
    (["{table}", "{tmp}/missing"], "error: DATA_PATH {tmp}/missing is not a directory"),
    (["{table}", "{tmp}"], "error: DATA_PATH {tmp} has no train/ directory"),
    (["{table}"], "error: missing DATA_PATH; usage: scripts/run_distribute_train.sh RANK_TABLE_FILE DATA_PATH"),
    (["{tmp}/none.json", "{data}"], "error: rank table {tmp}/none.json does not exist"),
    (["{table}", "{data}", "{tmp}/none.yaml"], "error: CONFIG_PATH {tmp}/none.yaml does not exist"),
    (["{table}", "{data}", "", "{tmp}/none.ckpt"], "error: RESUME_CKPT {tmp}/none.ckpt does not exist"),
    (["{table}", "{data}", "", "", "extra"], "error: unexpected argument 'extra'"),
    (["{table}", "{data}", "--epochs=3"], "error: unknown config key 'epochs' in the command line"),
])
def test_ranktable_usage_errors(tmp_path: Path, dataset: Path, capsys, monkeypatch, args: List[str],
                                message: str) -> None:
    monkeypatch.chdir(tmp_path)
    fill = dict(table=TABLE_8, tmp=tmp_path, data=dataset)
    code, out, err = run_main(["ranktable", *(a.format(**fill) for a in args)],
                              {"SERVER_ID": "10.155.111.140", "DRY_RUN": "1"}, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith(message.format(**fill)), err
    assert "[dry-run]" not in out


# ---------------------------------------------------------------- msrun / standalone / eval argument handling


def test_msrun_dry_run_command(tmp_path: Path, dataset: Path) -> None:
    config = REPO / "configs" / "demo_resnet18.yaml"
    proc = run_script("run_distribute_train_msrun.sh",
                      [str(dataset), "2", str(config), "cpu", "--batch_size=2", "--output_dir", str(tmp_path / "o")],
                      cwd=tmp_path, env={"DRY_RUN": "1", "MASTER_PORT": "29555"})
    assert proc.returncode == 0, proc.stderr
    (line,) = [l for l in proc.stdout.splitlines() if l.startswith("[dry-run] ")]
    cmd = shlex.split(line[len("[dry-run] "):])
    assert Path(cmd[0]).name == "msrun"
    assert cmd[1:10] == ["--worker_num=2", "--local_worker_num=2", "--master_addr=127.0.0.1", "--master_port=29555",
                         "--node_rank=0", f"--log_dir={tmp_path / 'o' / 'msrun_log'}", "--join=True",
                         "--tail_worker_log=0", str(REPO / "train.py")]
    assert cmd[10:] == ["--run_distribute=True", f"--data_path={dataset}", f"--config_path={config}",
                        "--device_target=CPU", "--batch_size=2", "--output_dir", str(tmp_path / "o")]


def test_msrun_dry_run_resolves_auto_resume_in_the_shared_output_dir(tmp_path: Path, dataset: Path) -> None:
    output = tmp_path / "o"
    _checkpoints(output / "checkpoints", ["resnet18-3_7.ckpt", "resnet18-3_12.ckpt", "resnet18-2_12.ckpt"])
    proc = run_script("run_distribute_train_msrun.sh",
                      [str(dataset), "2", str(REPO / "configs" / "demo_resnet18.yaml"), "cpu",
                       f"--output_dir={output}", "--resume_ckpt=auto"], cwd=tmp_path, env={"DRY_RUN": "1"})
    assert proc.returncode == 0, proc.stderr
    (line,) = [l for l in proc.stdout.splitlines() if l.startswith("[dry-run] ")]
    cmd = shlex.split(line[len("[dry-run] "):])
    assert cmd[-2:] == ["--resume_ckpt=auto", f"--resume_ckpt={output / 'checkpoints' / 'resnet18-3_12.ckpt'}"]


def test_msrun_free_port_and_gpu_alias(tmp_path: Path, dataset: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["msrun-gpu", str(dataset), "4"], {"DRY_RUN": "1"}, capsys)
    assert code == 0, err
    port = int(re.search(r"--master_port=(\d+)", out).group(1))
    assert 1024 <= port <= 65535
    assert "--worker_num=4" in out and out.rstrip().endswith(f"--run_distribute=True --data_path={dataset} "
                                                             "--device_target=GPU")
    assert f"--log_dir={tmp_path / 'output' / 'msrun_log'}" in out  # the config's output_dir, made absolute


@pytest.mark.parametrize("args, env, message", [
    (["{data}", "zero"], {}, "error: WORKER_NUM must be a positive integer, got 'zero'"),
    (["{data}", "2", "", "tpu"], {}, "error: DEVICE_TARGET must be CPU, GPU or Ascend, got 'tpu'"),
    (["{data}", "4"], {"LOCAL_WORKER_NUM": "3"}, "error: LOCAL_WORKER_NUM=3 must divide WORKER_NUM=4"),
    (["{data}", "4"], {"LOCAL_WORKER_NUM": "2", "NODE_RANK": "1"}, "error: MASTER_PORT must be set"),
    (["{data}", "4"], {"LOCAL_WORKER_NUM": "2", "NODE_RANK": "2", "MASTER_PORT": "29000"},
     "error: NODE_RANK must be 0..1 for 2 node(s), got '2'"),
    (["{data}", "2"], {"MASTER_PORT": "80"}, "error: MASTER_PORT must be 1024..65535, got 80"),
    (["{tmp}/missing"], {}, "error: DATA_PATH {tmp}/missing is not a directory"),
    (["{data}", "2", "--batch_size=big"], {}, "error: "),
])
def test_msrun_usage_errors(tmp_path: Path, dataset: Path, capsys, monkeypatch, args, env, message) -> None:
    monkeypatch.chdir(tmp_path)
    fill = dict(tmp=tmp_path, data=dataset)
    code, out, err = run_main(["msrun", *(a.format(**fill) for a in args)], {"DRY_RUN": "1", **env}, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith(message.format(**fill)), err
    assert "[dry-run]" not in out


def test_msrun_multi_node_ranks(tmp_path: Path, dataset: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["msrun", str(dataset), "16"], {"DRY_RUN": "1", "LOCAL_WORKER_NUM": "8", "NODE_RANK": "1",
                                                              "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29000"}, capsys)
    assert code == 0, err
    for option in ("--worker_num=16", "--local_worker_num=8", "--master_addr=10.0.0.1", "--master_port=29000",
                   "--node_rank=1", "--tail_worker_log=8"):
        assert option in out.split()


def test_standalone_and_eval_commands(tmp_path: Path, dataset: Path) -> None:
    config = REPO / "configs" / "demo_resnet18.yaml"
    proc = run_script("run_standalone_train.sh", [str(dataset), str(config), "gpu", "--epoch_size=1"], cwd=tmp_path,
                      env={"DRY_RUN": "1"})
    assert proc.returncode == 0, proc.stderr
    cmd = shlex.split(proc.stdout.strip()[len("[dry-run] "):])
    assert cmd[1:] == [str(REPO / "train.py"), f"--data_path={dataset}", f"--config_path={config}",
                       "--device_target=GPU", "--epoch_size=1"]
    ckpt = tmp_path / "m.ckpt"
    ckpt.write_bytes(b"x")
    out = io.StringIO()
    assert cli.main(["eval", str(dataset), str(ckpt), "", "--eval_batch_size=8"], env={"DRY_RUN": "1"}, out=out) == 0
    cmd = shlex.split(out.getvalue().strip()[len("[dry-run] "):])
    assert cmd[1:] == [str(REPO / "eval.py"), f"--data_path={dataset}", f"--pretrained={ckpt}", "--eval_batch_size=8"]


def test_eval_missing_checkpoint(tmp_path: Path, dataset: Path) -> None:
    proc = run_script("run_eval.sh", [str(dataset), str(tmp_path / "none.ckpt")], cwd=tmp_path, env={})
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: CKPT {tmp_path / 'none.ckpt'} does not exist"


# ---------------------------------------------------------------- the ResNeXt152 README's forms (DEVICE_ID first)


def _dry_command(proc: subprocess.CompletedProcess) -> List[str]:
    assert proc.returncode == 0, proc.stderr
    (line,) = [l for l in proc.stdout.splitlines() if l.startswith("[dry-run] ")]
    return shlex.split(line[len("[dry-run] "):])


def test_standalone_device_id_form(tmp_path: Path, dataset: Path) -> None:
    """`run_standalone_train.sh DEVICE_ID DATA_PATH [PRETRAINED_CKPT_PATH]`: DATA_PATH may be the train/ folder."""
    cmd = _dry_command(run_script("run_standalone_train.sh", ["3", f"{dataset / 'train'}/"], tmp_path, {"DRY_RUN": "1"}))
    assert cmd[0] == "DEVICE_ID=3"
    assert cmd[2:] == [str(REPO / "train.py"), f"--data_path={dataset}", "--device_target=Ascend", "--run_eval=False"]
    ckpt = tmp_path / "pre.ckpt"
    ckpt.write_bytes(b"x")
    cmd = _dry_command(run_script("run_standalone_train.sh", ["0", str(dataset), str(ckpt), "--platform", "CPU",
                                                              "--run_eval=True"], tmp_path, {"DRY_RUN": "1"}))
    # the pass-through options win: --platform drops the launcher's --device_target, --run_eval its --run_eval
    assert cmd[0] == "DEVICE_ID=0" and cmd[3:] == [f"--data_path={dataset}", f"--pretrained={ckpt}", "--platform",
                                                   "CPU", "--run_eval=True"]


def test_eval_device_id_form(tmp_path: Path, dataset: Path) -> None:
    """`run_eval.sh DEVICE_ID DATA_PATH PRETRAINED_CKPT_PATH [PLATFORM]`, PLATFORM Ascend by default."""
    ckpt = tmp_path / "m.ckpt"
    ckpt.write_bytes(b"x")
    cmd = _dry_command(run_script("run_eval.sh", ["1", str(dataset), str(ckpt)], tmp_path, {"DRY_RUN": "1"}))
    assert cmd[0] == "DEVICE_ID=1"
    assert cmd[2:] == [str(REPO / "eval.py"), f"--data_path={dataset}", f"--pretrained={ckpt}", "--device_target=Ascend"]
    cmd = _dry_command(run_script("run_eval.sh", ["7", str(dataset), str(ckpt), "gpu", "--per_batch_size=8"], tmp_path,
                                  {"DRY_RUN": "1"}))
    assert cmd[0] == "DEVICE_ID=7" and cmd[-2:] == ["--device_target=GPU", "--per_batch_size=8"]


def test_scripts_work_from_any_directory(tmp_path: Path, dataset: Path) -> None:
    """`cd scripts && bash run_standalone_train.sh ../data`: relative paths are the caller's."""
    here = tmp_path / "scripts"
    here.mkdir()
    (tmp_path / "m.ckpt").write_bytes(b"x")
    cases = [
        ("run_standalone_train.sh", ["../data"], [f"--data_path={dataset}"]),
        ("run_standalone_train.sh", ["0", "../data/train"], [f"--data_path={dataset}"]),
        ("run_eval.sh", ["../data", "../m.ckpt"], [f"--data_path={dataset}", f"--pretrained={tmp_path / 'm.ckpt'}"]),
        ("run_eval.sh", ["0", "../data", "../m.ckpt", "CPU"], [f"--data_path={dataset}",
                                                              f"--pretrained={tmp_path / 'm.ckpt'}"]),
    ]
    for script, args, expected in cases:
        cmd = _dry_command(run_script(script, args, here, {"DRY_RUN": "1"}))
        assert all(option in cmd for option in expected), (script, args, cmd)
    # the train/ folder itself, as the model zoo READMEs pass DATA_PATH, is taken for its dataset root
    proc = run_script("run_distribute_train_msrun.sh", ["../data/train", "2"], here,
                      {"DRY_RUN": "1", "MASTER_PORT": "29555"})
    assert proc.returncode == 0, proc.stderr
    assert f"--data_path={dataset}" in proc.stdout and f"--log_dir={here / 'output' / 'msrun_log'}" in proc.stdout


def test_ranktable_takes_the_train_folder(tmp_path: Path, dataset: Path) -> None:
    """The ResNeXt152 README's `run_distribute_train.sh RANK_TABLE_FILE DATA_PATH`, DATA_PATH its train/ folder."""
    proc = run_script("run_distribute_train.sh", [str(TABLE_8), str(dataset / "train")], cwd=tmp_path,
                      env={"SERVER_ID": "10.155.111.140", "DRY_RUN": "1"})
    assert proc.returncode == 0, proc.stderr
    assert all(f"--data_path={dataset}" in cmd for _, _, cmd in parse_dry_run(proc.stdout).values())


@pytest.mark.parametrize("script, args, message", [
    ("run_standalone_train.sh", ["0"], "error: '0' is both a DEVICE_ID and a directory here: write ./0 for the "
                                       "directory; usage: scripts/run_standalone_train.sh DEVICE_ID DATA_PATH"),
    ("run_standalone_train.sh", ["1"], "error: missing DATA_PATH; usage: scripts/run_standalone_train.sh DEVICE_ID "
                                       "DATA_PATH [PRETRAINED_CKPT_PATH]"),
    ("run_standalone_train.sh", ["1", "{tmp}/flat"], "error: DATA_PATH {tmp}/flat has no train/ directory"),
    ("run_standalone_train.sh", ["1", "{data}", "{tmp}/no.ckpt"], "error: PRETRAINED_CKPT_PATH {tmp}/no.ckpt does not "
                                                                  "exist"),
    ("run_eval.sh", ["2", "{data}"], "error: missing PRETRAINED_CKPT_PATH; usage: scripts/run_eval.sh DEVICE_ID"),
    ("run_eval.sh", ["2", "{data}", "{tmp}/no.ckpt"], "error: PRETRAINED_CKPT_PATH {tmp}/no.ckpt does not exist"),
    ("run_eval.sh", ["2", "{data}", "{tmp}/m.ckpt", "tpu"], "error: PLATFORM must be CPU, GPU or Ascend, got 'tpu'"),
    ("run_standalone_train.sh", ["./0"], "error: DATA_PATH ./0 has no train/ directory"),  # ./0: the directory
])
def test_device_id_form_usage_errors(tmp_path: Path, dataset: Path, script: str, args: List[str],
                                     message: str) -> None:
    (tmp_path / "0").mkdir()
    (tmp_path / "flat" / "a").mkdir(parents=True)
    (tmp_path / "m.ckpt").write_bytes(b"x")
    fill = dict(tmp=tmp_path, data=dataset)
    proc = run_script(script, [a.format(**fill) for a in args], tmp_path, {"DRY_RUN": "1"})
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith(message.format(**fill)), proc.stderr
    assert "[dry-run]" not in proc.stdout


# ---------------------------------------------------------------- supervisor


def _python(code: str) -> List[str]:
    return [sys.executable, "-c", code]


def test_supervisor_stops_every_rank_when_one_fails(tmp_path: Path) -> None:
    """Rank 1 exits 3: the supervisor names it with its log's tail and stops rank 0 *and the child it started*."""
    child_pid_file = tmp_path / "child.pid"
    rank0 = _python("import subprocess, sys, time\n"
                    f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
                    f"open({str(child_pid_file)!r}, 'w').write(str(p.pid))\n"
                    "time.sleep(300)")
    rank1 = _python("import sys, time\n"
                    f"while not __import__('os').path.exists({str(child_pid_file)!r}): time.sleep(0.05)\n"
                    "print('line 1'); print('boom: something broke', flush=True); sys.exit(3)")
    env = dict(os.environ)
    ranks = [start_rank(0, rank0, env, tmp_path, tmp_path / "r0" / "log.txt"),
             start_rank(1, rank1, env, tmp_path, tmp_path / "r1" / "log.txt")]
    err = io.StringIO()
    start = time.monotonic()
    code = supervise(ranks, out=err, poll=0.1, grace=5)
    assert code == 1
    assert time.monotonic() - start < 30
    text = err.getvalue()
    assert f"rank 1 failed with exit code 3; last lines of {tmp_path / 'r1' / 'log.txt'}:" in text
    assert "    boom: something broke" in text
    assert "stopping the other ranks (0)" in text
    assert ranks[0].process.returncode == -signal.SIGTERM
    grandchild = int(child_pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(grandchild), "a rank's own child process survived"


def test_supervisor_reports_signals_and_success(tmp_path: Path) -> None:
    env = dict(os.environ)
    ok = [start_rank(r, _python("print('done')"), env, tmp_path, tmp_path / f"ok{r}.txt") for r in range(2)]
    assert supervise(ok, out=io.StringIO(), poll=0.05) == 0
    killed = start_rank(0, _python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), env, tmp_path,
                        tmp_path / "k.txt")
    err = io.StringIO()
    assert supervise([killed], out=err, poll=0.05) == 1
    assert "rank 0 failed with exit code -9 (killed by SIGKILL)" in err.getvalue()

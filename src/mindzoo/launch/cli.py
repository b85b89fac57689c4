"""``python -m mindzoo.launch MODE ARGS``: the Python behind scripts/run_*.sh (see mindzoo.launch)."""
from __future__ import annotations

import os
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, TextIO

from mindzoo.cli.common import print_help, run_cli
from mindzoo.errors import MindzooError, UsageError
from mindzoo.launch import (
    absolute, auto_resume_args, child_env, effective_config, entry_script, env_flag, existing_dir, existing_file,
    is_device_id_form, split_args, train_data_dir, with_passthrough,
)

DEVICE_TARGETS = {"cpu": "CPU", "gpu": "GPU", "ascend": "Ascend"}
DEFAULT_WORKER_NUM = 8

USAGE = {
    "ranktable": "scripts/run_distribute_train.sh RANK_TABLE_FILE DATA_PATH [CONFIG_PATH] [RESUME_CKPT] "
                 "[--key=value ...]",
    "msrun": "scripts/run_distribute_train_msrun.sh DATA_PATH [WORKER_NUM] [CONFIG_PATH] [DEVICE_TARGET] "
             "[--key=value ...]",
    "msrun-gpu": "scripts/run_distribute_train_gpu.sh DATA_PATH [WORKER_NUM] [CONFIG_PATH] [--key=value ...]",
    "standalone": "scripts/run_standalone_train.sh DATA_PATH [CONFIG_PATH] [DEVICE_TARGET] [--key=value ...]",
    "eval": "scripts/run_eval.sh DATA_PATH CKPT [CONFIG_PATH] [--key=value ...]",
}
#: The ResNeXt152_64x4d README's forms, DEVICE_ID first (mindzoo.launch.is_device_id_form tells them apart).
MODEL_ZOO_USAGE = {
    "standalone": "scripts/run_standalone_train.sh DEVICE_ID DATA_PATH [PRETRAINED_CKPT_PATH] [--key=value ...]",
    "eval": "scripts/run_eval.sh DEVICE_ID DATA_PATH PRETRAINED_CKPT_PATH [PLATFORM] [--key=value ...]",
}
FORM_RULE = ("A first argument of digits only that is not an existing directory is a DEVICE_ID: the ResNeXt152 "
             "README's form, as its scripts run it: DEVICE_ID exported, device Ascend unless PLATFORM or "
             "--device_target/--platform says otherwise (train: DATA_PATH may be the train/ folder, "
             "--run_eval=False). Digits that also name a directory are an error: write ./0 for the directory.")
ENTRY_COMMANDS = {"ranktable": "train", "msrun": "train", "msrun-gpu": "train", "standalone": "train",
                  "eval": "eval"}

ENV_HELP = {
    "ranktable": "environment: SERVER_ID=<server_id> (this server, default: matched by address), DRY_RUN=1 "
                 "(print each rank's environment and command), BIND_CORES=0 (no taskset)",
    "msrun": "environment: MASTER_PORT (default: a free port), MASTER_ADDR (default 127.0.0.1), "
             "LOCAL_WORKER_NUM and NODE_RANK (multi-node), DRY_RUN=1 (print the msrun command)",
    "standalone": "environment: DRY_RUN=1 (print the train.py command)",
    "eval": "environment: DRY_RUN=1 (print the eval.py command)",
}
ENV_HELP["msrun-gpu"] = ENV_HELP["msrun"]


def _device_target(value: str, what: str = "DEVICE_TARGET") -> str:
    if value.lower() not in DEVICE_TARGETS:
        raise UsageError(f"{what} must be CPU, GPU or Ascend, got '{value}'")
    return DEVICE_TARGETS[value.lower()]


def _positive_int(value: str, what: str) -> int:
    if not value.strip().isdigit() or int(value) <= 0:
        raise UsageError(f"{what} must be a positive integer, got '{value}'")
    return int(value)


def _python_command(script: Path, args: Sequence[str]) -> str:
    return shlex.join([sys.executable, str(script), *args])


def run_ranktable(argv: Sequence[str], env: Mapping[str, str], out: TextIO) -> int:
    """Validate the table and inputs, then start and supervise this server's ranks (or print them)."""
    from mindzoo.launch.ranktable import (
        dump_env, format_cores, format_dry_run, load_rank_table, local_addresses, plan_launches, select_server,
    )
    from mindzoo.launch.supervisor import start_rank, supervise
    from mindzoo.procs import stop_groups

    args = split_args(argv, ("RANK_TABLE_FILE", "DATA_PATH", "CONFIG_PATH", "RESUME_CKPT"), 2, USAGE["ranktable"])
    table = load_rank_table(args["RANK_TABLE_FILE"])
    server = select_server(table, env.get("SERVER_ID", "").strip() or None, local_addresses())
    data = train_data_dir(args["DATA_PATH"])
    launcher_args = ["--run_distribute=True", "--device_target=Ascend", f"--data_path={data}"]
    if args["CONFIG_PATH"]:
        launcher_args.append(f"--config_path={existing_file(args['CONFIG_PATH'], 'CONFIG_PATH')}")
    if args["RESUME_CKPT"]:
        resume = args["RESUME_CKPT"]
        launcher_args.append(f"--resume_ckpt={resume if resume == 'auto' else existing_file(resume, 'RESUME_CKPT')}")
    cores = sorted(os.sched_getaffinity(0))
    bind = env.get("BIND_CORES", "1").strip().lower() not in ("0", "false", "no")
    rank0_cfg = effective_config([*launcher_args, f"--output_dir={Path.cwd() / 'train_parallel0' / 'output'}",
                                  *args.passthrough])  # rank 0's view (also the check of the command line)
    rank0_checkpoints = Path.cwd() / "train_parallel0" / Path(rank0_cfg.output_dir).expanduser() / "checkpoints"
    rank0_here = any(device.rank_id == 0 for device in server.devices)
    resume = auto_resume_args(rank0_cfg, rank0_checkpoints, rank0_here, out)
    launches = plan_launches(table, server, Path.cwd(), launcher_args, [*args.passthrough, *resume], cores, bind)
    ranks = [launch.rank for launch in launches]
    print(f"rank table {table.path}: {table.rank_size} ranks on {len(table.servers)} server(s); "
          f"server {server.server_id} runs ranks {', '.join(map(str, ranks))}", file=out)
    if len(cores) < len(launches) and bind:
        print(f"{len(cores)} CPU cores for {len(launches)} ranks: no core binding", file=out)
    if env_flag(env, "DRY_RUN"):
        for launch in launches:
            print("\n".join(format_dry_run(launch)), file=out)
        return 0

    started = []
    try:
        for launch in launches:
            launch.cwd.mkdir(parents=True, exist_ok=True)
            full_env = child_env(launch.env, env)
            dump_env(launch.cwd / "env.log", full_env)
            started.append(start_rank(launch.rank, launch.cmd, full_env, launch.cwd, launch.log))
            cores_note = f", cores {format_cores(launch.cores)}" if launch.cores else ""
            print(f"rank {launch.rank}: device {launch.device_id}, pid {started[-1].process.pid}{cores_note}, "
                  f"log {launch.cwd.name}/log.txt", file=out, flush=True)
    except BaseException as exc:  # the ranks run in their own sessions: Ctrl+C here would not reach them
        stop_groups([r.process.pid for r in started], [r.process for r in started])
        if isinstance(exc, OSError):
            raise MindzooError(f"cannot start rank {launch.rank} in {launch.cwd}: {exc.strerror or exc}") from None
        raise
    code = supervise(started)
    if code == 0 and rank0_here:
        print(f"all {len(started)} ranks on server {server.server_id} finished; checkpoints in {rank0_checkpoints}",
              file=out)
    elif code == 0:
        print(f"all {len(started)} ranks on server {server.server_id} finished", file=out)
    return code


def run_msrun(argv: Sequence[str], env: Mapping[str, str], out: TextIO, gpu: bool = False) -> int:
    """Validate the inputs, pick a port, then run msrun under supervision (or print its command)."""
    from mindzoo.launch.msrun import build_command, free_port, msrun_executable, supervise_msrun

    mode = "msrun-gpu" if gpu else "msrun"
    names = ("DATA_PATH", "WORKER_NUM", "CONFIG_PATH") + (() if gpu else ("DEVICE_TARGET",))
    args = split_args(argv, names, 1, USAGE[mode])
    data = train_data_dir(args["DATA_PATH"])
    worker_num = _positive_int(args["WORKER_NUM"] or str(DEFAULT_WORKER_NUM), "WORKER_NUM")
    local_num = _positive_int(env.get("LOCAL_WORKER_NUM") or str(worker_num), "LOCAL_WORKER_NUM")
    if local_num > worker_num or worker_num % local_num:
        raise UsageError(f"LOCAL_WORKER_NUM={local_num} must divide WORKER_NUM={worker_num} (same count per node)")
    nodes = worker_num // local_num
    node_rank = int(env.get("NODE_RANK") or 0) if (env.get("NODE_RANK") or "0").isdigit() else -1
    if not 0 <= node_rank < nodes:
        raise UsageError(f"NODE_RANK must be 0..{nodes - 1} for {nodes} node(s), got '{env.get('NODE_RANK')}'")
    master_addr = env.get("MASTER_ADDR") or "127.0.0.1"
    if env.get("MASTER_PORT"):
        master_port = _positive_int(env["MASTER_PORT"], "MASTER_PORT")
        if not 1024 <= master_port <= 65535:
            raise UsageError(f"MASTER_PORT must be 1024..65535, got {master_port}")
    elif nodes > 1:
        raise UsageError("MASTER_PORT must be set (the same on every node) for a multi-node job")
    else:
        master_port = free_port()

    launcher_args = ["--run_distribute=True", f"--data_path={data}"]
    if args["CONFIG_PATH"]:
        launcher_args.append(f"--config_path={existing_file(args['CONFIG_PATH'], 'CONFIG_PATH')}")
    device = "GPU" if gpu else (_device_target(args["DEVICE_TARGET"]) if args["DEVICE_TARGET"] else "")
    if device:
        launcher_args.append(f"--device_target={device}")
    cfg = effective_config(launcher_args + list(args.passthrough))
    output_dir = absolute(cfg.output_dir)
    train_args = [*launcher_args, *args.passthrough,
                  *auto_resume_args(cfg, output_dir / "checkpoints", node_rank == 0, out)]
    log_dir = output_dir / "msrun_log"
    script = entry_script("train.py")
    cmd = build_command(msrun_executable(), worker_num, local_num, master_addr, master_port, node_rank,
                        log_dir, script, train_args)
    if env_flag(env, "DRY_RUN"):
        print(f"[dry-run] {shlex.join(cmd)}", file=out)
        return 0
    print(f"msrun: {worker_num} workers ({local_num} on node {node_rank}), scheduler {master_addr}:{master_port}, "
          f"output {output_dir}, worker logs {log_dir}", file=out, flush=True)
    code = supervise_msrun(cmd, child_env({}, env), log_dir, script)
    if code == 0:
        print(f"all {local_num} workers finished; checkpoints in {output_dir / 'checkpoints'}", file=out)
    return code


def run_standalone(argv: Sequence[str], env: Mapping[str, str], out: TextIO) -> int:
    """One process: train.py with the positional arguments turned into options."""
    extra_env: Dict[str, str] = {}
    if is_device_id_form(argv, MODEL_ZOO_USAGE["standalone"]):
        args = split_args(argv, ("DEVICE_ID", "DATA_PATH", "PRETRAINED_CKPT_PATH"), 2, MODEL_ZOO_USAGE["standalone"])
        own = [f"--data_path={train_data_dir(args['DATA_PATH'])}", "--device_target=Ascend", "--run_eval=False"]
        if args["PRETRAINED_CKPT_PATH"]:
            own.append(f"--pretrained={existing_file(args['PRETRAINED_CKPT_PATH'], 'PRETRAINED_CKPT_PATH')}")
        extra_env["DEVICE_ID"] = args["DEVICE_ID"]
    else:
        args = split_args(argv, ("DATA_PATH", "CONFIG_PATH", "DEVICE_TARGET"), 1, USAGE["standalone"])
        own = [f"--data_path={train_data_dir(args['DATA_PATH'])}"]
        if args["CONFIG_PATH"]:
            own.append(f"--config_path={existing_file(args['CONFIG_PATH'], 'CONFIG_PATH')}")
        if args["DEVICE_TARGET"]:
            own.append(f"--device_target={_device_target(args['DEVICE_TARGET'])}")
    train_args = with_passthrough(own, args.passthrough, "train")
    return _run_in_process("train.py", train_args, extra_env, env, out)


def run_eval(argv: Sequence[str], env: Mapping[str, str], out: TextIO) -> int:
    """eval.py on DATA_PATH (the root or its val/) with CKPT (a file or a directory of them)."""
    extra_env: Dict[str, str] = {}
    if is_device_id_form(argv, MODEL_ZOO_USAGE["eval"]):
        names = ("DEVICE_ID", "DATA_PATH", "PRETRAINED_CKPT_PATH", "PLATFORM")
        args = split_args(argv, names, 3, MODEL_ZOO_USAGE["eval"])
        data, ckpt_name = args["DATA_PATH"], args["PRETRAINED_CKPT_PATH"]
        extra_env["DEVICE_ID"] = args["DEVICE_ID"]
    else:
        args = split_args(argv, ("DATA_PATH", "CKPT", "CONFIG_PATH"), 2, USAGE["eval"])
        data, ckpt_name = args["DATA_PATH"], args["CKPT"]
    data_dir = existing_dir(data, "DATA_PATH")
    ckpt = absolute(ckpt_name)
    if not ckpt.exists():
        raise UsageError(f"{'PRETRAINED_CKPT_PATH' if extra_env else 'CKPT'} {ckpt_name} does not exist")
    own = [f"--data_path={data_dir}", f"--pretrained={ckpt}"]
    if extra_env:
        own.append(f"--device_target={_device_target(args['PLATFORM'] or 'Ascend', 'PLATFORM')}")
    elif args["CONFIG_PATH"]:
        own.append(f"--config_path={existing_file(args['CONFIG_PATH'], 'CONFIG_PATH')}")
    eval_args = with_passthrough(own, args.passthrough, "eval")
    return _run_in_process("eval.py", eval_args, extra_env, env, out)


def _run_in_process(script: str, args: List[str], extra_env: Dict[str, str], env: Mapping[str, str],
                    out: TextIO) -> int:
    """train.py/eval.py in this process (``extra_env`` exported first), or the command under DRY_RUN=1."""
    if env_flag(env, "DRY_RUN"):
        prefix = "".join(f"{name}={shlex.quote(value)} " for name, value in extra_env.items())
        print(f"[dry-run] {prefix}{_python_command(entry_script(script), args)}", file=out)
        return 0
    os.environ.update(extra_env)  # DEVICE_ID: read by set_mindspore_context on Ascend/GPU
    if script == "train.py":
        from mindzoo.cli.train import main as entry_main
    else:
        from mindzoo.cli.eval import main as entry_main
    return entry_main(args)


def launch_help(mode: str) -> str:
    """Usage, environment, and the keys of train.py/eval.py that the pass-through options may set."""
    from mindzoo.cli.help import WIDTH, render_keys

    forms = [USAGE[mode]] + ([MODEL_ZOO_USAGE[mode]] if mode in MODEL_ZOO_USAGE else [])
    lines = [f"usage: {forms[0]}"] + [f"       {form}" for form in forms[1:]] + textwrap.wrap(ENV_HELP[mode], WIDTH)
    if mode in MODEL_ZOO_USAGE:
        lines += textwrap.wrap(FORM_RULE, WIDTH)
    command = ENTRY_COMMANDS[mode]
    lines += ["", f"Options after the positional arguments go to {command}.py, after the launcher's own, and win.",
              render_keys(command)]
    return "\n".join(lines)


MODES: Dict[str, Callable[[Sequence[str], Mapping[str, str], TextIO], int]] = {
    "ranktable": run_ranktable,
    "msrun": run_msrun,
    "msrun-gpu": lambda argv, env, out: run_msrun(argv, env, out, gpu=True),
    "standalone": run_standalone,
    "eval": run_eval,
}


def main(argv: Optional[List[str]] = None, env: Optional[Mapping[str, str]] = None,
         out: Optional[TextIO] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    out = sys.stdout if out is None else out
    if not argv or argv[0] not in MODES:
        given = f"unknown mode '{argv[0]}'; " if argv else ""
        print(f"error: {given}usage: python -m mindzoo.launch {{{','.join(MODES)}}} ARGS", file=sys.stderr)
        return 2
    mode, rest = argv[0], argv[1:]
    if any(arg in ("-h", "--help") for arg in rest):
        print_help(launch_help(mode), out)
        return 0
    return run_cli(lambda args: MODES[mode](args, env, out), rest)

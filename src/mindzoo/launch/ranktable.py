"""The Ascend launch path: an HCCL rank table -> one ``train.py`` process per device of this server.

The table (``version``, ``server_count``, ``server_list[].server_id``, ``server_list[].device[]`` with
``device_id``/``device_ip``/``rank_id``, ``status``) is checked completely before anything starts. This
server is the ``server_id`` matching one of the host's addresses, or ``SERVER_ID`` from the environment.
Each local rank gets ``DEVICE_ID``/``RANK_ID``/``RANK_SIZE``/``RANK_TABLE_FILE``, its own directory
``train_parallel<rank>/`` (``env.log``, ``log.txt``, ``output/``) and an equal share of the CPU cores.
"""
from __future__ import annotations

import ipaddress
import json
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from mindzoo.errors import UsageError

TABLE_KEYS = ("version", "server_count", "server_list", "status")


@dataclass(frozen=True)
class Device:
    device_id: int
    device_ip: str
    rank_id: int


@dataclass(frozen=True)
class Server:
    server_id: str
    devices: Tuple[Device, ...]  # sorted by rank_id


@dataclass(frozen=True)
class RankTable:
    path: Path  # absolute: what RANK_TABLE_FILE is set to
    given: str  # as the user wrote it: what messages show
    version: str
    servers: Tuple[Server, ...]

    @property
    def rank_size(self) -> int:
        return sum(len(s.devices) for s in self.servers)

    @property
    def server_ids(self) -> List[str]:
        return [s.server_id for s in self.servers]


@dataclass(frozen=True)
class RankLaunch:
    """Everything needed to start (or print) one local rank."""

    rank: int
    device_id: int
    env: Dict[str, str]  # only the variables the launcher sets
    cwd: Path
    cmd: Tuple[str, ...]
    cores: Tuple[int, ...]

    @property
    def log(self) -> Path:
        return self.cwd / "log.txt"


class _Checker:
    """Builds one-line errors that name the table and the offending key path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, message: str) -> UsageError:
        return UsageError(f"rank table {self.path}: {message}")

    def require(self, obj: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in obj:
            raise self.fail(f"{where} has no '{key}'" if where else f"missing '{key}'")
        return obj[key]

    def integer(self, value: Any, where: str) -> int:
        """HCCL writes numbers as strings ("0"); accept both, reject anything else."""
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
            raise self.fail(f"{where} must be a non-negative integer, got {json.dumps(value)}")
        return int(value)

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where} must be a non-empty string, got {json.dumps(value)}")
        return value.strip()


def load_rank_table(path: str) -> RankTable:
    """Parse and check a rank table; any defect is a :class:`UsageError` naming the file and key."""
    from mindzoo.launch import absolute

    table_path = absolute(path)
    check = _Checker(Path(path))
    if not table_path.is_file():
        raise UsageError(f"rank table {path} does not exist")
    try:
        data = json.loads(table_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise check.fail("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise check.fail(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict):
        raise check.fail(f"the top level must be a JSON object, got {type(data).__name__}")
    for key in TABLE_KEYS:
        check.require(data, key, "")
    version = data["version"]
    version = check.string(str(version) if isinstance(version, (int, float)) else version, "version")
    status = data["status"]
    if status != "completed":
        raise check.fail(f"status is {json.dumps(status)}, expected \"completed\" (the table is not final)")
    server_count = check.integer(data["server_count"], "server_count")
    server_list = data["server_list"]
    if not isinstance(server_list, list) or not server_list:
        raise check.fail("server_list must be a non-empty list")
    if server_count != len(server_list):
        raise check.fail(f"server_count is {server_count} but server_list has {len(server_list)} server(s)")

    servers: List[Server] = []
    seen_servers: Dict[str, str] = {}
    seen_ranks: Dict[int, str] = {}
    for s_index, entry in enumerate(server_list):
        where = f"server_list[{s_index}]"
        if not isinstance(entry, dict):
            raise check.fail(f"{where} must be an object")
        server_id = check.string(check.require(entry, "server_id", where), f"{where}.server_id")
        if server_id in seen_servers:
            raise check.fail(f"server_id {server_id} appears twice ({seen_servers[server_id]} and {where})")
        seen_servers[server_id] = where
        device_list = check.require(entry, "device", where)
        if not isinstance(device_list, list) or not device_list:
            raise check.fail(f"{where}.device must be a non-empty list")
        devices: List[Device] = []
        seen_devices: Dict[int, str] = {}
        for d_index, device in enumerate(device_list):
            dwhere = f"{where}.device[{d_index}]"
            if not isinstance(device, dict):
                raise check.fail(f"{dwhere} must be an object")
            device_id = check.integer(check.require(device, "device_id", dwhere), f"{dwhere}.device_id")
            device_ip = check.string(check.require(device, "device_ip", dwhere), f"{dwhere}.device_ip")
            rank_id = check.integer(check.require(device, "rank_id", dwhere), f"{dwhere}.rank_id")
            try:
                ipaddress.ip_address(device_ip)
            except ValueError:
                raise check.fail(f"{dwhere}.device_ip {json.dumps(device_ip)} is not an IP address") from None
            if device_id in seen_devices:
                raise check.fail(f"device_id {device_id} appears twice on server {server_id} "
                                 f"({seen_devices[device_id]} and {dwhere})")
            if rank_id in seen_ranks:
                raise check.fail(f"rank_id {rank_id} appears twice ({seen_ranks[rank_id]} and {dwhere})")
            seen_devices[device_id] = dwhere
            seen_ranks[rank_id] = dwhere
            devices.append(Device(device_id, device_ip, rank_id))
        servers.append(Server(server_id, tuple(sorted(devices, key=lambda d: d.rank_id))))

    expected = set(range(len(seen_ranks)))
    if set(seen_ranks) != expected:
        missing = sorted(expected - set(seen_ranks))
        extra = sorted(set(seen_ranks) - expected)
        raise check.fail(f"rank_ids must be 0..{len(seen_ranks) - 1} for {len(seen_ranks)} devices: "
                         f"missing {missing}, unexpected {extra}")
    return RankTable(table_path, str(path), version, tuple(servers))


def local_addresses() -> Set[str]:
    """Names and addresses of this host: hostname, its resolved IPs, and ``hostname -I``."""
    found: Set[str] = {"127.0.0.1", "localhost"}
    name = socket.gethostname()
    found.update({name, socket.getfqdn()})
    try:
        found.update(socket.gethostbyname_ex(name)[2])
    except OSError:
        pass
    try:
        found.update(info[4][0] for info in socket.getaddrinfo(name, None))
    except OSError:
        pass
    if shutil.which("hostname"):
        try:
            result = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5, check=False)
            found.update(result.stdout.split())
        except (OSError, subprocess.TimeoutExpired):
            pass
    return {a for a in found if a}


def select_server(table: RankTable, server_id: Optional[str], addresses: Set[str]) -> Server:
    """This server's entry: ``server_id`` (the SERVER_ID override) if given, else the one at one of ``addresses``."""
    ids = ", ".join(table.server_ids)
    if server_id:
        for server in table.servers:
            if server.server_id == server_id:
                return server
        raise UsageError(f"SERVER_ID={server_id} is not in rank table {table.given} (server_ids: {ids})")
    matches = [s for s in table.servers if s.server_id in addresses]
    if not matches:
        shown = ", ".join(sorted(a for a in addresses if a not in ("127.0.0.1", "localhost")))
        raise UsageError(f"rank table {table.given} does not list this server (server_ids: {ids}; this host: "
                         f"{shown}); run on a listed server or set SERVER_ID=<server_id>")
    if len(matches) > 1:
        raise UsageError(f"rank table {table.given} lists this host more than once "
                         f"({', '.join(s.server_id for s in matches)}); set SERVER_ID=<server_id>")
    return matches[0]


def split_cores(cores: Sequence[int], ranks: int) -> List[Tuple[int, ...]]:
    """Contiguous equal shares of ``cores`` for ``ranks`` local ranks; empty shares if there are too few."""
    per_rank = len(cores) // ranks if ranks else 0
    if per_rank == 0:
        return [()] * ranks
    ordered = sorted(cores)
    return [tuple(ordered[i * per_rank:(i + 1) * per_rank]) for i in range(ranks)]


def format_cores(cores: Sequence[int]) -> str:
    """``0-11,24-35`` for taskset -c."""
    parts: List[str] = []
    ordered = sorted(cores)
    start = prev = ordered[0]
    for core in ordered[1:] + [None]:
        if core is not None and core == prev + 1:
            prev = core
            continue
        parts.append(f"{start}-{prev}" if prev > start else str(start))
        if core is not None:
            start = prev = core
    return ",".join(parts)


def plan_launches(table: RankTable, server: Server, base_dir: Path, launcher_args: Sequence[str],
                  user_args: Sequence[str], available_cores: Sequence[int], bind: bool,
                  python: str = sys.executable, train_script: Optional[Path] = None) -> List[RankLaunch]:
    """One :class:`RankLaunch` per device of ``server``: its env, directory, cores and command.

    train.py gets the launcher's options, then ``--output_dir=train_parallel<rank>/output``, then the
    user's pass-through options (which therefore win, a shared ``--output_dir`` included).
    """
    from mindzoo.launch import entry_script

    script = train_script or entry_script("train.py")
    shares = split_cores(available_cores, len(server.devices))
    taskset = shutil.which("taskset") if bind else None
    launches = []
    for device, cores in zip(server.devices, shares):
        cwd = base_dir / f"train_parallel{device.rank_id}"
        env = {
            "DEVICE_ID": str(device.device_id),
            "RANK_ID": str(device.rank_id),
            "RANK_SIZE": str(table.rank_size),
            "RANK_TABLE_FILE": str(table.path),
        }
        bound = tuple(cores) if taskset and cores else ()
        prefix = [taskset, "-c", format_cores(bound)] if bound else []
        cmd = [*prefix, python, str(script), *launcher_args, f"--output_dir={cwd / 'output'}", *user_args]
        launches.append(RankLaunch(device.rank_id, device.device_id, env, cwd, tuple(cmd), bound))
    return launches


def dump_env(path: Path, env: Mapping[str, str]) -> None:
    """``env.log``: the rank's whole environment, one ``KEY=VALUE`` a line, as ``env`` prints it."""
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())), encoding="utf-8")


def format_dry_run(launch: RankLaunch) -> List[str]:
    env = " ".join(f"{k}={v}" for k, v in launch.env.items())
    return [f"[dry-run] rank {launch.rank}: {env} cwd={launch.cwd}",
            f"[dry-run] rank {launch.rank}: {shlex.join(launch.cmd)}"]

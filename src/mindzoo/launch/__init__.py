"""Launchers behind scripts/run_*.sh: rank-table (Ascend), msrun (GPU/CPU), standalone train, eval.

Every script takes its positional arguments first; everything from the first ``--`` argument on is
passed through to train.py/eval.py unchanged (``--batch_size=2 --epoch_size=1``), after the options the
launcher sets itself, so a passed-through option wins (standalone and eval also drop their own option for a
key the pass-through sets, through a model-zoo alias too: ``with_passthrough``). An empty positional argument
("") means its default. run_standalone_train.sh and run_eval.sh also take the ResNeXt152 README's forms, DEVICE_ID
first (``is_device_id_form``). Relative paths are the caller's. Bad usage is a one-line error and exit 2 before
any process starts.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, TextIO, Tuple

from mindzoo.errors import UsageError

#: The repository checkout the launchers run from (``<root>/train.py``, ``<root>/src/mindzoo``).
REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class ScriptArgs:
    """Positional arguments by name ('' when not given) and the ``--key=value`` options to pass through."""

    values: Dict[str, str]
    passthrough: Tuple[str, ...]

    def __getitem__(self, name: str) -> str:
        return self.values[name]


def split_args(argv: Sequence[str], names: Sequence[str], required: int, usage: str) -> ScriptArgs:
    """Positional arguments up to the first one starting with ``--``; the rest passes through verbatim."""
    positional: List[str] = []
    index = 0
    while index < len(argv) and not argv[index].startswith("--"):
        positional.append(argv[index])
        index += 1
    passthrough = tuple(argv[index:])
    if len(positional) > len(names):
        extra = positional[len(names)]
        raise UsageError(f"unexpected argument '{extra}' (options for train.py are written --key=value); "
                         f"usage: {usage}")
    missing = [name for name, value in zip(names[:required], positional + [""] * required) if not value]
    if missing:
        raise UsageError(f"missing {missing[0]}; usage: {usage}")
    values = {name: (positional[i] if i < len(positional) else "") for i, name in enumerate(names)}
    return ScriptArgs(values, passthrough)


def is_device_id_form(argv: Sequence[str], usage: str) -> bool:
    """Whether a call is the ResNeXt152 README's form, whose first argument is DEVICE_ID.

    The rule: a first argument made of digits only that is not an existing directory is a DEVICE_ID. Digits that
    also name a directory are ambiguous: a usage error (``./0`` names the directory).
    """
    first = argv[0] if argv and not argv[0].startswith("--") else ""
    if not re.fullmatch(r"[0-9]+", first):
        return False
    if absolute(first).is_dir():
        raise UsageError(f"'{first}' is both a DEVICE_ID and a directory here: write ./{first} for the directory; "
                         f"usage: {usage}")
    return True


def with_passthrough(own: Sequence[str], passthrough: Sequence[str], command: str) -> List[str]:
    """The launcher's options, minus those whose key a pass-through option sets (also through a model-zoo alias:
    ``--platform`` sets device_target), then the pass-through options: a passed-through option wins."""
    from mindzoo.config import keys_set_by

    theirs = keys_set_by(passthrough, command)
    return [option for option in own if keys_set_by([option], command).isdisjoint(theirs)] + list(passthrough)


def absolute(path: str) -> Path:
    """``path`` made absolute against the working directory, symlinks kept (paths stay recognisable)."""
    return Path(os.path.abspath(os.path.expanduser(path)))


def existing_dir(path: str, what: str) -> Path:
    """``path`` as an absolute directory, or a usage error naming ``what``."""
    resolved = absolute(path)
    if not resolved.is_dir():
        raise UsageError(f"{what} {path} is not a directory")
    return resolved


def existing_file(path: str, what: str) -> Path:
    """``path`` as an absolute file, or a usage error naming ``what``."""
    resolved = absolute(path)
    if not resolved.is_file():
        raise UsageError(f"{what} {path} does not exist")
    return resolved


def train_data_dir(path: str) -> Path:
    """The dataset root of a training run: it must hold ``train/`` (ImageNet layout). DATA_PATH may also be that
    ``train/`` folder itself, as the model zoo READMEs pass it (``mindzoo.config.train_root``)."""
    from mindzoo.config import train_root

    root = Path(train_root(str(existing_dir(path, "DATA_PATH"))))
    if not (root / "train").is_dir():
        raise UsageError(f"DATA_PATH {path} has no train/ directory (ImageNet layout: {path}/train/<class>/*)")
    return root


def entry_script(name: str) -> Path:
    """``train.py``/``eval.py`` at the repository root: the launched processes run this file."""
    script = REPO_ROOT / name
    if not script.is_file():
        raise UsageError(f"{script} not found: run the launch scripts from a mindzoo checkout")
    return script


def effective_config(args: Sequence[str]):
    """The configuration train.py will see for ``args``, checked as train.py checks it: fail here, once."""
    from mindzoo.config import load_config
    from mindzoo.train.checks import check_train_config

    cfg = load_config(list(args), command="train")
    check_train_config(cfg)
    return cfg


def child_env(extra: Mapping[str, str], base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment of a launched process: ours, unbuffered output (live logs), ``python`` on PATH first.

    The interpreter's directory goes first on PATH because msrun starts workers as plain ``python``.
    """
    env = dict(os.environ if base is None else base)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + (os.pathsep + env["PATH"] if env.get("PATH") else "")
    src = str(REPO_ROOT / "src")
    if src not in env.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """A boolean environment switch: set and not 0/false/no/empty."""
    return env.get(name, "").strip().lower() not in ("", "0", "false", "no")


def auto_resume_args(cfg, checkpoint_dir: Path, rank0_here: bool, out: TextIO) -> List[str]:
    """``--resume_ckpt=auto`` resolved once, here, for every rank: rank 0's newest checkpoint as an absolute path.

    Appended after the pass-through options, so all ranks load the same file (or all start fresh: an empty
    ``--resume_ckpt=``). When rank 0's checkpoints are not visible from this server (multi-server, no shared
    file system) ``auto`` stays, and train.py's ranks take rank 0's choice at start-up instead.
    """
    from mindzoo.weights.naming import AUTO, newest_checkpoint

    if cfg.resume_ckpt != AUTO:
        return []
    if not rank0_here and not checkpoint_dir.is_dir():
        print(f"resume: auto, decided by rank 0 at start-up ({checkpoint_dir} is not on this server)", file=out)
        return []
    newest = newest_checkpoint(checkpoint_dir, cfg.net_name)
    if newest is None:
        print(f"resume: auto, no checkpoint in {checkpoint_dir}: every rank starts fresh", file=out)
        return ["--resume_ckpt="]
    print(f"resume: auto -> {newest} (rank 0's newest checkpoint), for every rank", file=out)
    return [f"--resume_ckpt={newest}"]

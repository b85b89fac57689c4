"""Merging the sources of a configuration: defaults <- a per-model YAML <- overrides <- ``--key=value``.

A model YAML (``--config_path``) and the command line may only set keys the schema (:mod:`.schema`) has, or a
key of ``ALIASES`` (:mod:`.aliases`). Anything else is an error naming the key and the closest valid one.
Nothing here is global: each program names its ``command`` ("train", "eval", "export"), because a few
model-zoo keys mean different things to its train.py and eval.py; callers pass the returned ``Config`` (or
plain values from it) down explicitly.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from mindzoo.config.aliases import ALIASES, Alias, AliasContext
from mindzoo.config.schema import DEFAULT_CONFIG, Config, coerce, read_yaml, unknown_key_message
from mindzoo.errors import ConfigError, HelpRequested
from mindzoo.runtime import log_formatter

CONFIG_PATH_FLAG = "config_path"
HELP_FLAGS = ("-h", "--help")

logger = logging.getLogger("mindzoo")


def help_requested(argv: Sequence[str]) -> bool:
    return any(arg in HELP_FLAGS for arg in argv)


def parse_cli(argv: Sequence[str]) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """Split ``--key=value`` / ``--key value`` pairs; return (config_path, [(key, raw value)])."""
    config_path: Optional[str] = None
    pairs: List[Tuple[str, str]] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"unexpected argument '{arg}': options are written --key=value")
        body = arg[2:]
        if "=" in body:
            key, value = body.split("=", 1)
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            key, value = body, args[i + 1]
            i += 1
        else:
            key, value = body, "True"  # a bare flag switches a bool on
        key = key.replace("-", "_")
        if key == CONFIG_PATH_FLAG:
            config_path = value
        else:
            pairs.append((key, value))
        i += 1
    return config_path, pairs


@dataclass(frozen=True)
class _Source:
    where: str
    values: Dict[str, Any]  # a key given twice on the command line: the last one
    is_file: bool = False
    is_cli: bool = False


@dataclass
class _Assigned:
    value: Any
    origin: str  # the key as written: our key or an alias


class _Resolver:
    """Defaults <- each source in turn; within one source, a key and its alias must agree."""

    def __init__(self, schema: Dict[str, Any], command: str) -> None:
        self.schema = schema
        self.command = command
        self.values = dict(schema)
        self.setter: Dict[str, int] = {}  # key -> index of the last source that set it
        self.assigned: List[Dict[str, _Assigned]] = []
        self.deferred: List[Tuple[int, Alias, Any]] = []
        self.sources: List[_Source] = []
        self.notes: List[str] = []

    def add(self, source: _Source) -> None:
        index = len(self.sources)
        self.sources.append(source)
        assigned: Dict[str, _Assigned] = {}
        self.assigned.append(assigned)
        mapped, accepted, launcher = [], [], []
        zoo_keys = [key for key in source.values if key in ALIASES and ALIASES[key].kind != "same"]
        for key, raw in source.values.items():
            if key in self.schema:
                if source.is_file and key == "batch_size" and "per_batch_size" in source.values:
                    # The model zoo's default_config.yaml: per_batch_size trains and evaluates; its batch_size
                    # is read by nothing but export.py's --batch_size (default 1).
                    self._assign(index, "export_batch_size", raw, key)
                    mapped.append(f"batch_size={raw} -> export_batch_size (per_batch_size is the training batch)")
                else:
                    self._assign(index, key, raw, key)
                continue
            alias = ALIASES.get(key)
            if alias is None:
                raise ConfigError(unknown_key_message(key, self.schema, source.where, ALIASES))
            if alias.kind == "launcher":
                launcher.append(key)
            elif alias.kind == "ignored":
                accepted.append(key)
            elif alias.final:
                self.deferred.append((index, alias, raw))
            else:
                context = AliasContext(self.command, source.where, source.values)
                targets = alias.apply(raw, context)
                for target, value in targets.items():
                    self._assign(index, target, value, key)
                mapped.append(f"{key}={raw} -> " + (", ".join(f"{t}={assigned[t].value}" for t in targets)
                                                   or "(no change)"))
        if "lr" in source.values and zoo_keys and "lr_base_batch" not in source.values:
            self._assign(index, "lr_base_batch", 0, "lr")
            mapped.append(f"lr={source.values['lr']} is used as given (lr_base_batch=0, no batch scaling), "
                          "as the model zoo uses it")
        for key, entry in assigned.items():
            self.values[key] = entry.value
            self.setter[key] = index
        if mapped:
            self.notes.append(f"{source.where}: model zoo keys: {'; '.join(mapped)}")
        if launcher:
            self.notes.append(f"{source.where}: {', '.join(launcher)} come from the launcher (msrun / rank "
                              "table), not from the config: not used")
        if accepted:
            self.notes.append(f"{source.where}: model zoo keys not used by mindzoo (see --help): "
                              f"{', '.join(accepted)}")

    def _assign(self, index: int, key: str, raw: Any, origin: str) -> Any:
        where = self.sources[index].where
        value = coerce(key, raw, self.schema[key], where if origin == key else f"{where} (from {origin})")
        assigned = self.assigned[index]
        previous = assigned.get(key)
        if previous is not None and previous.origin != origin and previous.value != value:
            raise ConfigError(f"conflicting values in {where}: {previous.origin}={previous.value!r} and "
                              f"{origin}={value!r} both set {key}; give only one of them")
        assigned[key] = _Assigned(value, origin)
        return value

    def finish(self) -> Config:
        """Run the conversions that read the merged values (the last source's, for an alias given twice); a later
        source's own key still wins."""
        last = {alias.name: (index, alias, raw) for index, alias, raw in self.deferred}
        for index, alias, raw in last.values():
            source = self.sources[index]
            context = AliasContext(self.command, source.where, source.values, dict(self.values))
            targets = alias.apply(raw, context)
            for target, value in targets.items():
                value = self._assign(index, target, value, alias.name)
                if self.setter.get(target, -1) <= index:
                    self.values[target] = value
                    self.setter[target] = index
            shown = ", ".join(f"{t}={self.values[t]}" for t in targets) or "checked"
            self.notes.append(f"{source.where}: model zoo key {alias.name}={raw} -> {shown}")
        cfg = Config(self.values)
        cli = [assigned for source, assigned in zip(self.sources, self.assigned) if source.is_cli]
        cfg.explicit = frozenset(key for assigned in cli for key in assigned)
        return cfg


def resolve_config(
    argv: Sequence[str] = (),
    config_path: Optional[str] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    command: str = "train",
) -> Tuple[Config, List[str]]:
    """``load_config`` without logging: the configuration and the notes about model-zoo keys it used."""
    if help_requested(argv):
        raise HelpRequested(command, _config_path_for_help(argv) or config_path)
    cli_config_path, pairs = parse_cli(argv)
    config_path = cli_config_path or config_path
    resolver = _Resolver(read_yaml(DEFAULT_CONFIG), command)
    if config_path:
        resolver.add(_Source(str(config_path), read_yaml(Path(config_path)), is_file=True))
    if overrides:
        resolver.add(_Source("overrides", dict(overrides)))
    resolver.add(_Source("the command line", dict(pairs), is_cli=True))
    return resolver.finish(), resolver.notes


def load_config(
    argv: Sequence[str] = (),
    config_path: Optional[str] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    command: str = "train",
) -> Config:
    """Defaults <- model YAML (``--config_path``) <- ``overrides`` <- command line, all validated.

    ``-h``/``--help`` anywhere raises ``HelpRequested`` (``run_cli`` prints the help). Model-zoo keys used are
    logged with the keys they set. ``command`` is the program parsing ("train", "eval", "export").
    """
    cfg, notes = resolve_config(argv, config_path, overrides, command)
    if notes:
        _log_notes(notes)
    return cfg


def _log_notes(notes: Sequence[str]) -> None:
    """Log through the ``mindzoo`` logger; before a CLI has set it up, on stderr (stdout may carry results)."""
    handler = None
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(log_formatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        for note in notes:
            logger.info("config: %s", note)
    finally:
        if handler is not None:
            logger.removeHandler(handler)


def _config_path_for_help(argv: Sequence[str]) -> Optional[str]:
    """``--config_path X`` / ``--config_path=X`` from a command line that may not parse (it asks for help)."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg.startswith(f"--{CONFIG_PATH_FLAG}="):
            return arg.split("=", 1)[1]
        if arg == f"--{CONFIG_PATH_FLAG}" and i + 1 < len(args) and not args[i + 1].startswith("-"):
            return args[i + 1]
    return None


def keys_set_by(argv: Sequence[str], command: str) -> frozenset:
    """The schema keys a command line sets, directly or through an alias (``--platform`` sets device_target)."""
    _, pairs = parse_cli(argv)
    keys = set()
    for key, raw in pairs:
        alias = ALIASES.get(key)
        if alias is None:
            keys.add(key)
        elif alias.final:
            keys.update(alias.targets)
        else:
            keys.update(alias.apply(raw, AliasContext(command, "the command line", dict(pairs))))
    return frozenset(keys)


def dump_config(cfg: Mapping[str, Any], path: Path) -> None:
    """Write the effective configuration next to a run's outputs, for reproducibility."""
    Path(path).write_text(yaml.safe_dump(dict(cfg), sort_keys=False), encoding="utf-8")

"""Model-zoo style configuration: ``default_config.yaml`` + a per-model YAML + ``--key=value`` overrides.

``default_config.yaml`` is the schema: it lists every key with a default whose type is the key's type.
A model YAML (``--config_path``) and the command line may only set keys the schema has; anything
else is an error naming the key and the closest valid one. Nothing here is global: callers pass the
returned ``Config`` (or plain values from it) down explicitly.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml

from mindzoo.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default_config.yaml"
CONFIG_PATH_FLAG = "config_path"


class Config(dict):
    """A dict with attribute access; ``explicit`` holds the keys set on the command line."""

    explicit: frozenset = frozenset()

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(_unknown_key_message(key, self.keys(), "config")) from exc

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "explicit":
            object.__setattr__(self, key, value)
        elif key in self:
            self[key] = value
        else:
            raise ConfigError(_unknown_key_message(key, self.keys(), "config"))


def _unknown_key_message(key: str, valid: Iterable[str], where: str) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown config key '{key}' in {where}{hint}"


def read_yaml(path: Path) -> Dict[str, Any]:
    """Read a YAML mapping, turning I/O and syntax problems into one-line ConfigErrors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"cannot parse config file {path}{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value, got {type(data).__name__}")
    return data


def coerce(key: str, value: Any, default: Any, where: str) -> Any:
    """Convert ``value`` to the type of ``default`` or raise a ConfigError naming ``key``."""
    if isinstance(value, str) and not isinstance(default, str):
        value = _parse_scalar(value, default)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif isinstance(default, list):
        if isinstance(value, (list, tuple)):
            return list(value)
    elif default is None:
        return value
    expected = type(default).__name__
    raise ConfigError(f"config key '{key}' in {where} expects {expected}, got {value!r}")


def _parse_scalar(text: str, default: Any) -> Any:
    """Parse a command-line value with YAML rules; lists may also be written ``1,2,3``."""
    if isinstance(default, list) and not text.strip().startswith("["):
        return [yaml.safe_load(item) for item in text.split(",") if item.strip()] if text.strip() else []
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def merge(base: Dict[str, Any], overrides: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """Apply ``overrides`` onto ``base``; every key must already exist in ``base``."""
    merged = dict(base)
    for key, value in overrides.items():
        if key not in base:
            raise ConfigError(_unknown_key_message(key, base.keys(), where))
        merged[key] = coerce(key, value, base[key], where)
    return merged


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


def load_config(
    argv: Sequence[str] = (),
    config_path: Optional[str] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> Config:
    """Defaults <- model YAML (``--config_path``) <- ``overrides`` <- command line, all validated."""
    cli_config_path, pairs = parse_cli(argv)
    config_path = cli_config_path or config_path
    values = read_yaml(DEFAULT_CONFIG)
    if config_path:
        values = merge(values, read_yaml(Path(config_path)), str(config_path))
    if overrides:
        values = merge(values, overrides, "overrides")
    values = merge(values, dict(pairs), "the command line")
    cfg = Config(values)
    cfg.explicit = frozenset(key for key, _ in pairs)
    return cfg


def dump_config(cfg: Mapping[str, Any], path: Path) -> None:
    """Write the effective configuration next to a run's outputs, for reproducibility."""
    Path(path).write_text(yaml.safe_dump(dict(cfg), sort_keys=False), encoding="utf-8")

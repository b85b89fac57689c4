"""The configuration schema: ``default_config.yaml`` lists every key with a default whose type is the key's type, and
its trailing comments are the ``--help`` text (``schema_docs``); reading YAML and typing values against it.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List

import yaml

from mindzoo.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default_config.yaml"
SCHEMA_BONUS = 0.1  # an unknown key's suggestion prefers our keys over aliases that are barely closer


class Config(dict):
    """A dict with attribute access; ``explicit`` holds the keys set on the command line."""

    explicit: frozenset = frozenset()

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(unknown_key_message(key, self.keys(), "config")) from exc

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "explicit":
            object.__setattr__(self, key, value)
        elif key in self:
            self[key] = value
        else:
            raise ConfigError(unknown_key_message(key, self.keys(), "config"))


def unknown_key_message(key: str, valid: Iterable[str], where: str, also: Iterable[str] = ()) -> str:
    """Suggest the closest key of ``valid`` or, clearly closer, of ``also`` (the aliases): ``epochs`` is
    ``epoch_size`` rather than the alias ``max_epoch``, ``per_batchsize`` is ``per_batch_size``."""
    scored = [(difflib.SequenceMatcher(None, key, name).ratio() + bonus, name)
              for names, bonus in ((valid, SCHEMA_BONUS), (also, 0.0)) for name in names]
    best = max((entry for entry in scored if entry[0] >= 0.5), default=None)
    hint = f"; did you mean '{best[1]}'?" if best else ""
    return f"unknown config key '{key}' in {where}{hint}"


# ---------------------------------------------------------------- the schema and its help comments

_SECTION = re.compile(r"^#\s*-{3,}\s*(?P<name>.*?)\s*-{3,}\s*$")
_KEY_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*):(?P<rest>.*)$")


@dataclass(frozen=True)
class KeyDoc:
    """One schema key as default_config.yaml documents it: its section header and its trailing comment."""

    key: str
    section: str
    help: str


def schema_docs(path: Path = DEFAULT_CONFIG) -> List[KeyDoc]:
    """Every top-level key of ``path`` in file order, with the nearest ``# ---- name ----`` header above it."""
    docs: List[KeyDoc] = []
    section = ""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group("name")
            continue
        match = _KEY_LINE.match(line)
        if match:
            docs.append(KeyDoc(match.group("key"), section, _trailing_comment(match.group("rest"))))
    return docs


def _trailing_comment(text: str) -> str:
    """The comment after a YAML value: from the first ``#`` outside quotes that follows a blank."""
    quote = ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            return text[index + 1:].strip()
    return ""


# ---------------------------------------------------------------- reading and typing values


def read_yaml(path: Path) -> Dict[str, Any]:
    """Read a YAML mapping, turning I/O and syntax problems into one-line ConfigErrors.

    A model-zoo default_config.yaml may carry up to two more documents (help texts, choices) after
    ``---``, as mindspore/models' ``parse_yaml`` reads them; only the first is configuration.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"cannot parse config file {path}{where}: {getattr(exc, 'problem', exc)}") from None
    if len(documents) > 3:
        raise ConfigError(f"config file {path} has {len(documents)} YAML documents; at most 3 (config, help, "
                          "choices) are read")
    data = documents[0] if documents else None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value, got {type(data).__name__}")
    return data


def coerce(key: str, value: Any, default: Any, where: str) -> Any:
    """Convert ``value`` to the type of ``default`` or raise a ConfigError naming ``key``.

    Bools also take 0 and 1, as the model zoo's flags (``--run_eval=0``) do.
    """
    if isinstance(value, str) and not isinstance(default, str):
        value = _parse_scalar(value, default)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
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

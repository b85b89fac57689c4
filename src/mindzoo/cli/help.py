"""``--help`` of the config command lines (train.py, eval.py, export.py and the launch scripts).

Everything shown is read, not restated: the keys, sections and one-line meanings are default_config.yaml's
(``mindzoo.config.schema_docs``), the defaults are that file's merged with ``--config_path``, the aliases are
``mindzoo.config.ALIASES``, and a program's description is its module docstring.
"""
from __future__ import annotations

import importlib
import itertools
import textwrap
from typing import Any, List, Optional

from mindzoo.config import ALIASES, DEFAULT_CONFIG, resolve_config, schema_docs

WIDTH = 118
KEY_COLUMN = 32

SYNTAX = ("Every option is a key of default_config.yaml: --config_path YAML overrides its defaults, and the "
          "command line overrides both, as --key=value or --key value (lists: 30,60 or [30,60]; bools: "
          "True/False or 1/0; a bare --flag is True). An unknown key is an error naming the closest one.")
ALIAS_INTRO = ("The keys and flags of mindspore/models research/cv/resnext152_64x4d (its README, "
               "default_config.yaml, train.py, eval.py, export.py) are accepted too. Using one logs what it "
               "sets; a key and its alias with different values in one file or command line are an error.")


def type_name(value: Any) -> str:
    """The schema type of a default, as the help shows it."""
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, list):
        return "LIST"
    return {int: "INT", float: "FLOAT", str: "STR"}.get(type(value), "VALUE")


def show_value(value: Any) -> str:
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _row(left: str, right: str) -> List[str]:
    """``left`` in the key column, ``right`` wrapped beside it."""
    indent = " " * KEY_COLUMN
    first = f"  {left}".ljust(KEY_COLUMN)
    if len(first) > KEY_COLUMN:
        return [first.rstrip()] + textwrap.wrap(right, WIDTH, initial_indent=indent, subsequent_indent=indent)
    return textwrap.wrap(right, WIDTH, initial_indent=first, subsequent_indent=indent) or [first.rstrip()]


def render_keys(command: str, config_path: Optional[str] = None) -> str:
    """Every key by section with type, default and meaning, then the model-zoo aliases."""
    cfg, _ = resolve_config([f"--config_path={config_path}"] if config_path else [], command=command)
    source = f"{DEFAULT_CONFIG.name} <- {config_path}" if config_path else DEFAULT_CONFIG.name
    lines = textwrap.wrap(SYNTAX, WIDTH) + [f"Defaults below: {source}.", ""]
    lines += _row("-h, --help", "this help")
    lines += _row("--config_path YAML", "a model YAML (configs/<model>.yaml), or a mindspore/models "
                  "default_config.yaml")
    for section, docs in itertools.groupby(schema_docs(), key=lambda doc: doc.section):
        lines += ["", f"{section}:"]
        for doc in docs:
            value = cfg[doc.key]
            lines += _row(f"--{doc.key} {type_name(value)}", f"{doc.help} (default: {show_value(value)})")
    lines += ["", "model zoo keys (ResNeXt152_64x4d README):"] + textwrap.wrap(ALIAS_INTRO, WIDTH)
    mapped = [alias for alias in ALIASES.values() if alias.kind in ("maps", "same")]
    for alias in mapped:
        if alias.kind == "same":
            target = "same key"
        elif alias.targets:
            target = "-> " + ", ".join(alias.targets)
        else:
            target = "checked"
        lines += _row(f"--{alias.name} {target}", alias.meaning)
    lines += ["", "model zoo keys accepted and not used (logged):"]
    accepted = [alias for alias in ALIASES.values() if alias.kind in ("launcher", "ignored")]
    for meaning, group in itertools.groupby(accepted, key=lambda alias: alias.meaning):
        lines += textwrap.wrap(", ".join(f"--{alias.name}" for alias in group) + f": {meaning}", WIDTH,
                               initial_indent="  ", subsequent_indent="    ")
    return "\n".join(lines)


def describe(command: str) -> str:
    """The program's own docstring (``mindzoo.cli.<command>``), reST markup removed."""
    module = importlib.import_module(f"mindzoo.cli.{command}")
    return (module.__doc__ or "").replace("``", "").strip()


def render_help(command: str, config_path: Optional[str] = None) -> str:
    usage = f"usage: python {command}.py [--config_path YAML] [--key=value ...]    (installed: mindzoo-{command})"
    return "\n\n".join([usage, describe(command), render_keys(command, config_path)])

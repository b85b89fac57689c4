"""Model-zoo style configuration: ``default_config.yaml`` + a per-model YAML + ``--key=value`` overrides.

``default_config.yaml`` is the schema: it lists every key with a default whose type is the key's type, and
its trailing comments are the ``--help`` text (``schema_docs``). A model YAML (``--config_path``) and the
command line may only set keys the schema has, or a key of ``ALIASES``: the one table of the keys and flags
of the mindspore/models ResNeXt152_64x4d README (its default_config.yaml, train.py, eval.py, export.py), each
mapped to ours, or accepted and not used. Anything else is an error naming the key and the closest valid
one. Nothing here is global: callers pass the returned ``Config`` (or plain values from it) down explicitly;
``ENTRY_POINT`` only says which program is parsing (``run_cli`` sets it), because a few model-zoo keys mean
different things to its train.py and eval.py.
"""
from __future__ import annotations

import difflib
import logging
import os
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml

from mindzoo.errors import ConfigError, HelpRequested

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default_config.yaml"
CONFIG_PATH_FLAG = "config_path"
HELP_FLAGS = ("-h", "--help")
SCHEMA_BONUS = 0.1  # an unknown key's suggestion prefers our keys over aliases that are barely closer
#: The program parsing its command line: "train", "eval", "export" (set by mindzoo.cli.common.run_cli).
ENTRY_POINT: ContextVar[str] = ContextVar("mindzoo_entry_point", default="train")

logger = logging.getLogger("mindzoo")


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


def _unknown_key_message(key: str, valid: Iterable[str], where: str, also: Iterable[str] = ()) -> str:
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


# ---------------------------------------------------------------- the model zoo's keys


@dataclass(frozen=True)
class AliasContext:
    """What an alias's conversion may look at: the program, the source, and (``final`` aliases) the result."""

    command: str
    where: str
    source: Mapping[str, Any]
    values: Optional[Mapping[str, Any]] = None


Converter = Callable[[Any, AliasContext], Dict[str, Any]]


@dataclass(frozen=True)
class Alias:
    """A key of the ResNeXt152_64x4d README and what it is here.

    ``kind``: ``maps`` (sets ``targets``), ``same`` (our key of the same name; listed for the reader),
    ``launcher`` (derived from the launch: accepted and logged), ``ignored`` (accepted, logged, not used).
    ``final`` conversions run after every source is merged, because they read the final values.
    """

    name: str
    kind: str
    targets: Tuple[str, ...]
    meaning: str
    convert: Optional[Converter] = None
    final: bool = False

    def apply(self, value: Any, context: AliasContext) -> Dict[str, Any]:
        if self.convert is not None:
            return self.convert(value, context)
        return {self.targets[0]: value}


#: The model zoo's ResNeXt names; other backbone names (resnet50, ...) are ours already.
BACKBONE_NAMES = {"resnext50": "resnext50_32x4d", "resnext101": "resnext101_64x4d",
                  "resnext152": "resnext152_64x4d"}
LR_SCHEDULERS = {"cosine_annealing": "warmup_cosine_annealing", "exponential": "warmup_step"}


def _zero_one(name: str, value: Any, where: str) -> bool:
    """A model-zoo 0/1 switch (bools and True/False also work)."""
    return bool(coerce(name, value, False, where))


def train_root(data_dir: str) -> str:
    """The dataset root train.py reads (``<root>/train/<class>/*``) for a model-zoo data directory: its parent
    when it is itself a ``train/`` folder (the ResNeXt152 README passes ``~/imagenet/train/``), else itself."""
    path = Path(os.path.expanduser(str(data_dir)))
    if path.is_dir() and path.name == "train" and not (path / "train").is_dir():
        return str(path.parent)
    return str(data_dir)


def _data_dir(value: Any, context: AliasContext) -> Dict[str, Any]:
    if context.command != "train":
        return {"data_path": value}
    root = train_root(value)
    if Path(os.path.expanduser(root)).is_dir() and not Path(os.path.expanduser(root), "train").is_dir():
        raise ConfigError(f"data_dir {value} has no train/ folder and is not one: train.py reads "
                          "<root>/train/<class>/* (and <root>/val/ for eval-while-train); pass the root or its train/")
    return {"data_path": root}


def _per_batch_size(value: Any, context: AliasContext) -> Dict[str, Any]:
    return {"eval_batch_size" if context.command == "eval" else "batch_size": value}


def _image_size(value: Any, context: AliasContext) -> Dict[str, Any]:
    if isinstance(value, str):
        parts: List[Any] = [yaml.safe_load(p) for p in value.split(",") if p.strip()]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [value]
    if not 1 <= len(parts) <= 2 or not all(isinstance(p, int) and not isinstance(p, bool) and p > 0 for p in parts):
        raise ConfigError(f"image_size in {context.where} must be 'H,W' or N (positive integers), got {value!r}")
    if parts[0] != parts[-1]:
        raise ConfigError(f"image_size {value!r} in {context.where}: mindzoo trains and evaluates square crops; "
                          "use H = W (export.py takes --height/--width)")
    return {"train_image_size": parts[0], "eval_image_size": parts[0]}


def _lr_scheduler(value: Any, context: AliasContext) -> Dict[str, Any]:
    if value not in LR_SCHEDULERS:
        raise ConfigError(f"lr_scheduler in {context.where} must be cosine_annealing or exponential (the model "
                          f"zoo's), got {value!r}; mindzoo's own schedules are set with lr_schedule")
    return {"lr_schedule": LR_SCHEDULERS[value]}


def _t_max(value: Any, context: AliasContext) -> Dict[str, Any]:
    t_max = coerce("T_max", value, 0, context.where)
    values = context.values or {}
    if values.get("lr_schedule") == "warmup_cosine_annealing" and t_max != values.get("epoch_size"):
        raise ConfigError(f"T_max={t_max} in {context.where} differs from the run's {values.get('epoch_size')} "
                          f"epochs: mindzoo's cosine_annealing spans the whole run; pass --T_max="
                          f"{values.get('epoch_size')} (or set max_epoch and T_max equal)")
    return {}


def _dynamic_loss_scale(value: Any, context: AliasContext) -> Dict[str, Any]:
    dynamic = _zero_one("is_dynamic_loss_scale", value, context.where)
    return {"loss_scale_type": "dynamic" if dynamic else "fixed"}


def _label_smooth(value: Any, context: AliasContext) -> Dict[str, Any]:
    return {} if _zero_one("label_smooth", value, context.where) else {"label_smoothing": 0.0}


def _label_smooth_factor(value: Any, context: AliasContext) -> Dict[str, Any]:
    """The model zoo's targets are ``1 - s`` / ``s / (C - 1)``; ours ``(1 - t) one-hot + t / C``: t = s C / (C - 1)."""
    if "label_smooth" in context.source and not _zero_one("label_smooth", context.source["label_smooth"],
                                                          context.where):
        return {}
    factor = coerce("label_smooth_factor", value, 0.0, context.where)
    classes = int((context.values or {}).get("num_classes", 0))
    return {"label_smoothing": factor * classes / (classes - 1) if classes > 1 else factor}


def _net_name(value: Any, context: AliasContext) -> Dict[str, Any]:
    return {"net_name": BACKBONE_NAMES.get(str(value), str(value))}


def _maps(name: str, targets: Tuple[str, ...], meaning: str, convert: Optional[Converter] = None,
          final: bool = False) -> Alias:
    return Alias(name, "maps", targets, meaning, convert, final)


def _same(name: str, meaning: str) -> Alias:
    return Alias(name, "same", (name,), meaning)


def _accepted(kind: str, meaning: str, *names: str) -> List[Alias]:
    return [Alias(name, kind, (), meaning) for name in names]


_ALIAS_LIST: List[Alias] = [
    _maps("data_dir", ("data_path",), "train: the train folder (<root>/train) or the dataset root; "
          "eval: the val folder or the root", _data_dir),
    _maps("platform", ("device_target",), "Ascend | GPU | CPU"),
    _maps("is_distributed", ("run_distribute",), "0 | 1; the launch scripts set it"),
    _same("pretrained", "train: weights to start from; eval: a .ckpt or a directory (every *.ckpt in it)"),
    _maps("per_batch_size", ("batch_size", "eval_batch_size"), "per-device batch: train.py's batch_size, "
          "eval.py's eval_batch_size", _per_batch_size),
    _maps("eval_per_batch_size", ("eval_batch_size",), "train.py: the eval-while-train batch"),
    _maps("image_size", ("train_image_size", "eval_image_size"), "'224,224', [224, 224] or 224: the train "
          "and eval crop (square)", _image_size),
    _same("num_classes", "classifier outputs"),
    _same("lr", "the LR as given when it comes with model-zoo keys in the same file or command line "
          "(lr_base_batch=0, no scaling), as the model zoo uses it"),
    _maps("lr_scheduler", ("lr_schedule",), "cosine_annealing -> warmup_cosine_annealing, exponential -> "
          "warmup_step (its lr_generator.py, step for step)", _lr_scheduler),
    _maps("lr_epochs", ("lr_milestones",), "'30,60,90,120' or a list: the epochs of exponential's LR steps"),
    _same("lr_gamma", "exponential: the LR factor at each lr_epochs milestone"),
    _same("eta_min", "cosine_annealing: the floor of the cosine"),
    _maps("T_max", (), "cosine_annealing's period in epochs: must equal max_epoch (otherwise an error)",
          _t_max, final=True),
    _maps("max_epoch", ("epoch_size",), "training epochs"),
    _same("warmup_epochs", "linear warmup epochs, from warmup_lr_init (0, as the model zoo's)"),
    _same("weight_decay", "not applied to biases and BN gamma/beta, as its get_param_groups"),
    _same("momentum", "SGD momentum"),
    _maps("is_dynamic_loss_scale", ("loss_scale_type",), "0 -> fixed, 1 -> dynamic (from loss_scale with "
          "scale_window; the model zoo's starts at 65536 with window 2000)", _dynamic_loss_scale),
    _same("loss_scale", "the fixed loss scale (the model zoo's 1024), or the first dynamic one"),
    _maps("label_smooth", ("label_smoothing",), "0: no label smoothing; 1: label_smooth_factor", _label_smooth),
    _maps("label_smooth_factor", ("label_smoothing",), "s (targets 1 - s and s / (C - 1)): label_smoothing = "
          "s * C / (C - 1), the same targets", _label_smooth_factor, final=True),
    _maps("ckpt_interval", ("save_checkpoint_epochs",), "epochs between checkpoints (its train.py saves every "
          "ckpt_interval * steps_per_epoch steps)"),
    _maps("ckpt_save_max", ("keep_checkpoint_max",), "checkpoints kept"),
    _maps("ckpt_path", ("output_dir",), "checkpoints and logs (the model zoo adds a <date>_time_<time>/ "
          "folder; mindzoo does not, so --resume_ckpt=auto finds them)"),
    _maps("backbone", ("net_name",), "resnext152 -> resnext152_64x4d, resnext101 -> resnext101_64x4d, "
          "resnext50 -> resnext50_32x4d; resnet50 and other names as they are", _net_name),
    _maps("network", ("net_name",), "as backbone (its default_config.yaml's key)", _net_name),
    *_accepted("launcher", "from the launcher (mindspore.communication rank / group size; rank 0 saves "
               "checkpoints)", "rank", "group_size", "is_save_on_master"),
    *_accepted("ignored", "derived by its train.py at run time", "rank_save_ckpt_flag", "outputs_dir"),
    *_accepted("ignored", "ModelArts / OBS only", "enable_modelarts", "data_url", "train_url", "checkpoint_url",
               "output_path", "load_path"),
    *_accepted("ignored", "not read by its train.py / eval.py either", "checkpoint_path", "checkpoint_file_path"),
    *_accepted("ignored", "logs go to output_dir", "log_path", "eval_log_path"),
    _same("device_id", "standalone: the card; distributed ranks take DEVICE_ID from the launcher"),
    *_accepted("ignored", "postprocess.py's --result_path / --label_path", "result_path", "label_path"),
    _maps("data_sink_mode", ("dataset_sink_mode",), "Model.train's dataset sink mode (sinks on Ascend/GPU)"),
    *_accepted("ignored", "mindzoo's pipelines use C++ dataset ops", "use_python_multiprocessing"),
    *_accepted("ignored", "eval-while-train always keeps best_acc.ckpt and shards like training",
               "save_best_ckpt", "eval_is_distributed"),
    *_accepted("ignored", "a checkpoint directory is evaluated in name order", "graph_ckpt"),
    *_accepted("ignored", "profiling is not wired in", "enable_profiling"),
]
#: The keys and flags of mindspore/models research/cv/resnext152_64x4d, by name: the one alias table.
ALIASES: Dict[str, Alias] = {alias.name: alias for alias in _ALIAS_LIST}


# ---------------------------------------------------------------- the command line and the sources


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
                raise ConfigError(_unknown_key_message(key, self.schema, source.where, ALIASES))
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
    command: Optional[str] = None,
) -> Tuple[Config, List[str]]:
    """``load_config`` without logging: the configuration and the notes about model-zoo keys it used."""
    command = command or ENTRY_POINT.get()
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
    command: Optional[str] = None,
) -> Config:
    """Defaults <- model YAML (``--config_path``) <- ``overrides`` <- command line, all validated.

    ``-h``/``--help`` anywhere raises ``HelpRequested`` (``run_cli`` prints the help). Model-zoo keys used are
    logged with the keys they set. ``command`` defaults to ``ENTRY_POINT``.
    """
    cfg, notes = resolve_config(argv, config_path, overrides, command)
    if notes:
        _log_notes(notes)
    return cfg


def _log_notes(notes: Sequence[str]) -> None:
    """Log through the ``mindzoo`` logger; before a CLI has set it up, on stderr (stdout may carry results)."""
    handler = None
    if not logger.handlers:
        from mindzoo.cli.common import log_formatter

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

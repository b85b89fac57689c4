"""``ALIASES``: the one table of the keys and flags of the mindspore/models ResNeXt152_64x4d README (its
default_config.yaml, train.py, eval.py, export.py), each mapped to ours, or accepted and not used.

A few of them mean different things to its train.py and eval.py, so a conversion sees the ``command`` parsing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import yaml

from mindzoo.config.schema import coerce
from mindzoo.errors import ConfigError


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

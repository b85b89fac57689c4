"""Checkpoint I/O: atomic, durable writes, strict, well-explained weight loading, and what a checkpoint says about itself.

Every checkpoint saved through :func:`save_checkpoint_atomic` from a network holding a mindzoo ``ResNet`` (the
net itself or a train step wrapping it) carries one extra entry, ``mindzoo.pretrained_cfg`` (timm's
``pretrained_cfg`` idea): a uint8 tensor holding UTF-8 JSON (a tensor, not a string entry, so code that calls
``.asnumpy()`` on every entry keeps working)::

    {"version": 1,
     "variant": {"conv_padding": "same", "pool_padding": "same", "bn_eps": 0.0001, "block_bn_eps": 0.0001},
     "data_config": {"resize_backend": "opencv"},
     "source": {"format": "mindspore_models", "file": "resnet50_ascend_v170_imagenet2012.ckpt"}}

``variant`` is the :class:`~mindzoo.models.resnet.ResNetVariant` the weights need; ``data_config`` holds the
:class:`~mindzoo.data.geometry.DataConfig` fields the weights' origin dictates; ``source`` (converted
checkpoints only) says where they came from. A checkpoint without the entry (older ones, other tools') means
torchvision's variant and the model's own data config. :func:`open_checkpoint` reads a mindzoo checkpoint, or
a foreign one (MindCV, mindspore/models, torch ``.pth``/``.safetensors``) converted in memory, and
``create_model(name, pretrained=path)`` builds the network that checkpoint needs from it.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np
import mindspore as ms
from mindspore import nn

from mindzoo.errors import CheckpointError, first_line
from mindzoo.models.resnet import DEFAULT_VARIANT, ResNetVariant, find_resnet

PathLike = Union[str, Path]
PRETRAINED_CFG_KEY = "mindzoo.pretrained_cfg"
EMA_PREFIX = "ema."  # MindCV's (and train.py's with ema=True): the EMA copy of weight X is saved as "ema.X"
PRETRAINED_CFG_VERSION = 1

logger = logging.getLogger("mindzoo.checkpoint")


@dataclass(frozen=True)
class PretrainedCfg:
    """What a checkpoint records about the network and preprocessing its weights need."""

    variant: ResNetVariant = DEFAULT_VARIANT
    data_config: Mapping[str, Any] = field(default_factory=dict)
    source: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"version": PRETRAINED_CFG_VERSION, "variant": self.variant.to_dict(),
                           "data_config": dict(self.data_config), "source": dict(self.source)}, sort_keys=True)

    def entry(self) -> Dict[str, ms.Tensor]:
        """The checkpoint entry: ``{PRETRAINED_CFG_KEY: uint8 tensor of the JSON}``."""
        return {PRETRAINED_CFG_KEY: ms.Tensor(np.frombuffer(self.to_json().encode("utf-8"), dtype=np.uint8))}

    @classmethod
    def from_json(cls, text: str, where: str) -> "PretrainedCfg":
        try:
            data = json.loads(text)
            if int(data.get("version", 0)) > PRETRAINED_CFG_VERSION:
                raise ValueError(f"version {data['version']} is newer than this mindzoo reads "
                                 f"({PRETRAINED_CFG_VERSION}); upgrade mindzoo")
            return cls(variant=ResNetVariant.from_dict(data.get("variant", {})),
                       data_config=dict(data.get("data_config", {})), source=dict(data.get("source", {})))
        except (ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"{where}: bad '{PRETRAINED_CFG_KEY}' entry: {first_line(exc)}") from None

    def apply_data_config(self, data_config: Any, where: str = "checkpoint") -> Any:
        """``data_config`` (a DataConfig) with the recorded fields replaced."""
        known = set(data_config.to_dict())
        unknown = sorted(set(self.data_config) - known)
        if unknown:
            raise CheckpointError(f"{where}: '{PRETRAINED_CFG_KEY}' sets unknown data_config field '{unknown[0]}'")
        try:
            return data_config.replace(**self.data_config)
        except (TypeError, ValueError) as exc:  # ConfigError is a ValueError too
            raise CheckpointError(f"{where}: bad data_config in '{PRETRAINED_CFG_KEY}': {first_line(exc)}") from None


def pretrained_cfg_of(cell: nn.Cell) -> Optional[PretrainedCfg]:
    """The entry describing the ResNet inside ``cell`` (a network or a train step wrapping one), or None."""
    net = find_resnet(cell)
    if net is None:
        return None
    return PretrainedCfg(variant=net.variant, data_config={"resize_backend": net.data_config.resize_backend})


def read_pretrained_cfg(params: Mapping[str, Any], where: str) -> PretrainedCfg:
    """The recorded :class:`PretrainedCfg` of a loaded checkpoint; the default one if it has no entry."""
    value = params.get(PRETRAINED_CFG_KEY)
    if value is None:
        return PretrainedCfg()
    text = value if isinstance(value, str) else bytes(np.asarray(value.asnumpy(), dtype=np.uint8)).decode("utf-8")
    return PretrainedCfg.from_json(text, where)


# ``.<stem>.tmp-<host>-<pid>.ckpt``: MindSpore appends .ckpt to a name without it; the host keeps a writer on
# another machine sharing the directory safe from cleanup here.
TEMP_PATTERN = re.compile(r"^\..+\.tmp-(?P<host>.+)-(?P<pid>\d+)\.ckpt$")


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.stem}.tmp-{socket.gethostname()}-{os.getpid()}.ckpt")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temp_files(directory: Path) -> List[Path]:
    """Delete the temp files that writers on this host which no longer run left in ``directory``; return them.

    A writer killed between writing and renaming (SIGKILL, OOM, power loss) leaves its temp file behind; the
    next save into the directory removes it instead of letting such files pile up.
    """
    removed = []
    host = socket.gethostname()
    for candidate in Path(directory).glob(".*.tmp-*.ckpt"):
        match = TEMP_PATTERN.match(candidate.name)
        if not match or match["host"] != host:
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and not _process_alive(pid):
            try:
                candidate.unlink()
            except FileNotFoundError:  # another saver removed it first
                continue
            removed.append(candidate)
    return removed


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # checkpoints are written read-only (0400); fsync works on a read fd
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint_atomic(
    save_obj: Union[nn.Cell, List[Dict[str, Any]]], path: PathLike, append_dict: Optional[Dict[str, Any]] = None,
    pretrained_cfg: Optional[PretrainedCfg] = None,
) -> Path:
    """Write a checkpoint to a temp file in the same directory, fsync it, rename it into place, fsync the directory.

    A run killed mid-write leaves the previous checkpoint intact, never a truncated one, and once this returns
    the new checkpoint survives a power loss (data flushed before the rename, the rename flushed after).
    Leftover temp files of dead writers are removed first (:func:`remove_stale_temp_files`). The
    ``mindzoo.pretrained_cfg`` entry is ``pretrained_cfg`` if given, else that of the ResNet in ``save_obj``,
    so a fine-tuned checkpoint keeps the variant of the weights it started from.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    if pretrained_cfg is None and isinstance(save_obj, nn.Cell):
        pretrained_cfg = pretrained_cfg_of(save_obj)
    if pretrained_cfg is not None:
        append_dict = {**(append_dict or {}), **pretrained_cfg.entry()}
    tmp = _temp_path(path)
    try:
        ms.save_checkpoint(save_obj, str(tmp), append_dict=append_dict)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_checkpoint(path: PathLike) -> Dict[str, ms.Parameter]:
    """Load a checkpoint's parameter dict, with a one-line error for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return ms.load_checkpoint(str(path))
    except Exception as exc:  # MindSpore raises ValueError/RuntimeError with multi-line text
        raise CheckpointError(f"cannot read checkpoint {path}: {first_line(exc)}") from None


def check_variant(net: nn.Cell, params: Mapping[str, Any], source: str) -> None:
    """Refuse weights recorded for another ResNet variant than ``net``'s (they would run and be quietly wrong)."""
    resnet = find_resnet(net)
    if resnet is None:
        return
    recorded = read_pretrained_cfg(params, source).variant
    if recorded != resnet.variant:
        raise CheckpointError(
            f"{source} holds weights for a ResNet with {recorded.differences(resnet.variant)} but the network was "
            f"built without that; build it from the checkpoint: create_model(NAME, pretrained='{source}')"
        )


def check_compatible(net: nn.Cell, params: Dict[str, Any], source: str) -> None:
    """Raise a CheckpointError naming the first missing key, shape mismatch, or ResNet variant mismatch.

    Extra keys (optimizer moments, step counters) are allowed: train.py checkpoints carry them.
    """
    classifier = getattr(net, "get_classifier", None)
    if classifier is not None and isinstance(classifier(), nn.Dense):
        fc = classifier()
        name = fc.weight.name
        if name in params and params[name].shape[0] != fc.weight.shape[0]:
            raise CheckpointError(
                f"{source} has a {params[name].shape[0]}-class classifier ({name} {tuple(params[name].shape)}) "
                f"but the network has num_classes={fc.weight.shape[0]}; set --num_classes={params[name].shape[0]}"
            )
    for param in net.get_parameters():
        if param.name not in params:
            raise CheckpointError(f"{source} has no parameter '{param.name}' (is it a checkpoint of this architecture?)")
        got = tuple(params[param.name].shape)
        if got != tuple(param.shape):
            raise CheckpointError(
                f"{source}: parameter '{param.name}' has shape {got}, the network expects {tuple(param.shape)}"
            )
    check_variant(net, params, source)


def loadable_weights(params: Mapping[str, Any], raw_weights: bool = False) -> Dict[str, Any]:
    """``params`` with its EMA weights (``ema.X``) in place of the raw ones (``X``) when it has them.

    A checkpoint of a run with ``ema=True`` carries both; evaluation, export and inference want the EMA ones
    (the ones eval-while-train scored) unless ``raw_weights``.
    """
    ema = {key[len(EMA_PREFIX):]: value for key, value in params.items() if key.startswith(EMA_PREFIX)}
    if raw_weights or not ema:
        return dict(params)
    return {**params, **ema}


class Checkpoint:
    """A mindzoo checkpoint as loaded: its entries and recorded :class:`PretrainedCfg`.

    :func:`open_checkpoint` returns this or, for a foreign file, a ``mindzoo.convert.formats.SourceWeights``;
    both offer ``path``, ``cfg``, ``format``, ``num_classes``, ``source_name(name)`` and ``params_for(net, arch)``.
    """

    format = "mindzoo"

    def __init__(self, path: PathLike, params: Dict[str, Any], raw_weights: bool = False) -> None:
        self.path = str(path)
        self.params = params
        self.raw_weights = raw_weights
        self.cfg = read_pretrained_cfg(params, self.path)

    @property
    def num_classes(self) -> Optional[int]:
        weight = self.params.get("fc.weight")
        return None if weight is None else int(weight.shape[0])

    @staticmethod
    def source_name(ms_name: str) -> str:
        return ms_name

    def params_for(self, net: nn.Cell, arch: str = "") -> Dict[str, Any]:
        """The entries, EMA weights in place of raw ones unless ``raw_weights`` (:func:`loadable_weights`);
        :func:`load_params` checks them against ``net``."""
        if not self.raw_weights and any(key.startswith(EMA_PREFIX) for key in self.params):
            logger.info("%s: loading its EMA weights (ema.*); raw_weights=True loads the raw ones", self.path)
        return loadable_weights(self.params, self.raw_weights)


def open_checkpoint(path: PathLike, src_format: Optional[str] = None, raw_weights: bool = False) -> Any:
    """A mindzoo checkpoint, or a foreign one converted to mindzoo names in memory (the log says so).

    The format is detected from the file (``.pth``/``.pt``/``.bin``/``.safetensors``: torch) and its keys;
    ``src_format`` forces one of ``mindzoo.convert.formats.FORMATS``. A mindzoo checkpoint with EMA weights
    offers those unless ``raw_weights`` (:func:`loadable_weights`); foreign checkpoints are converted as they are.
    """
    from mindzoo.convert.formats import MINDZOO, detect_checkpoint_format, is_torch_file, read_source

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    params = None if is_torch_file(path) else read_checkpoint(path)
    fmt = src_format or detect_checkpoint_format(path, params)
    if fmt == MINDZOO:
        return Checkpoint(path, params, raw_weights)
    return read_source(path, fmt, params)


def load_params(net: nn.Cell, source: Any, arch: str = "") -> Dict[str, Any]:
    """Strictly load an opened checkpoint (:func:`open_checkpoint`) into ``net``; return its entries."""
    params = source.params_for(net, arch)
    check_compatible(net, params, source.path)
    wanted = {p.name for p in net.get_parameters()}
    ms.load_param_into_net(net, {k: v for k, v in params.items() if k in wanted}, strict_load=True)
    if source.format != Checkpoint.format:
        logger.info("%s is a %s checkpoint: converted to mindzoo names on the fly; to convert it once: %s",
                    source.path, source.format, source.convert_command(arch))
    return params


def load_weights(net: nn.Cell, path: PathLike, arch: str = "", raw_weights: bool = False) -> Dict[str, Any]:
    """Strictly load a checkpoint's network weights into ``net``; return the full parameter dict.

    Foreign checkpoints are converted in memory; a checkpoint recorded for another ResNet variant than
    ``net``'s is refused (``create_model(name, pretrained=path)`` builds the right one).
    """
    return load_params(net, open_checkpoint(path, raw_weights=raw_weights), arch)

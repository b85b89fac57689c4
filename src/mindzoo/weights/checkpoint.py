"""Opening any supported checkpoint and loading it strictly, with one-line errors that name the key at fault.

:func:`open_checkpoint` reads a mindzoo checkpoint (its :mod:`~mindzoo.weights.pretrained` record says which
network the weights need) or a foreign one (MindCV, mindspore/models, torch ``.pth``/``.safetensors``: see
:mod:`~mindzoo.weights.formats`) converted in memory; :func:`load_params` checks it against a network passed in
and loads it. ``mindzoo.models.create_model(name, pretrained=path)`` builds the network a checkpoint needs.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import mindspore as ms
from mindspore import nn

from mindzoo.errors import CheckpointError
from mindzoo.weights.files import read_checkpoint
from mindzoo.weights.formats import EMA_PREFIX, MINDZOO, detect_checkpoint_format, is_torch_file, read_source
from mindzoo.weights.pretrained import find_variant_net, read_pretrained_cfg

PathLike = Union[str, Path]

logger = logging.getLogger("mindzoo.weights")


def check_variant(net: nn.Cell, params: Mapping[str, Any], source: str) -> None:
    """Refuse weights recorded for another ResNet variant than ``net``'s (they would run and be quietly wrong)."""
    resnet = find_variant_net(net)
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

    :func:`open_checkpoint` returns this or, for a foreign file, a ``mindzoo.weights.formats.SourceWeights``;
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
    ``src_format`` forces one of ``mindzoo.weights.formats.FORMATS``.
    """
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

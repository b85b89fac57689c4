"""Name -> builder registry with ``create_model`` / ``list_models`` (timm style)."""
from __future__ import annotations

import difflib
from typing import Callable, Dict, List, Optional

from mindspore import nn

_MODELS: Dict[str, Callable[..., nn.Cell]] = {}


def register_model(builder: Callable[..., nn.Cell]) -> Callable[..., nn.Cell]:
    """Decorator: make ``builder`` reachable by its function name."""
    name = builder.__name__
    if name in _MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    _MODELS[name] = builder
    return builder


def list_models() -> List[str]:
    return sorted(_MODELS)


def get_builder(name: str) -> Callable[..., nn.Cell]:
    if name not in _MODELS:
        close = difflib.get_close_matches(name, list(_MODELS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}{hint} (available: {', '.join(list_models())})")
    return _MODELS[name]


def create_model(name: str, num_classes: int = 1000, pretrained: Optional[str] = None, raw_weights: bool = False,
                 **kwargs: object) -> nn.Cell:
    """Build a registered model; ``pretrained`` is a checkpoint path loaded strictly.

    The network is the one the checkpoint records (its ResNet variant: padding, BN eps; its preprocessing
    origin goes into ``net.data_config``), so converted weights give their source's logits. A foreign checkpoint
    (MindCV, mindspore/models, a torch ``.pth``/``.safetensors``) is converted in memory and the log says so.
    There is no download: weights come from local files (see ``python -m mindzoo.convert``). A checkpoint with
    EMA weights (``ema.*``, train.py with ``ema=True``) gives those unless ``raw_weights``.
    """
    builder = get_builder(name)
    if not pretrained:
        return builder(num_classes=num_classes, **kwargs)
    from mindzoo.checkpoint import load_params, open_checkpoint

    source = open_checkpoint(pretrained, raw_weights=raw_weights)
    kwargs.setdefault("variant", source.cfg.variant)
    net = builder(num_classes=num_classes, **kwargs)
    net.data_config = source.cfg.apply_data_config(net.data_config, str(pretrained))
    load_params(net, source, name)
    return net

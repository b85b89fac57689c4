"""Name -> builder registry: ``register_model`` / ``list_models`` / ``get_builder`` (timm's ``_registry.py``).

Building a model, with or without weights, is :mod:`mindzoo.models.factory`'s.
"""
from __future__ import annotations

import difflib
from typing import Callable, Dict, List

from mindspore import nn

from mindzoo.errors import UnknownModelError

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
    """The builder registered as ``name``; an unknown name is an :class:`UnknownModelError` naming the closest."""
    if name not in _MODELS:
        close = difflib.get_close_matches(name, list(_MODELS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownModelError(f"net_name: unknown model {name!r}{hint} (available: {', '.join(list_models())})")
    return _MODELS[name]

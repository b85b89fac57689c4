"""``create_model``: a registered builder plus, optionally, pretrained weights applied through
:mod:`mindzoo.weights` (timm's ``_factory.py``)."""
from __future__ import annotations

from typing import Optional

from mindspore import nn

from mindzoo.models.registry import get_builder
from mindzoo.weights.checkpoint import load_params, open_checkpoint


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
    source = open_checkpoint(pretrained, raw_weights=raw_weights)
    kwargs.setdefault("variant", source.cfg.variant)
    net = builder(num_classes=num_classes, **kwargs)
    net.data_config = source.cfg.apply_data_config(net.data_config, str(pretrained))
    load_params(net, source, name)
    return net

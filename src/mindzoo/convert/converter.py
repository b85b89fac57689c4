"""``python -m mindzoo.convert``'s two directions: any supported checkpoint -> mindzoo, mindzoo -> PyTorch.

Into mindzoo, the written ``.ckpt`` holds the network's parameters under mindzoo names plus the
``mindzoo.pretrained_cfg`` entry (:mod:`mindzoo.weights.pretrained`): the ResNet variant the weights need and their
preprocessing origin, so ``create_model(arch, pretrained=out)`` rebuilds the source's network. Out to
PyTorch, a torchvision-variant checkpoint becomes a torchvision ``state_dict`` (``.pth`` or ``.safetensors``).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from mindzoo.weights.checkpoint import Checkpoint, load_params, open_checkpoint
from mindzoo.weights.files import save_checkpoint_atomic
from mindzoo.weights.formats import MINDSPORE_MODELS, ZOO_IMAGENET_CLASSES, ms_to_torch_name
from mindzoo.weights.torch_io import INSTALL_HINT
from mindzoo.errors import CheckpointError, MindzooError, UsageError, first_line
from mindzoo.weights.pretrained import DEFAULT_VARIANT, ResNetVariant

PathLike = Union[str, Path]
TORCH_OUT_SUFFIXES = (".pth", ".pt", ".safetensors")


def _build_net(arch: str, num_classes: int, variant: ResNetVariant) -> Any:
    from mindzoo.models import create_model

    try:
        return create_model(arch, num_classes=num_classes, variant=variant)
    except ValueError as exc:  # unknown name, with the registry's "did you mean" hint
        raise UsageError(first_line(exc)) from None


def resolve_classes(source: Any, num_classes: Optional[int]) -> int:
    """The classifier size to convert to: the source's, or ``num_classes`` if it matches (or, for the model
    zoo's 1001-way ImageNet head, is 1000: the unused row is dropped)."""
    found = source.num_classes
    key = source.source_name("fc.weight")
    if found is None:
        if num_classes is None:
            raise CheckpointError(f"{source.path} has no classifier '{key}'; pass --num_classes 0 to convert a "
                                  "headless backbone")
        return num_classes
    drops_unused_row = source.format == MINDSPORE_MODELS and found == ZOO_IMAGENET_CLASSES
    if num_classes is not None and num_classes != found and not (drops_unused_row and num_classes == found - 1):
        raise CheckpointError(f"--num_classes {num_classes} does not match {source.path}: classifier '{key}' has "
                              f"{found} classes (omit --num_classes to use {found})")
    return found if num_classes is None else num_classes


def convert_file(arch: str, src: PathLike, out: PathLike, num_classes: Optional[int] = None,
                 src_format: Optional[str] = None) -> Path:
    """Convert the weights in ``src`` (torchvision/timm/MindCV/mindspore/models) into mindzoo checkpoint ``out``."""
    out = Path(out)
    if out.suffix != ".ckpt":
        raise UsageError(f"output must be a .ckpt file (MindSpore loads only that suffix): {out}")
    if num_classes is not None and num_classes < 0:
        raise UsageError(f"--num_classes must be >= 0, got {num_classes}")
    if not Path(src).is_file():
        raise UsageError(f"source checkpoint not found: {src}")
    source = open_checkpoint(src, src_format)
    if source.format == Checkpoint.format:
        raise UsageError(f"{src} is already a mindzoo checkpoint: pass it to --pretrained/--ckpt_file as it is "
                         "(or force its format with --src_format)")
    net = _build_net(arch, resolve_classes(source, num_classes), source.cfg.variant)
    params = source.params_for(net, arch)
    items = [{"name": name, "data": value} for name, value in params.items() if name in source.extras
             or name in {p.name for p in net.get_parameters()}]
    return save_checkpoint_atomic(items, out, pretrained_cfg=source.cfg)


_BN_ORDER = {"gamma": 0, "beta": 1, "moving_mean": 2, "moving_variance": 3}  # torchvision's buffer order


def _torch_state_dict(net: Any, params: Dict[str, Any]) -> "OrderedDict[str, Any]":
    """torchvision's ``state_dict`` of ``net``'s weights, in torchvision's key order; BN counters from the
    checkpoint (kept by the conversion from torch) or 0."""
    import torch

    modules: Dict[str, list] = {}
    for param in net.get_parameters():
        modules.setdefault(param.name.rpartition(".")[0], []).append(param.name)
    state: "OrderedDict[str, Any]" = OrderedDict()
    for prefix, names in modules.items():
        for name in sorted(names, key=lambda n: _BN_ORDER.get(n.rpartition(".")[2], 0)):
            state[ms_to_torch_name(name)] = torch.from_numpy(np.array(params[name].asnumpy()))
        if f"{prefix}.moving_mean" in names:
            counter = params.get(f"{prefix}.num_batches_tracked")
            value = np.array(0 if counter is None else counter.asnumpy(), dtype=np.int64).reshape(())  # 0-d in torch
            state[f"{prefix}.num_batches_tracked"] = torch.from_numpy(value)
    return state


def export_torch(arch: str, src: PathLike, out: PathLike, num_classes: Optional[int] = None) -> Path:
    """Write the weights of checkpoint ``src`` as a torchvision ``state_dict`` (``.pth``/``.pt`` or
    ``.safetensors``); only torchvision-variant checkpoints, since torchvision's ResNet cannot pad ``same``."""
    out = Path(out)
    if out.suffix.lower() not in TORCH_OUT_SUFFIXES:
        raise UsageError(f"--to torchvision writes {', '.join(TORCH_OUT_SUFFIXES)} files, not {out}")
    if not Path(src).is_file():
        raise UsageError(f"source checkpoint not found: {src}")
    source = open_checkpoint(src)
    variant = source.cfg.variant
    if not variant.is_torchvision:
        raise UsageError(f"{src} needs a ResNet with {variant.differences(DEFAULT_VARIANT)}, which torchvision's "
                         "ResNet cannot express (symmetric padding, BN eps 1e-5); it cannot be exported to PyTorch")
    try:
        import torch
    except ImportError:
        raise MindzooError(f"writing {out} needs PyTorch: {INSTALL_HINT}") from None
    classes = source.num_classes if num_classes is None else num_classes
    net = _build_net(arch, 0 if classes is None else classes, variant)
    state = _torch_state_dict(net, load_params(net, source, arch))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}{out.suffix}")
    try:
        if out.suffix.lower() == ".safetensors":
            from safetensors.torch import save_file

            save_file(state, str(tmp))
        else:
            torch.save(state, str(tmp))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out

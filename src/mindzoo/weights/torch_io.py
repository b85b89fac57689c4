"""Reading torchvision / timm ResNet and ResNeXt state_dicts (``.pth`` via ``torch.load``, ``.safetensors``).

Our parameter names are torchvision's module paths, so conversion is a rename of the BatchNorm leaves
(``weight/bias/running_mean/running_var`` -> ``gamma/beta/moving_mean/moving_variance``, in
:mod:`mindzoo.weights.formats`) plus strict checks: every key and shape must match the target network
exactly, because a silently skipped or mis-shaped tensor gives a model that runs and is quietly wrong.
timm's ResNet/ResNeXt use the same names as torchvision (``conv1``, ``bn1``, ``layerN.i.convK``,
``downsample.0/1``, ``fc``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Union

import numpy as np

from mindzoo.errors import CheckpointError, MindzooError, UsageError, first_line

PathLike = Union[str, Path]

WRAPPER_KEYS = ("state_dict", "model")
DDP_PREFIX = "module."
INSTALL_HINT = "pip install -e .[torch]"


def strip_common_prefix(arrays: Dict[str, np.ndarray], prefix: str) -> Dict[str, np.ndarray]:
    """Drop ``prefix`` when every key has it: a wrapper's name (torch DDP's ``module.``, a MindSpore train cell's
    ``network.``) in front of the model's own names."""
    if arrays and all(k.startswith(prefix) for k in arrays):
        return {k[len(prefix):]: v for k, v in arrays.items()}
    return arrays


def _unwrap(obj: Any, source: str) -> Mapping[str, Any]:
    """Accept a bare state_dict or a training checkpoint wrapping it under "state_dict" or "model"."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source} holds a {type(obj).__name__}, not a state_dict")
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), Mapping):
            return obj[key]
    return obj


def _torch_to_numpy(value: Any) -> np.ndarray:
    """bf16/fp16 tensors go through float32: numpy has no bfloat16 and our parameters are float32."""
    tensor = value.detach().cpu()
    if tensor.is_floating_point():
        tensor = tensor.float()
    return tensor.numpy()


def _to_arrays(raw: Mapping[str, Any], source: str) -> Dict[str, np.ndarray]:
    arrays: Dict[str, np.ndarray] = {}
    for key, value in raw.items():
        if isinstance(value, np.ndarray):
            arrays[str(key)] = value
        elif hasattr(value, "detach") and hasattr(value, "numpy"):
            arrays[str(key)] = _torch_to_numpy(value)
        else:
            raise CheckpointError(f"{source}: key '{key}' holds a {type(value).__name__}, not a tensor")
    return strip_common_prefix(arrays, DDP_PREFIX)  # DistributedDataParallel saves ``module.<name>``


def _load_safetensors(path: Path) -> Mapping[str, Any]:
    try:
        import safetensors  # noqa: F401
    except ImportError:
        raise MindzooError(f"reading {path} needs the safetensors package: {INSTALL_HINT}") from None
    try:
        import torch  # noqa: F401  (torch handles bfloat16, which numpy cannot)

        from safetensors.torch import load_file
    except ImportError:
        from safetensors.numpy import load_file
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises SafetensorError/OSError/TypeError with library text
        raise CheckpointError(f"cannot read {path}: {first_line(exc)}") from None


def _load_torch(path: Path) -> Mapping[str, Any]:
    try:
        import torch
    except ImportError:
        raise MindzooError(f"reading {path} needs PyTorch: {INSTALL_HINT}") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors, or a non-tensor object refused by weights_only
        raise CheckpointError(f"cannot read {path} with torch.load(weights_only=True): {first_line(exc)}") from None
    return _unwrap(obj, str(path))


def load_torch_state_dict(path: PathLike) -> Dict[str, np.ndarray]:
    """Read a ``.safetensors`` file, or anything else with ``torch.load``, as name -> numpy array."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"source state_dict not found: {path}")
    raw = _load_safetensors(path) if path.suffix == ".safetensors" else _load_torch(path)
    return _to_arrays(raw, str(path))

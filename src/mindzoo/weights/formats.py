"""The checkpoint formats mindzoo reads, and how each one's ResNet maps onto mindzoo's.

========================  ==========================================================================
format                    what differs from mindzoo (names, then the network: :class:`ResNetVariant`)
========================  ==========================================================================
``torchvision``/``timm``  BN leaves ``weight/bias/running_mean/running_var`` (+ ``num_batches_tracked``,
                          kept for the way back to PyTorch); same network. Preprocessing: PIL.
``mindcv``                ``layerN.0.down_sample.*``, ``classifier.*``; stem max-pool ``pad_mode="same"``.
``mindspore_models``      ``official/cv/ResNet``: ``down_sample_layer.*``, ``end_point.*``, ResNet18/34
                          ``bn1d``/``bn2d``; ResNet50/101/152 pad every conv and the pool ``same`` with
                          BN eps 1e-4, ResNet18/34 pad symmetrically with block BN eps 1e-4 (stem and
                          shortcut 1e-5); ImageNet heads have 1001 outputs (labels 0..999).
                          ``research/cv/resnext152_64x4d``: ``backbone.``/``head.`` prefixes, stem
                          ``backbone.conv``/``backbone.bn``, ``down_sample.conv``/``.bn``, ``head.fc``; grouped
                          3x3 convs stored as one conv per group (``conv2.convs.<g>``, Ascend) or one
                          grouped conv (GPU); max-pool ``same``.
========================  ==========================================================================

MindSpore-format checkpoints written by training also hold optimizer and loop state (``moments.*``,
``learning_rate``, ``global_step``, ``momentum``, ``epoch_num``, ``step_num``, ...), which is dropped; any other
key that has no place in mindzoo's ResNet is an error naming it.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mindzoo.data.geometry import OPENCV, PIL
from mindzoo.errors import CheckpointError, UsageError
from mindzoo.weights.pretrained import PRETRAINED_CFG_KEY, SAME, PretrainedCfg, ResNetVariant
from mindzoo.weights.torch_io import load_torch_state_dict, strip_common_prefix

if TYPE_CHECKING:
    from mindspore import nn

logger = logging.getLogger("mindzoo.weights")

MINDZOO = "mindzoo"
TORCHVISION = "torchvision"
TIMM = "timm"
MINDCV = "mindcv"
MINDSPORE_MODELS = "mindspore_models"
SOURCE_FORMATS = (TORCHVISION, TIMM, MINDCV, MINDSPORE_MODELS)
FORMATS = (MINDZOO, *SOURCE_FORMATS)
TORCH_FORMATS = (TORCHVISION, TIMM)
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")

# ImageNet heads of the mindspore/models ResNets have 1001 outputs; their labels are the sorted class folders
# 0..999 (ImageFolderDataset, create_imagenet2012_label.py), so row 1000 is never a training target.
ZOO_IMAGENET_CLASSES = 1001

EMA_PREFIX = "ema."  # MindCV's (and train.py's with ema=True): the EMA copy of weight X is saved as "ema.X"
# Optimizer and training-loop state that MindSpore training writes next to the weights.
# MindCV's AdamW/LAMB moments (adam_m/adam_v, lamb_m/lamb_v) and EMA copies (ema.*, counter "updates") included:
# a foreign checkpoint imports its raw weights, as before.
TRAINING_STATE_PREFIXES = ("moments.", "moment1.", "moment2.", "accum.", "mean_grad.", "mean_square.", "adam_m.",
                           "adam_v.", "lamb_m.", "lamb_v.", EMA_PREFIX)
TRAINING_STATE_KEYS = frozenset({
    "learning_rate", "global_step", "momentum", "epoch_num", "step_num", "scale_sense", "loss_scale",
    "current_iterator_step", "last_overflow_iterator_step", "beta1_power", "beta2_power", "weight_decay",
    "updates", "ema_updates",
})
WRAPPER_PREFIX = "network."  # TrainOneStepCell-style wrappers; the zoo's ResNeXt loader strips it too

_MS_BN_LEAVES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
_TORCH_BN_LEAVES = {ms: torch for torch, ms in _MS_BN_LEAVES.items()}
_BN_COUNTER = "num_batches_tracked"
# BatchNorm modules of a torchvision/timm/mindzoo ResNet: the stem bn1, a block's bnK, a shortcut's second cell.
_BN_MODULE = re.compile(r"(^|\.)bn\d$|\.downsample\.1$")
_GROUP_CONV = re.compile(r"^(?P<prefix>.*\.conv2)\.convs\.(?P<group>\d+)\.weight$")
_SE_HINT = re.compile(r"(^|\.|_)se(_|\.)|conv1_\d")

Rule = Tuple[str, str]


def _rewrite(name: str, rules: Sequence[Rule]) -> str:
    for pattern, replacement in rules:
        name = re.sub(pattern, replacement, name)
    return name


# (pattern, replacement) rewrites, applied in order: source name -> mindzoo name, and back (for messages).
MINDCV_RULES: List[Rule] = [(r"\.down_sample\.", ".downsample."), (r"^classifier\.", "fc.")]
MINDCV_BACK: List[Rule] = [(r"\.downsample\.", ".down_sample."), (r"^fc\.", "classifier.")]
ZOO_RESNET_RULES: List[Rule] = [(r"\.down_sample_layer\.", ".downsample."), (r"^end_point\.", "fc."),
                                (r"^(layer\d+\.\d+)\.bn([12])d\.", r"\1.bn\2.")]
ZOO_RESNET_BACK: List[Rule] = [(r"\.downsample\.", ".down_sample_layer."), (r"^fc\.", "end_point.")]
ZOO_BASIC_BACK: List[Rule] = ZOO_RESNET_BACK + [(r"^(layer\d+\.\d+)\.bn([12])\.", r"\1.bn\2d.")]
ZOO_RESNEXT_RULES: List[Rule] = [(r"^backbone\.conv\.", "conv1."), (r"^backbone\.bn\.", "bn1."),
                                 (r"\.down_sample\.conv\.", ".downsample.0."), (r"\.down_sample\.bn\.", ".downsample.1."),
                                 (r"^backbone\.", ""), (r"^head\.fc\.", "fc.")]
ZOO_RESNEXT_BACK: List[Rule] = [(r"^conv1\.", "backbone.conv."), (r"^bn1\.", "backbone.bn."),
                                (r"\.downsample\.0\.", ".down_sample.conv."), (r"\.downsample\.1\.", ".down_sample.bn."),
                                (r"^(layer\d)", r"backbone.\1"), (r"^fc\.", "head.fc.")]

ZOO_RESNET50_VARIANT = ResNetVariant(conv_padding=SAME, pool_padding=SAME, bn_eps=1e-4, block_bn_eps=1e-4)
ZOO_RESNET18_VARIANT = ResNetVariant(bn_eps=1e-5, block_bn_eps=1e-4)
SAME_POOL_VARIANT = ResNetVariant(pool_padding=SAME)


def torch_to_ms_name(key: str) -> str:
    """A torchvision/timm key -> mindzoo name (BatchNorm leaves renamed; everything else is the same)."""
    prefix, _, leaf = key.rpartition(".")
    if prefix and leaf in _MS_BN_LEAVES and _BN_MODULE.search(prefix):
        return f"{prefix}.{_MS_BN_LEAVES[leaf]}"
    return key


def ms_to_torch_name(ms_name: str) -> str:
    """The torch state_dict key that feeds MindSpore parameter ``ms_name``."""
    prefix, _, leaf = ms_name.rpartition(".")
    torch_leaf = _TORCH_BN_LEAVES.get(leaf, leaf)
    return f"{prefix}.{torch_leaf}" if prefix else torch_leaf


def is_torch_file(path: Path) -> bool:
    return Path(path).suffix.lower() in TORCH_SUFFIXES


def is_training_state(key: str) -> bool:
    return key in TRAINING_STATE_KEYS or key.startswith(TRAINING_STATE_PREFIXES)


def _model_keys(keys: Sequence[str]) -> List[str]:
    return [k for k in keys if not is_training_state(k) and k != PRETRAINED_CFG_KEY]


def detect_checkpoint_format(path: Path, params: Optional[Mapping[str, Any]]) -> str:
    """Which zoo wrote ``path``: torch files by suffix, MindSpore checkpoints by their keys."""
    if params is None:
        return TORCHVISION
    if PRETRAINED_CFG_KEY in params:
        return MINDZOO
    keys = [k[len(WRAPPER_PREFIX):] if k.startswith(WRAPPER_PREFIX) else k for k in _model_keys(list(params))]
    if any(k.startswith(("backbone.", "head.", "end_point.")) or ".down_sample_layer." in k or ".bn1d." in k
           for k in keys):
        return MINDSPORE_MODELS
    if any(k.startswith("classifier.") or ".down_sample." in k for k in keys):
        return MINDCV
    if any(k.startswith("fc.") or ".downsample." in k for k in keys):
        return MINDZOO
    raise CheckpointError(f"cannot tell which model zoo wrote {path} (no classifier or shortcut keys among "
                          f"{len(keys)}); pass --src_format {{{','.join(SOURCE_FORMATS)}}}")


def _merge_group_convs(arrays: Dict[str, np.ndarray], where: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """``X.conv2.convs.<g>.weight`` (one conv per group, outputs concatenated) -> one grouped ``X.conv2.weight``.

    A grouped conv's weight is the per-group weights stacked along the output-channel axis, in group order.
    Returns the merged arrays and, for each merged key, the source key that names it in messages (group 0).
    """
    groups: Dict[str, Dict[int, np.ndarray]] = {}
    merged: Dict[str, np.ndarray] = {}
    named: Dict[str, str] = {}
    for key, value in arrays.items():
        match = _GROUP_CONV.match(key)
        if match:
            groups.setdefault(match["prefix"], {})[int(match["group"])] = value
        else:
            merged[key] = value
    for prefix, parts in groups.items():
        for g in range(max(parts) + 1):
            if g not in parts:
                raise CheckpointError(f"{where}: missing key '{prefix}.convs.{g}.weight' of a {max(parts) + 1}-group "
                                      f"conv (it has groups {sorted(parts)[:3]}...)")
            if np.shape(parts[g]) != np.shape(parts[0]):
                raise CheckpointError(f"{where}: key '{prefix}.convs.{g}.weight' has shape {tuple(np.shape(parts[g]))}, "
                                      f"group 0 has {tuple(np.shape(parts[0]))}")
        merged[f"{prefix}.weight"] = np.concatenate([parts[g] for g in range(len(parts))], axis=0)
        named[f"{prefix}.weight"] = f"{prefix}.convs.0.weight"
    return merged, named


class SourceWeights:
    """A foreign checkpoint, renamed to mindzoo's parameter names, with the network it needs.

    ``arrays`` maps mindzoo names to numpy arrays, ``origin`` each name to the source key it came from,
    ``back_rules`` rewrite a mindzoo name into the source's (None: torch naming); ``extras`` are carried into
    the checkpoint unchanged. :meth:`params_for` checks the arrays strictly against a network.
    """

    def __init__(self, path: str, fmt: str, arrays: Dict[str, np.ndarray], origin: Dict[str, str],
                 variant: ResNetVariant, back_rules: Optional[Sequence[Rule]] = None,
                 extras: Optional[Dict[str, np.ndarray]] = None) -> None:
        self.path = path
        self.format = fmt
        self.arrays = arrays
        self.origin = origin
        self.back_rules = back_rules
        self.extras = extras or {}
        backend = PIL if fmt in TORCH_FORMATS else OPENCV
        self.cfg = PretrainedCfg(variant=variant, data_config={"resize_backend": backend},
                                 source={"format": fmt, "file": Path(path).name})

    @property
    def num_classes(self) -> Optional[int]:
        weight = self.arrays.get("fc.weight")
        return None if weight is None else int(np.shape(weight)[0])

    def source_name(self, ms_name: str) -> str:
        """The key this format would use for mindzoo parameter ``ms_name``."""
        if self.back_rules is None:
            return ms_to_torch_name(ms_name)
        return _rewrite(ms_name, self.back_rules)

    def convert_command(self, arch: str = "") -> str:
        out = f"{Path(self.path).stem}_mindzoo.ckpt"
        return f"python -m mindzoo.convert --arch {arch or 'NAME'} --src {self.path} --out {out}"

    def _fit_classifier(self, net: Any, arrays: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The zoo's 1001-way ImageNet head for a 1000-class network: drop row 1000, the one no label uses."""
        weight = getattr(getattr(net, "fc", None), "weight", None)  # absent for a headless (num_classes=0) net
        if (self.format == MINDSPORE_MODELS and self.num_classes == ZOO_IMAGENET_CLASSES and weight is not None
                and weight.shape[0] == ZOO_IMAGENET_CLASSES - 1):
            logger.info("%s: dropped row %d of the %d-way classifier (no ImageNet label uses it)",
                        self.path, ZOO_IMAGENET_CLASSES - 1, ZOO_IMAGENET_CLASSES)
            return {**arrays, "fc.weight": arrays["fc.weight"][:-1], "fc.bias": arrays["fc.bias"][:-1]}
        return arrays

    def params_for(self, net: Any, arch: str = "") -> Dict[str, Any]:
        """mindzoo-named tensors for ``net`` (plus the pretrained_cfg entry); a one-line CheckpointError for the
        first unexpected key, missing key or wrong shape, named as the source names it."""
        import mindspore as ms

        arch = arch or "the network"
        arrays = self._fit_classifier(net, self.arrays)
        net_params = {p.name: p for p in net.get_parameters()}
        unexpected = [self.origin.get(k, k) for k in arrays if k not in net_params]
        if unexpected:
            squeeze_excite = [k for k in unexpected if _SE_HINT.search(k)]
            key = (squeeze_excite or unexpected)[0]
            hint = (" (an SE-ResNet? mindzoo's ResNet has no squeeze-excitation layers)" if squeeze_excite
                    else f" (is this a {arch} checkpoint?)")
            raise CheckpointError(f"{self.path}: unexpected key '{key}'{_more(len(unexpected))}, not a parameter "
                                  f"of {arch} in {self.format} layout{hint}")
        missing = [name for name in net_params if name not in arrays]
        if missing:
            raise CheckpointError(f"{self.path}: missing key '{self.source_name(missing[0])}'{_more(len(missing))}, "
                                  f"needed for {arch} parameter '{missing[0]}'")
        out: Dict[str, Any] = {}
        for name, param in net_params.items():
            array = arrays[name]
            if tuple(np.shape(array)) != tuple(param.shape):
                raise CheckpointError(f"{self.path}: key '{self.origin.get(name, name)}' has shape "
                                      f"{tuple(np.shape(array))}, {arch} expects {tuple(param.shape)} for '{name}'")
            out[name] = ms.Parameter(ms.Tensor(np.ascontiguousarray(array), dtype=param.dtype), name=name)
        for name, value in self.extras.items():
            out[name] = ms.Parameter(ms.Tensor(np.ascontiguousarray(value)), name=name)
        out.update(self.cfg.entry())
        return out


def _more(count: int) -> str:
    return f" (and {count - 1} more)" if count > 1 else ""


def _rename(arrays: Mapping[str, np.ndarray], rename: Callable[[str], str], where: str
            ) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    renamed: Dict[str, np.ndarray] = {}
    origin: Dict[str, str] = {}
    for key, value in arrays.items():
        name = rename(key)
        if name in renamed:
            raise CheckpointError(f"{where}: keys '{origin[name]}' and '{key}' both map to '{name}'")
        renamed[name], origin[name] = value, key
    return renamed, origin


def from_torch_state_dict(state_dict: Mapping[str, np.ndarray], where: str, fmt: str = TORCHVISION) -> SourceWeights:
    """A torchvision/timm state_dict as :class:`SourceWeights`; BN ``num_batches_tracked`` counters ride along
    as extras (under their torch names) so the weights can go back to PyTorch unchanged."""
    counters = {k: np.asarray(v) for k, v in state_dict.items()
                if k.rpartition(".")[2] == _BN_COUNTER and _BN_MODULE.search(k.rpartition(".")[0])}
    weights = {k: v for k, v in state_dict.items() if k not in counters}
    arrays, origin = _rename(weights, torch_to_ms_name, where)
    return SourceWeights(where, fmt, arrays, origin, ResNetVariant(), extras=counters)


def from_mindspore_params(params: Mapping[str, Any], where: str, fmt: str) -> SourceWeights:
    """A MindCV or mindspore/models checkpoint as :class:`SourceWeights` (training state dropped)."""
    arrays = strip_common_prefix({k: v.asnumpy() if hasattr(v, "asnumpy") else np.asarray(v)
                             for k, v in params.items() if not is_training_state(k)}, WRAPPER_PREFIX)
    if fmt == MINDCV:
        arrays, origin = _rename(arrays, lambda k: _rewrite(k, MINDCV_RULES), where)
        return SourceWeights(where, fmt, arrays, origin, SAME_POOL_VARIANT, MINDCV_BACK)
    if fmt != MINDSPORE_MODELS:
        raise UsageError(f"{where} is a MindSpore checkpoint; --src_format {fmt} reads torch files "
                         f"({', '.join(TORCH_SUFFIXES)}); use mindcv or mindspore_models")
    if any(k.startswith(("backbone.", "head.")) for k in arrays):
        arrays, named = _merge_group_convs(arrays, where)
        arrays, origin = _rename(arrays, lambda k: _rewrite(k, ZOO_RESNEXT_RULES), where)
        origin = {name: named.get(key, key) for name, key in origin.items()}
        return SourceWeights(where, fmt, arrays, origin, SAME_POOL_VARIANT, ZOO_RESNEXT_BACK)
    basic = any(".bn1d." in k for k in arrays)
    arrays, origin = _rename(arrays, lambda k: _rewrite(k, ZOO_RESNET_RULES), where)
    variant = ZOO_RESNET18_VARIANT if basic else ZOO_RESNET50_VARIANT
    return SourceWeights(where, fmt, arrays, origin, variant, ZOO_BASIC_BACK if basic else ZOO_RESNET_BACK)


def read_source(path: Path, fmt: str, params: Optional[Mapping[str, Any]] = None) -> SourceWeights:
    """Read a foreign checkpoint file in format ``fmt`` (``params``: its entries if already loaded)."""
    if fmt not in SOURCE_FORMATS:
        raise UsageError(f"unknown source format '{fmt}'; use one of {', '.join(SOURCE_FORMATS)}")
    where = str(path)
    if fmt in TORCH_FORMATS:
        if not is_torch_file(path):
            raise UsageError(f"--src_format {fmt} reads torch files ({', '.join(TORCH_SUFFIXES)}), not {path}")
        return from_torch_state_dict(load_torch_state_dict(path), where, fmt)
    if params is None:
        if is_torch_file(path):
            raise UsageError(f"{path} is a torch file; --src_format {fmt} reads MindSpore .ckpt files")
        from mindzoo.weights.files import read_checkpoint  # MindSpore: loaded only when a .ckpt is read

        params = read_checkpoint(path)
    return from_mindspore_params(params, where, fmt)


def convert_state_dict(
    state_dict: Mapping[str, np.ndarray], net: nn.Cell, source: str = "state_dict", arch: str = "the network"
) -> List[Dict[str, Any]]:
    """Map a torch ResNet state_dict onto ``net``'s parameters; return ``[{"name", "data"}]`` for saving.

    Raises a one-line ``CheckpointError`` for the first unexpected key, missing key, or shape mismatch,
    so a state_dict of another architecture never converts partially.
    """
    params = from_torch_state_dict(state_dict, source).params_for(net, arch)
    return [{"name": p.name, "data": params[p.name]} for p in net.get_parameters()]

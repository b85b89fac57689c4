"""Training under MindSpore's data parallelism (started by :func:`mindzoo.runtime.init_data_parallel`): the
gradients' AllReduce fusion, and keeping the ranks identical where data parallelism alone does not (initial
parameters, BatchNorm statistics).

Broadcasts are explicit ``ops.Broadcast`` from rank 0 (checked under msrun on CPU with mccl), not the
auto-parallel context's ``parameter_broadcast=True``: that one fires whenever any Cell compiles for the first
time, eval networks included, which would copy BatchNorm statistics at an arbitrary first evaluation.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Sequence

from mindzoo.errors import ConfigError

if TYPE_CHECKING:
    import mindspore as ms
    from mindspore import nn

#: The model zoo's ``all_reduce_fusion_config`` (mindspore/models official/cv/ResNet/config/
#: resnet{50,101,152}_imagenet2012_config.yaml): indices into the gradient list where a new fused AllReduce
#: group starts.
MODEL_ZOO_FUSION = {"resnet50": [85, 160], "resnet101": [80, 210, 313], "resnet152": [180, 313]}
#: Their gradient counts (stem 3 + 9 per bottleneck + 3 per stage's downsample + fc 2), to skip building the others.
MODEL_ZOO_GRADIENTS = {"resnet50": 161, "resnet101": 314, "resnet152": 467}
BN_STATISTICS = ("moving_mean", "moving_variance")


def set_all_reduce_fusion(split_indices: Sequence[int], num_gradients: int) -> None:
    """Apply the config's ``all_reduce_fusion_config`` (``[]``: MindSpore's default fusion).

    Call after :func:`mindzoo.runtime.init_data_parallel` and before the train step is built: ``nn.DistributedGradReducer``
    reads the split when it is constructed.
    """
    if not split_indices:
        return
    check_fusion_config(list(split_indices), num_gradients)
    import mindspore as ms

    ms.set_auto_parallel_context(all_reduce_fusion_config=list(split_indices))


def gradient_names(net: "nn.Cell") -> List[str]:
    """The names of ``net``'s gradients in all-reduce order (its trainable parameters, in order)."""
    return [p.name for p in net.trainable_params()]


def derive_all_reduce_fusion(net_name: str) -> List[int]:
    """The model zoo's fusion split for ``net_name``, derived from its gradient list.

    The split points are indices into the gradient list. A ResNeXt has exactly the gradient tensors of the ResNet
    of the same depth, in the same order (grouped convolutions change shapes, not the list), so the model zoo's
    split of that ResNet applies unchanged: resnext50_32x4d -> resnet50's, resnext101_* -> resnet101's,
    resnext152_64x4d -> resnet152's. ``[]`` (MindSpore's default) when no model-zoo ResNet has the same list.
    """
    from mindzoo.models import create_model

    names = gradient_names(create_model(net_name, num_classes=2))
    for reference, split in MODEL_ZOO_FUSION.items():
        if len(names) == MODEL_ZOO_GRADIENTS[reference]:
            same = reference == net_name or gradient_names(create_model(reference, num_classes=2)) == names
            return list(split) if same else []
    return []


class _BroadcastFromRank0:
    """Overwrite a fixed list of parameters with rank 0's values (one compiled ``ops.Broadcast`` graph)."""

    def __init__(self, params: Sequence["ms.Parameter"]) -> None:
        from mindspore import nn, ops

        class _Broadcast(nn.Cell):
            def __init__(self) -> None:
                super().__init__()
                self.broadcast = ops.Broadcast(0)

            def construct(self, *tensors):
                return self.broadcast(tensors)

        self.params = list(params)
        self.cell = _Broadcast()

    def __call__(self) -> None:
        if not self.params:
            return
        for param, value in zip(self.params, self.cell(*self.params)):
            param.set_data(value)


def broadcast_from_rank0(params: Iterable["ms.Parameter"]):
    """A callable that copies rank 0's values of ``params`` to every rank; call it on every rank alike."""
    return _BroadcastFromRank0(list(params))


def batchnorm_statistics(net: "nn.Cell") -> List["ms.Parameter"]:
    """BatchNorm moving means/variances: data parallelism averages gradients, not these, so ranks drift apart."""
    return [p for p in net.get_parameters() if p.name.endswith(BN_STATISTICS)]


def broadcast_ints(values: Sequence[int]) -> List[int]:
    """Rank 0's ``values`` on every rank (e.g. the checkpoint rank 0 resumes from)."""
    import mindspore as ms
    import numpy as np

    holder = ms.Parameter(ms.Tensor(np.asarray(values, dtype=np.int32)), name="broadcast_ints", requires_grad=False)
    broadcast_from_rank0([holder])()
    return [int(v) for v in holder.asnumpy()]


def parameter_digest(params: Iterable) -> str:
    """sha256 of parameters' names, dtypes, shapes and bytes, in name order.

    Data parallelism keeps every rank's trainable parameters bit-identical; train.py logs this digest on
    every rank at the end of training (trainable parameters, and all parameters with BatchNorm statistics),
    so a rank that diverged is visible in its train_rank<r>.log.
    """
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for param in sorted(params, key=lambda p: p.name):
        array = np.ascontiguousarray(param.asnumpy())
        digest.update(f"{param.name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def check_fusion_config(split_indices: list, num_gradients: int = 0) -> None:
    """``all_reduce_fusion_config``: strictly increasing positive gradient indices (below ``num_gradients`` if known)."""
    given = f"all_reduce_fusion_config {list(split_indices)}"
    if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in split_indices):
        raise ConfigError(f"{given} must list positive gradient indices, e.g. [85, 160] (resnet50)")
    if any(b <= a for a, b in zip(split_indices, split_indices[1:])):
        raise ConfigError(f"{given} must be strictly increasing")
    if num_gradients and split_indices and split_indices[-1] >= num_gradients:
        raise ConfigError(f"{given} splits at index {split_indices[-1]} but the network has {num_gradients} "
                          "gradients; use mindzoo.distributed.derive_all_reduce_fusion(net_name) or []")

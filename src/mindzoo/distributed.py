"""MindSpore's own data parallelism: one ``init()``, mean gradients, rank/size for sharding."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

from mindzoo.errors import MindzooError, first_line


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    group_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.group_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_data_parallel(run_distribute: bool) -> DistInfo:
    """``init()`` the collective backend (HCCL/NCCL/mccl, chosen by MindSpore) and set data parallel.

    Call after the device is set. With ``run_distribute=False`` this is a single process.
    """
    if not run_distribute:
        return DistInfo()
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init

    try:
        init()
    except Exception as exc:  # MindSpore's message is long; keep the first line and say how to launch
        raise MindzooError(
            f"run_distribute=True but the collective backend did not start ({first_line(exc)}); launch with "
            "scripts/run_distribute_train.sh (Ascend) or scripts/run_distribute_train_msrun.sh (msrun)"
        ) from None
    info = DistInfo(rank=get_rank(), group_size=get_group_size())
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(
        parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=info.group_size
    )
    os.environ.setdefault("RANK_ID", str(info.rank))
    return info


def parameter_digest(params: Iterable) -> str:
    """sha256 of parameters' names, dtypes, shapes and bytes, in name order.

    Data parallelism keeps every rank's trainable parameters bit-identical; train.py logs this digest on
    every rank at the end of training, so a rank that diverged is visible in its train_rank<r>.log.
    """
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for param in sorted(params, key=lambda p: p.name):
        array = np.ascontiguousarray(param.asnumpy())
        digest.update(f"{param.name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()

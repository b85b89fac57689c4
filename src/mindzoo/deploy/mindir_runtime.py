"""The MINDIR runner that the C++ harness embeds for ``.mindir`` on CPU (backend ``mindspore_python``).

``ascend310_infer/src/backend_mindspore_python.cc`` starts CPython inside the harness, imports this module and
calls :class:`MindirRunner`: MindSpore's own runtime through its Python API (``mindspore.load`` +
``nn.GraphCell`` in GRAPH mode, what eval.py's export check and a MindSpore deployment use), not MindSpore's C++
API, which no registry package of a current MindSpore provides (see ascend310_infer/README.md). The harness
keeps decoding, preprocessing, timing and result files; this module only turns one float32 NCHW buffer into the
model's first output.

Being inside ``mindzoo``, importing it sets ``ONEDNN_MAX_CPU_ISA`` before MindSpore loads (``mindzoo._onednn``).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from mindzoo.errors import MindzooError, UsageError, first_line
from mindzoo.deploy.harness_files import DTYPES
from mindzoo.deploy.runtimes import load_mindir, model_io

DTYPE_NAMES = {np.dtype(dtype): name for name, dtype in DTYPES.items()}  # the result dtypes postprocess.py reads


class MindirRunner:
    """One MINDIR on CPU: ``predict`` takes a float32 NCHW buffer and returns (bytes, shape, dtype name)."""

    def __init__(self, path: str, device_type: str, device_id: int, threads: int) -> None:
        """The harness's Backend::Load arguments; ``device_id`` means nothing on CPU, ``threads`` 0 = default."""
        import mindspore as ms

        if device_type != "CPU":
            raise UsageError(f"the mindspore_python backend runs MINDIR on CPU only, got --device_type {device_type} "
                             f"(Atlas hosts use the MindSpore C++ API backend: build.sh mindspore)")
        ms.set_device("CPU")
        ms.set_context(mode=ms.GRAPH_MODE)
        if threads > 0:
            ms.set_context(runtime_num_threads=int(threads))
        self.graph = load_mindir(path)
        self.input_shape = [int(d) for d in model_io(path, "MINDIR")[0][1]]
        self.description = (f"MindSpore {ms.__version__} runtime through its Python API (mindspore.load + "
                            f"nn.GraphCell), not the C++ API")

    def predict(self, data: memoryview, shape: Sequence[int]) -> Tuple[bytes, List[int], str]:
        from mindspore import Tensor

        x = np.frombuffer(data, dtype=np.float32).reshape(tuple(shape))
        try:
            out = self.graph(Tensor(x))
        except (RuntimeError, ValueError, TypeError) as exc:
            raise MindzooError(f"MINDIR predict on input {list(shape)} failed: {first_line(exc)}") from None
        first = out[0] if isinstance(out, (tuple, list)) else out
        result = np.ascontiguousarray(first.asnumpy())
        if result.dtype not in DTYPE_NAMES:
            raise MindzooError(f"unsupported output dtype {result.dtype} (the harness writes float32/16/64)")
        return result.tobytes(), [int(d) for d in result.shape], DTYPE_NAMES[result.dtype]

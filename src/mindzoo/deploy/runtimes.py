"""The runtimes a deployment uses for an exported file, as export's check and infer.py use them.

MINDIR: ``mindspore.load`` + ``nn.GraphCell`` (MindSpore's own runtime through its Python API); ONNX: ``onnx.checker``
then an ONNX Runtime CPU session. Every failure is one line naming the file. :func:`model_io` reads the declared
input and output of either file without running it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

import numpy as np

from mindzoo.errors import MindzooError, first_line

PathLike = Union[str, Path]


def load_mindir(path: PathLike, label: Optional[str] = None) -> Any:
    """Load a MINDIR file the way a MindSpore deployment does: ``mindspore.load`` + ``nn.GraphCell``."""
    import mindspore as ms
    from mindspore import nn

    try:
        return nn.GraphCell(ms.load(str(path)))
    except (RuntimeError, ValueError, TypeError) as exc:
        raise MindzooError(f"cannot load exported MINDIR {label or path}: {first_line(exc)}") from None


def run_mindir(graph: Any, x: np.ndarray, label: str = "MINDIR") -> np.ndarray:
    from mindspore import Tensor

    try:
        return graph(Tensor(x)).asnumpy()
    except (RuntimeError, ValueError, TypeError) as exc:
        raise MindzooError(f"cannot run {label} on input {list(x.shape)}: {first_line(exc)}") from None


def onnx_session(path: PathLike, label: Optional[str] = None) -> Any:
    """``onnx.checker`` then an ONNX Runtime CPU session; one-line errors for a broken file."""
    import onnx
    import onnxruntime as ort

    try:
        onnx.checker.check_model(str(path))
    except (onnx.checker.ValidationError, OSError) as exc:
        raise MindzooError(f"exported ONNX {label or path} fails onnx.checker: {first_line(exc)}") from None
    try:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
        raise MindzooError(f"ONNX Runtime cannot load {label or path}: {first_line(exc)}") from None


def run_onnx(session: Any, x: np.ndarray, label: str = "ONNX") -> np.ndarray:
    name = session.get_inputs()[0].name
    try:
        return np.asarray(session.run(None, {name: x})[0])
    except Exception as exc:  # onnxruntime's Fail / InvalidArgument types
        raise MindzooError(f"cannot run {label} on input {list(x.shape)}: {first_line(exc)}") from None


def model_io(path: PathLike, file_format: str) -> Tuple[Tuple[str, List[int]], Tuple[str, List[int]]]:
    """((input name, shape), (output name, shape)) as declared in the file; -1 marks a dynamic dim."""
    if file_format == "ONNX":
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph

        def dims(value: Any) -> List[int]:
            return [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]

        return (graph.input[0].name, dims(graph.input[0])), (graph.output[0].name, dims(graph.output[0]))
    if file_format == "MINDIR":
        from mindspore.train import mind_ir_pb2

        model = mind_ir_pb2.ModelProto()
        model.ParseFromString(Path(path).read_bytes())
        inp, out = model.graph.input[0], model.graph.output[0]
        return (inp.name, list(inp.tensor[0].dims)), (out.name, list(out.tensor[0].dims))
    raise MindzooError(f"cannot read the inputs of a {file_format} file")

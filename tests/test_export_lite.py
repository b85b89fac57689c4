"""MindSpore Lite export's pieces and failures (mindzoo.export.lite, ascend310_infer's convert_lite/predict_tensor).

The tools are built once (``build.sh mindspore_lite``: incremental, the mindspore-lite 2.0.0 wheel fetched once
into ~/.cache/mindzoo/); the tests skip only when that wheel is not cached and PyPI is unreachable. The export
end to end (export.py -> run_infer_310.sh -> acc.log = eval.py's) is in tests/test_infer_mindir.py. Here:
- the file and sidecar names of a MINDIR_LITE export, and its CPU-only refusal;
- a tiny network converted and run through MindSpore's C++ API equals the network;
- each failure is one line: the converter refusing an op (naming it and MindSpore Lite's reason), a model the
  C++ API refuses, the wheel that cannot be downloaded.
"""
import os
from pathlib import Path

import numpy as np
import pytest

from helpers import on_package_index

from mindzoo.errors import MindzooError, UsageError

LITE_CACHE = Path(os.environ.get("MINDZOO_CACHE") or Path.home() / ".cache" / "mindzoo") / "mindspore-lite-2.0.0"



@pytest.fixture(scope="module")
def lite_tools():
    from mindzoo.export.lite import build_lite_tools

    if not (LITE_CACHE / "include" / "api" / "model.h").is_file() and not on_package_index("mindspore-lite"):
        pytest.skip("PyPI is unreachable: cannot fetch mindspore-lite==2.0.0 (MindSpore Lite's converter and C++ API)")
    return build_lite_tools()


def test_lite_export_has_its_own_file_and_sidecar_names():
    from mindzoo.deploy.sidecar import sidecar_path
    from mindzoo.export.exporter import resolve_output_path

    for name in ("resnet50", "resnet50_lite.mindir"):
        path = resolve_output_path(name, "MINDIR_LITE", "resnet50")
        assert (path.name, sidecar_path(path).name) == ("resnet50_lite.mindir", "resnet50_lite.json")
    assert sidecar_path(resolve_output_path("resnet50", "MINDIR", "resnet50")).name == "resnet50.json"


def test_lite_export_is_cpu_only():
    from mindzoo.export.exporter import check_format_supported, normalize_format

    assert normalize_format("mindir_lite") == "MINDIR_LITE"
    with pytest.raises(UsageError, match="--device_target=CPU"):
        check_format_supported("MINDIR_LITE", "Ascend")


def test_tiny_network_through_the_cpp_api_equals_the_network(lite_tools, tmp_path):
    import mindspore as ms

    import mindzoo
    from mindzoo.data.geometry import resolve_eval_geometry
    from mindzoo.export.lite import export_lite, predict_tensor
    from mindzoo.export.verify import relative_error

    net = mindzoo.create_model("resnet18", num_classes=4)
    net.set_train(False)
    geometry = resolve_eval_geometry(net.data_config, eval_image_size=32)
    result = export_lite(net, tmp_path / "tiny_lite.mindir", 1, geometry, net_name="resnet18", tools=lite_tools)
    assert result.max_error is not None and result.max_error <= 1e-4
    x = np.random.default_rng(5).standard_normal((1, 3, 32, 32)).astype(np.float32)
    prediction = predict_tensor(lite_tools.predict, result.path, x, repeat=2)
    assert prediction.backend.startswith("mindspore: MindSpore C++ API (MindSpore Lite 2.0.0")
    assert prediction.calls == 2 and prediction.median_ms > 0
    assert relative_error(prediction.logits, net(ms.Tensor(x)).asnumpy()) <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny_lite.json", "tiny_lite.mindir"]


def _dilated_maxpool_onnx(path: Path) -> None:
    """PyTorch exports its MaxPool with dilations=[1,1], which MindSpore Lite 2.0.0's ONNX parser refuses."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("MaxPool", ["image"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                            dilations=[1, 1])
    graph = helper.make_graph([node], "pool", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    onnx.save(model, str(path))


def test_converter_refusal_is_one_line_naming_the_op(lite_tools, tmp_path):
    from mindzoo.export.lite import convert_onnx

    onnx = tmp_path / "pool.onnx"
    _dilated_maxpool_onnx(onnx)
    with pytest.raises(MindzooError) as raised:
        convert_onnx(lite_tools, onnx, tmp_path / "pool_lite.mindir")
    message = str(raised.value)
    assert message == f"MindSpore Lite's converter refused {onnx} at op MaxPool: pooling op not support dilations now"
    assert not (tmp_path / "pool_lite.mindir").exists()


def test_a_model_the_cpp_api_refuses_is_one_line(lite_tools, tmp_path):
    from mindzoo.export.lite import predict_tensor

    model = tmp_path / "broken_lite.mindir"
    model.write_bytes(b"not a model")
    with pytest.raises(MindzooError) as raised:
        predict_tensor(lite_tools.predict, model, np.zeros((1, 3, 8, 8), np.float32))
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"cannot load model {model} with the mindspore backend on CPU: ")


def test_a_wheel_that_cannot_be_downloaded_is_one_line(tmp_path, monkeypatch):
    """No registry (pip told to use no index) and nothing cached: the build stops with fetch_deps' one line."""
    from mindzoo.export.lite import build_lite_tools

    monkeypatch.setenv("MINDZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("MINDSPORE_PATH", raising=False)
    with pytest.raises(MindzooError) as raised:
        build_lite_tools(tmp_path / "build")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("cannot build the MindSpore Lite tools (build.sh mindspore_lite, exit 2): "
                              "fetch_deps.py: error: pip download mindspore-lite==2.0.0 failed"), message
    assert "is PyPI reachable?" in message

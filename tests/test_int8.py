"""export.py --quantize=int8: a really quantized ONNX that the C++ harness and infer.py run, agreeing with fp32.

A resnet18 trained 2 epochs by train.py on the train/eval tests' tiny quadrant images (4 classes, 32 px) is
exported fp32 and INT8 in-process; run_infer_310.sh runs the INT8 file from its own sidecar and writes acc.log.
The usage errors are one line, exit 2, before any network is built.
"""
import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from helpers import REPO, make_image_folder, run
from mindzoo.cli import export as export_cli
from mindzoo.cli.common import run_cli
from mindzoo.data import preprocess_image, resolve_eval_geometry
from mindzoo.errors import MindzooError
from mindzoo.export.quantize import (
    QuantizeRequest,
    check_agreement,
    draw_images,
    interleave_classes,
    quantized_ops,
)
from mindzoo.data.layout import list_images
from mindzoo.deploy.harness_files import load_results

SIZE = 32
NUM_CLASSES = 4
TRAIN = ["--net_name=resnet18", f"--num_classes={NUM_CLASSES}", f"--train_image_size={SIZE}",
         f"--eval_image_size={SIZE}", "--batch_size=4", "--lr=0.4", "--warmup_epochs=1", "--num_parallel_workers=1",
         "--run_eval=False", "--epoch_size=2"]
NET = ["--net_name=resnet18", f"--num_classes={NUM_CLASSES}", f"--eval_image_size={SIZE}"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """train.py's tiny run (tests/test_train_eval.py's data: 4 classes x 12 train, x 5 val) and its last checkpoint."""
    root = tmp_path_factory.mktemp("int8")
    data = make_image_folder(root / "data", {"train": {f"c{k}": 12 for k in range(4)},
                                             "val": {f"c{k}": 5 for k in range(4)}})
    out = root / "run"
    proc = run("train.py", [f"--data_path={data}", *TRAIN, f"--output_dir={out}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = sorted((out / "checkpoints").glob("resnet18-2_*.ckpt"))[-1]
    return {"root": root, "data": data, "ckpt": ckpt}


def _export(trained: dict, *extra: str):
    argv = [*NET, f"--ckpt_file={trained['ckpt']}", f"--output_dir={trained['root']}", "--file_format=ONNX", *extra]
    return export_cli.run_export(argv, set_context=False)


@pytest.fixture(scope="module")
def exported(trained) -> dict:
    fp32 = _export(trained, "--file_name=fp32")
    int8 = _export(trained, "--quantize=int8", f"--calib_data={trained['data']}", "--calib_images=16",
                   "--int8_verify_images=20")
    return {**trained, "fp32": fp32.path, "int8": int8.path, "result": int8}


def _fp32_top1(exported: dict, paths: list) -> np.ndarray:
    geometry = resolve_eval_geometry(_data_config(), SIZE)
    session = ort.InferenceSession(str(exported["fp32"]), providers=["CPUExecutionProvider"])
    batch = np.stack([preprocess_image(p, geometry) for p in paths])
    return np.concatenate([session.run(None, {"image": x[None]})[0] for x in batch]).argmax(axis=1)


def _data_config():
    from mindzoo.models import create_model

    return create_model("resnet18", num_classes=NUM_CLASSES).data_config


def test_int8_file_is_quantized_with_its_own_sidecar(exported):
    path = exported["int8"]
    assert path.name == "resnet18_int8.onnx"  # the default name gets the _int8 suffix
    model = onnx.load(str(path))
    assert [op.version for op in model.opset_import if op.domain in ("", "ai.onnx")] == [13]
    ops = quantized_ops(path)
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0
    assert ops["int8_initializers"] >= 20  # every conv's and the classifier's weights
    conv_weights = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 4]
    assert conv_weights and all(len(onnx.numpy_helper.to_array(w).shape) == 4 for w in conv_weights)
    assert path.stat().st_size < 0.4 * exported["fp32"].stat().st_size

    side = json.loads(path.with_suffix(".json").read_text())
    fp32_side = json.loads(exported["fp32"].with_suffix(".json").read_text())
    assert side["model_file"] == path.name and fp32_side["model_file"] == "fp32.onnx"
    assert "quantization" not in fp32_side
    assert side["preprocess"] == fp32_side["preprocess"] and side["fold_bn"]["folded"] > 0
    q = side["quantization"]
    assert (q["format"], q["per_channel"], q["calib_method"], q["calib_images"]) == ("QDQ", True, "minmax", 16)
    assert q["calib_data"] == str(exported["data"] / "train")  # an ImageNet root calibrates from train/
    check = q["verify_int8"]
    assert check["images"] == 20 and check["top1_agreement"] >= 0.95
    assert check["top1_agreement"] == exported["result"].agreement and check["max_relative_error"] < 0.5


def test_calibration_draw_is_deterministic_balanced_and_disjoint(trained):
    request = QuantizeRequest(trained["data"] / "train", 8, "minmax", 100, 0.95)
    calibration, held_out = draw_images(request)
    assert (calibration, held_out) == draw_images(request)
    assert [p.parent.name for p in calibration] == ["c0", "c1", "c2", "c3"] * 2
    assert len(held_out) == 40 and not set(calibration) & set(held_out)
    entries = list_images(str(trained["data"] / "train"))
    assert sorted(e.rel_path for e in interleave_classes(entries)) == sorted(e.rel_path for e in entries)


def test_cpp_harness_runs_the_int8_export_from_its_sidecar(exported, tmp_path):
    val = exported["data"] / "val"
    proc = subprocess.run(["bash", str(REPO / "scripts/run_infer_310.sh"), str(exported["int8"]), str(val)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"resize {int(SIZE / 0.875)}, crop {SIZE} (sidecar)" in proc.stdout
    assert (tmp_path / "acc.log").read_text().startswith("Total data: 20, top1 accuracy: ")
    results, _, _ = load_results(str(tmp_path / "result_Files"))
    entries = list_images(str(val))
    cpp_top1 = np.array([results[e.key].argmax() for e in entries])
    fp32_top1 = _fp32_top1(exported, [val / e.rel_path for e in entries])
    assert np.mean(cpp_top1 == fp32_top1) >= 0.95


def test_infer_py_classifies_with_the_int8_export(exported):
    from mindzoo.cli.infer import build_parser, classify

    images = sorted(str(p) for p in (exported["data"] / "val").glob("*/*.jpg"))[::3]
    args = build_parser().parse_args([*images, f"--pretrained={exported['int8']}"])
    top1 = np.array([result["topk"][0]["index"] for result in classify(args)])
    assert np.mean(top1 == _fp32_top1(exported, images)) >= 0.85


def test_low_agreement_is_an_error_naming_the_numbers_and_what_to_try():
    request = QuantizeRequest(Path("calib"), 50, "minmax", 100, 0.95)
    check = {"images": 100, "top1_agreement": 0.9, "max_relative_error": 0.31}
    with pytest.raises(MindzooError) as err:
        check_agreement(check, request, "m_int8.onnx")
    message = str(err.value)
    assert err.value.exit_code == 1 and "\n" not in message
    for part in ("90.0% of 100 held-out images", "< 95%", "0.31", "--calib_images, now 50", "entropy, percentile"):
        assert part in message
    check_agreement({**check, "top1_agreement": 0.95}, request, "m_int8.onnx")


@pytest.mark.parametrize("extra,message", [
    (["--file_format=MINDIR"], "--quantize=int8 does not write MINDIR: INT8 here is ONNX Runtime's static "
                               "quantization: use --file_format=ONNX; an INT8 model for Ascend comes from AMCT"),
    ([], "--quantize=int8 needs calibration images: --calib_data=DIR"),
    (["--calib_data={root}/nowhere"], "calib_data {root}/nowhere is not a directory"),
    (["--calib_data={root}/empty"], "no images (.jpeg .jpg .png .bmp) in calib_data {root}/empty"),
    (["--calib_data={root}/data", "--calib_images=49"], "calib_data {root}/data/train has 48 images, fewer than "
                                                         "calib_images=49: lower --calib_images or add images"),
    (["--calib_data={root}/data/val", "--calib_images=20"], "leaving none held out"),
    (["--calib_data={root}/data", "--calib_images=16", "--file_name=fp32"],
     "fp32.json is the sidecar of the float export fp32.onnx"),
    (["--calib_data={root}/data", "--calib_method=kl"], "calib_method must be one of minmax, entropy, percentile"),
])
def test_usage_errors_are_one_line_exit_2(exported, capsys, extra, message):
    root = exported["root"]
    (root / "empty" / "class_a").mkdir(parents=True, exist_ok=True)
    argv = [*NET, f"--ckpt_file={exported['ckpt']}", f"--output_dir={root}", "--file_format=ONNX",
            "--quantize=int8", *[arg.format(root=root) for arg in extra]]
    capsys.readouterr()
    assert run_cli(lambda a: export_cli.run_export(a, set_context=False), argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message.format(root=root) in err, err


def test_float_export_refuses_the_int8_sidecar(exported, capsys):
    argv = [*NET, f"--ckpt_file={exported['ckpt']}", f"--output_dir={exported['root']}", "--file_format=MINDIR",
            "--file_name=resnet18_int8"]
    capsys.readouterr()
    assert run_cli(lambda a: export_cli.run_export(a, set_context=False), argv) == 2
    assert "is the sidecar of the INT8 export resnet18_int8.onnx" in capsys.readouterr().err


def test_cpu_int8_features_are_in_the_bench_json():
    from bench import cpu

    zen4 = cpu.parse_cpuinfo("processor: 0\nvendor_id: AuthenticAMD\nmodel name: AMD EPYC\n"
                             "flags: avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert zen4.to_json()["int8_features"] == {"avx512_vnni": True, "avx_vnni": False, "amx_int8": False}
    assert "AVX512_VNNI" in zen4.describe_int8()

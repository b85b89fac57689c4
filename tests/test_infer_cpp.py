"""The C++ deployment harness (ascend310_infer, ONNX Runtime backend) against MindSpore's eval preprocessing.

Builds the harness once per session with ascend310_infer/src/build.sh (incremental; the first build also
fetches the ONNX Runtime headers from the npm registry into ~/.cache/mindzoo/, without Node.js), then checks on
a small image folder made here (JPEG of many shapes, grayscale, CMYK, EXIF-rotated, PNG, BMP) that:
- its preprocessed tensors equal mindspore.dataset.vision Decode/Resize/CenterCrop/Normalize/HWC2CHW,
  for the 224 and FixRes 384 sizes and small ones;
- its logits equal onnxruntime-from-Python on those tensors (top-1 agreement and max abs diff);
- meta.json, the timing file, the result names and the label file fit together;
- --warmup calls are untimed and change no result;
- scripts/run_infer_310.sh runs build -> inference -> labels -> postprocess and writes acc.log;
- the header fetch is verified: a changed header or a tarball that does not match the registry's integrity
  fails with one line.
The sidecar-driven runs of run_infer_310.sh are in tests/test_infer_sidecar.py, the MINDIR backends in
tests/test_infer_mindir.py.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
BUILD_SH = REPO / "ascend310_infer" / "src" / "build.sh"
FETCH_DEPS = REPO / "ascend310_infer" / "src" / "fetch_deps.py"
RUN_INFER = REPO / "scripts" / "run_infer_310.sh"
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
NUM_CLASSES = 10
INPUT = 64  # the ResNet18 test export's input size; FixRes-style eval sizes: resize 73 = int(64 / 0.875)
SIZES = ("--resize", "73", "--crop", str(INPUT))


def _layout():
    from mindzoo.data import layout

    return layout


@pytest.fixture(scope="session")
def harness() -> Path:
    proc = subprocess.run(["bash", str(BUILD_SH), "onnxruntime"], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"build.sh failed with {proc.returncode}:\n{proc.stderr[-4000:]}"
    binary = Path(proc.stdout.strip().splitlines()[-1])
    assert binary.is_file() and os.access(binary, os.X_OK), binary
    return binary


def _image(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    smooth = 0.5 + 0.5 * np.sin((5 + seed % 7) * x * (1 + y) + (3 + seed % 5) * y + np.arange(3) * 1.2)
    return (255 * np.clip(smooth + rng.normal(0, 0.08, (height, width, 3)), 0, 1)).astype(np.uint8)


def _make_dataset(root: Path) -> Path:
    """DIR/val/<class>/<image>: 3 classes, 18 images, every decoder path eval.py meets."""
    from PIL import Image

    val = root / "val"
    spec = {
        "n01_cat": [("a0.JPEG", 500, 375, "jpeg"), ("a1.JPEG", 375, 500, "jpeg"), ("a2.JPEG", 97, 61, "jpeg"),
                    ("a3.JPEG", 120, 90, "gray"), ("a4.png", 80, 100, "png"), ("a5.JPEG", 150, 100, "exif"),
                    ("dup.JPEG", 100, 100, "jpeg")],
        "n02_dog": [("b0.JPEG", 333, 500, "jpeg"), ("b1.jpg", 271, 301, "jpeg"), ("b2.JPEG", 200, 150, "cmyk"),
                    ("dup.JPEG", 90, 120, "jpeg"), ("b4.bmp", 64, 80, "bmp")],
        "n03_emu": [("c0.JPEG", 640, 427, "jpeg"), ("c1.JPEG", 99, 98, "jpeg"), ("c2.JPEG", 61, 97, "jpeg"),
                    ("c3.JPEG", 70, 30, "jpeg"), ("c4.JPEG", 50, 40, "jpeg"), ("c5.png", 64, 64, "png")],
    }
    seed = 0
    for class_name, images in spec.items():
        folder = val / class_name
        folder.mkdir(parents=True)
        (folder / "notes.txt").write_text("not an image\n")
        for name, width, height, kind in images:
            seed += 1
            image = Image.fromarray(_image(width, height, seed))
            path = folder / name
            if kind == "gray":
                image.convert("L").save(path, format="JPEG", quality=90)
            elif kind == "cmyk":
                image.convert("CMYK").save(path, format="JPEG", quality=90)
            elif kind == "exif":  # orientation tag: MindSpore's Decode ignores it, so must the harness
                exif = image.getexif()
                exif[0x0112] = 6
                image.save(path, format="JPEG", quality=92, exif=exif)
            elif kind == "png":
                image.save(path, format="PNG")
            elif kind == "bmp":
                image.save(path, format="BMP")
            else:
                image.save(path, format="JPEG", quality=80 + seed % 15)
    (val / "n01_cat" / ".hidden.JPEG").write_bytes(b"skipped: hidden")
    return val


def _make_gap_onnx(path: Path) -> None:
    """[1,3,H,W] (any H, W) -> per-channel mean [1,3]: a model for checking preprocessing at any size."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["image"], ["pooled"]), helper.make_node("Flatten", ["pooled"], ["y"])],
        "gap", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> dict:
    import mindspore as ms

    import mindzoo

    root = tmp_path_factory.mktemp("infer_cpp")
    val = _make_dataset(root)
    gap = root / "gap.onnx"
    _make_gap_onnx(gap)
    net = mindzoo.create_model("resnet18", num_classes=NUM_CLASSES)
    net.set_train(False)
    r18 = root / "r18.onnx"
    ms.onnx.export(net, ms.Tensor(np.zeros((1, 3, INPUT, INPUT), np.float32)), file_name=str(r18))
    return {"root": root, "val": val, "gap": gap, "r18": r18}


def _ms_preprocess(path: Path, resize: int, crop: int) -> np.ndarray:
    """eval.py's pipeline with MindSpore's own ops: the reference the harness must reproduce."""
    import mindspore.dataset.vision as vision

    image = vision.Decode()(np.fromfile(str(path), np.uint8))
    image = vision.Resize(resize)(image)
    image = vision.CenterCrop(crop)(image)
    image = vision.Normalize(mean=MEAN, std=STD)(image)
    return vision.HWC2CHW()(image)


def _run(binary: Path, model: Path, data: Path, out: Path, *extra: str, check: bool = True):
    proc = subprocess.run([str(binary), "--model_path", str(model), "--dataset_path", str(data),
                           "--output_dir", str(out), *extra], capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, f"harness failed ({proc.returncode}): {proc.stderr}\n{proc.stdout[-2000:]}"
    return proc


def test_help(harness):
    proc = subprocess.run([str(harness), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for flag in ("--model_path", "--dataset_path", "--device_type", "--device_id", "--resize", "--crop"):
        assert flag in proc.stdout


@pytest.mark.parametrize("resize,crop", [(256, 224), (438, 384), (73, 64), (50, 64)])
def test_preprocessing_matches_mindspore(harness, workdir, tmp_path, resize, crop):
    """Dumped input tensors == MindSpore Decode/Resize/CenterCrop/Normalize/HWC2CHW (50 < 64: zero padding)."""
    dump = tmp_path / "dump"
    _run(harness, workdir["gap"], workdir["val"], tmp_path, "--resize", str(resize), "--crop", str(crop),
         "--dump_input", str(dump))
    entries = _layout().list_images(str(workdir["val"]))
    assert len(entries) == 18
    worst = 0.0
    for entry in entries:
        reference = _ms_preprocess(workdir["val"] / entry.rel_path, resize, crop)
        got = np.fromfile(dump / f"{entry.key}.bin", np.float32)
        assert got.size == 3 * crop * crop, entry.rel_path
        got = got.reshape(reference.shape)
        diff = float(np.abs(got - reference).max())
        assert diff <= 1e-5, f"{entry.rel_path}: preprocessing differs from MindSpore by {diff}"
        worst = max(worst, diff)
        # The GAP model's logits are the channel means of that same input.
        logits = np.fromfile(tmp_path / "result_Files" / f"{entry.key}_0.bin", np.float32)
        np.testing.assert_allclose(logits, reference.mean(axis=(1, 2)), atol=1e-4)
    print(f"resize {resize} crop {crop}: max |C++ - MindSpore| preprocessing = {worst}")


def test_logits_match_onnxruntime_python(harness, workdir, tmp_path):
    import onnxruntime as ort

    proc = _run(harness, workdir["r18"], workdir["val"], tmp_path, "--resize", "73", "--crop", str(INPUT))
    session = ort.InferenceSession(str(workdir["r18"]), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    entries = _layout().list_images(str(workdir["val"]))
    agree, worst = 0, 0.0
    for entry in entries:
        x = _ms_preprocess(workdir["val"] / entry.rel_path, 73, INPUT)[None]
        reference = session.run(None, {input_name: x})[0].reshape(-1)
        got = np.fromfile(tmp_path / "result_Files" / f"{entry.key}_0.bin", np.float32)
        assert got.shape == (NUM_CLASSES,)
        agree += int(got.argmax() == reference.argmax())
        worst = max(worst, float(np.abs(got - reference).max()))
    agreement = agree / len(entries)
    print(f"C++ vs Python onnxruntime: top-1 agreement {agreement:.4f}, max abs diff {worst:.3g}")
    assert agreement >= 0.995
    assert worst <= 1e-4

    meta = json.loads((tmp_path / "result_Files" / "meta.json").read_text())
    assert meta["dtype"] == "float32" and meta["shape"] == [1, NUM_CLASSES] and meta["count"] == len(entries)
    assert (meta["resize"], meta["crop"], meta["backend"], meta["device_type"]) == (73, INPUT, "onnxruntime", "CPU")
    assert [(f["result"], f["image"], f["label"]) for f in meta["files"]] == \
        [(f"{e.key}_0.bin", e.rel_path, e.label) for e in entries]
    timing = (tmp_path / "time_Result" / "test_perform_static.txt").read_text()
    assert re.search(rf"^NN inference cost average time: [0-9.e+-]+ ms of infer_count {len(entries)}$", timing, re.M)
    assert re.search(rf"^NN inference cost median time: [0-9.e+-]+ ms of infer_count {len(entries)}$", timing, re.M)
    assert re.search(r"^warmup calls: 0$", timing, re.M)
    assert "predicted 18/18" in proc.stdout


def test_result_names_and_label_file_agree(harness, workdir, tmp_path):
    """Colliding stems (dup.JPEG in two classes) get <class>@<file>; the label file maps every result."""
    _run(harness, workdir["gap"], workdir["val"], tmp_path, "--resize", "73", "--crop", str(INPUT))
    names = sorted(p.name for p in (tmp_path / "result_Files").glob("*.bin"))
    assert "n01_cat@dup.JPEG_0.bin" in names and "n02_dog@dup.JPEG_0.bin" in names and "a0_0.bin" in names
    assert len(names) == 18  # notes.txt and the hidden file are not images
    label_file = tmp_path / "labels.json"
    subprocess.run([sys.executable, str(REPO / "create_imagenet2012_label.py"), "--img_path", str(workdir["val"]),
                    "--output", str(label_file)], check=True, capture_output=True, timeout=120)
    labels = json.loads(label_file.read_text())
    assert sorted(f"{key}_0.bin" for key in labels) == names
    assert labels["a0"] == 0 and labels["b1"] == 1 and labels["c5"] == 2 and labels["n02_dog@dup.JPEG"] == 1


def test_stale_results_are_removed_and_flat_folder_works(harness, workdir, tmp_path):
    stale = tmp_path / "result_Files" / "old_image_0.bin"
    stale.parent.mkdir()
    stale.write_bytes(b"\0" * 12)
    flat = workdir["val"] / "n03_emu"  # no subfolders: a flat folder of images, labels unknown
    _run(harness, workdir["gap"], flat, tmp_path, "--resize", "73", "--crop", str(INPUT))
    assert not stale.exists()
    meta = json.loads((tmp_path / "result_Files" / "meta.json").read_text())
    assert meta["count"] == 6 and {f["label"] for f in meta["files"]} == {-1}


def test_usage_errors_exit_2(harness, workdir, tmp_path):
    r18, val = ["--model_path", str(workdir["r18"])], ["--dataset_path", str(workdir["val"])]
    cases = [
        (["--model_path", str(tmp_path / "missing.onnx"), *val, *SIZES], "model file not found"),
        ([*r18, "--dataset_path", str(tmp_path / "nope"), *SIZES], "not a directory"),
        ([*r18, *val, *SIZES, "--bogus", "1"], "unknown flag"),
        ([*r18, *val, "--resize", "73", "--crop", "0"], "--crop"),
        ([*r18, *val, *SIZES, "--device_type", "Ascend310"], "CPU only"),
        # no built-in sizes: a forgotten --resize/--crop is an error, not a silent 256/224
        ([*r18, *val], "--crop is required"),
        ([*r18, *val, "--crop", "64"], "--resize is required"),
        # the export takes 64x64: a 224 crop cannot be fed to it
        ([*r18, *val, "--resize", "256", "--crop", "224", "--output_dir", str(tmp_path)],
         "does not take a batch-1 image"),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    cases.append((["--model_path", str(workdir["gap"]), "--dataset_path", str(empty), *SIZES], "no images"))
    for args, message in cases:
        proc = subprocess.run([str(harness), *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("value", ["-1", "x"])
def test_warmup_must_be_a_non_negative_integer(harness, workdir, tmp_path, value):
    proc = _run(harness, workdir["gap"], workdir["val"], tmp_path, *SIZES, "--warmup", value, check=False)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "--warmup" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "result_Files").exists()


def test_warmup_is_untimed_and_changes_no_result(harness, workdir, tmp_path):
    """--warmup 2 writes the same result files, bit for bit, as --warmup 0 and times only one call per image."""
    n = len(_layout().list_images(str(workdir["val"])))
    results = {}
    for warmup in (0, 2):
        out = tmp_path / f"warmup_{warmup}"
        _run(harness, workdir["r18"], workdir["val"], out, "--resize", "73", "--crop", str(INPUT),
             "--warmup", str(warmup))
        results[warmup] = {p.name: p.read_bytes() for p in (out / "result_Files").glob("*.bin")}
        timing = (out / "time_Result" / "test_perform_static.txt").read_text()
        assert re.search(rf"^NN inference cost average time: [0-9.e+-]+ ms of infer_count {n}$", timing, re.M)
        assert re.search(rf"^NN inference cost median time: [0-9.e+-]+ ms of infer_count {n}$", timing, re.M)
        assert re.search(rf"^warmup calls: {warmup}$", timing, re.M), timing
    assert len(results[2]) == n
    assert results[2] == results[0]


def test_undecodable_image_fails_naming_it(harness, workdir, tmp_path):
    data = tmp_path / "data" / "only_class"
    data.mkdir(parents=True)
    (data / "broken.JPEG").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    proc = _run(harness, workdir["gap"], data.parent, tmp_path, "--resize", "73", "--crop", "64", check=False)
    assert proc.returncode == 1 and "broken.JPEG" in proc.stderr


def test_build_sh_names_what_is_missing(tmp_path):
    env = dict(os.environ, ORT_INCLUDE_DIR=str(tmp_path / "no_headers"), BUILD_DIR=str(tmp_path / "build"))
    proc = subprocess.run(["bash", str(BUILD_SH), "onnxruntime"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2 and "onnxruntime_cxx_api.h" in proc.stderr
    env = dict(os.environ, MINDSPORE_PATH=str(tmp_path / "no_mindspore"), BUILD_DIR=str(tmp_path / "build"))
    proc = subprocess.run(["bash", str(BUILD_SH), "mindspore"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2 and "include/api/model.h" in proc.stderr and "MINDSPORE_PATH" in proc.stderr
    proc = subprocess.run(["bash", str(BUILD_SH), "tensorrt"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "mindspore_python" in proc.stderr


def _fetch_headers(cache: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MINDZOO_CACHE=str(cache))
    return subprocess.run([sys.executable, str(FETCH_DEPS), "onnxruntime-headers", *extra], capture_output=True,
                          text=True, env=env, timeout=600)


def _one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_fetched_headers_are_checked_against_the_recorded_checksums(harness, tmp_path):
    """The harness fixture fetched the headers (a real download the first time); a changed header must fail."""
    cached = Path(_fetch_headers(Path(os.environ.get("MINDZOO_CACHE", Path.home() / ".cache" / "mindzoo")))
                  .stdout.strip().splitlines()[-1])
    assert (cached / "onnxruntime_cxx_api.h").is_file()
    recorded = {line.split()[1] for line in (FETCH_DEPS.parent / "onnxruntime_headers.sha256").read_text().splitlines()
                if line and not line.startswith("#")}
    assert {p.name for p in cached.glob("*.h")} == recorded
    cache = tmp_path / "cache"
    shutil.copytree(cached.parent, cache / "onnxruntime-headers" / cached.parent.name)
    copy = cache / "onnxruntime-headers" / cached.parent.name / "include"
    proc = _fetch_headers(cache)
    assert proc.returncode == 0 and proc.stdout.strip() == str(copy), proc.stderr

    header = copy / "onnxruntime_c_api.h"
    text = header.read_text()
    assert "#define ORT_API_VERSION 29" in text
    header.write_text(text.replace("#define ORT_API_VERSION 29", "#define ORT_API_VERSION 30"))
    _one_line_error(_fetch_headers(cache), "onnxruntime_c_api.h", "does not match its sha256")
    # build.sh stops on it too, with that one line and exit 2, before compiling anything
    env = dict(os.environ, MINDZOO_CACHE=str(cache), BUILD_DIR=str(tmp_path / "build"))
    env.pop("ORT_INCLUDE_DIR", None)
    env.pop("ORT_ROOT", None)
    proc = subprocess.run(["bash", str(BUILD_SH), "onnxruntime"], capture_output=True, text=True, env=env, timeout=300)
    _one_line_error(proc, "onnxruntime_c_api.h", "does not match its sha256")
    assert not (tmp_path / "build").exists()

    (copy / "onnxruntime_extra.h").write_text("/* not from the package */\n")
    header.unlink()
    _one_line_error(_fetch_headers(cache), "onnxruntime_extra.h", "not among the headers recorded")


def _npm_registry() -> str:
    """The registry address fetch_deps.py downloads from (its constant, not a second copy)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fetch_deps", FETCH_DEPS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NPM_REGISTRY


def _registry_reachable(url: str) -> bool:
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=30).close()
        return True
    except OSError:
        return False


def test_tarball_must_match_the_registry_integrity(tmp_path):
    """A tarball that is not the registry's (here: a real .tgz with a planted header) is refused before unpacking."""
    import tarfile

    if not _registry_reachable(f"{_npm_registry()}/com.github.asus4.onnxruntime/0.4.9"):
        pytest.skip("the npm registry is unreachable from this machine: cannot read the recorded integrity")
    planted = tmp_path / "planted.h"
    planted.write_text("#define ORT_API_VERSION 29\n")
    fake = tmp_path / "fake.tgz"
    with tarfile.open(fake, "w:gz") as archive:
        archive.add(planted, arcname="package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/"
                                     "onnxruntime.framework/Headers/onnxruntime_c_api.h")
    cache = tmp_path / "cache"
    _one_line_error(_fetch_headers(cache, "--tarball", str(fake)), "sha512 integrity", "nothing was unpacked")
    assert not list((cache / "onnxruntime-headers").glob("*/include"))


def test_run_infer_310_end_to_end(harness, workdir, tmp_path):
    """build -> inference -> imagenet_label.json -> postprocess: acc.log equals accuracy from Python logits."""
    import onnxruntime as ort

    env = dict(os.environ, RESIZE="73", CROP=str(INPUT))
    proc = subprocess.run(["bash", str(RUN_INFER), str(workdir["r18"]), str(workdir["val"])], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for name in ("acc.log", "infer.log", "imagenet_label.json", "time_Result/test_perform_static.txt"):
        assert (tmp_path / name).is_file(), name

    session = ort.InferenceSession(str(workdir["r18"]), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    entries = _layout().list_images(str(workdir["val"]))
    top1 = top5 = 0
    for entry in entries:
        x = _ms_preprocess(workdir["val"] / entry.rel_path, 73, INPUT)[None]
        order = np.argsort(-session.run(None, {input_name: x})[0].reshape(-1), kind="stable")
        top1 += int(order[0] == entry.label)
        top5 += int(entry.label in order[:5])
    n = len(entries)
    expected = f"Total data: {n}, top1 accuracy: {top1 / n}, top5 accuracy: {top5 / n}."
    assert (tmp_path / "acc.log").read_text().strip() == expected
    assert expected in proc.stdout


def test_run_infer_310_errors(workdir, tmp_path):
    script = ["bash", str(RUN_INFER)]
    cases = [
        ([str(tmp_path / "missing.onnx"), str(workdir["val"])], "model file not found"),
        ([str(workdir["r18"]), str(tmp_path / "nope")], "dataset directory not found"),
        ([str(workdir["r18"]), str(workdir["val"]), "0", "Ascend310"], "CPU"),
        ([str(workdir["gap"]), str(workdir["val"]), "x"], "DEVICE_ID"),
    ]
    odd = tmp_path / "model.pb"
    odd.write_bytes(b"x")
    cases.append(([str(odd), str(workdir["val"])], ".onnx or .mindir"))
    for args, message in cases:
        proc = subprocess.run(script + args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert subprocess.run(script, capture_output=True, text=True).returncode == 2

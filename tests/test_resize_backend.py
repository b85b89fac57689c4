"""Preprocessing follows the weights' origin: PIL + torchvision rounding for torchvision/timm weights, OpenCV else.

The reference below is torchvision's eval transform written out with PIL and numpy (torchvision itself cannot be
imported with the CPU torch): ``Resize(256)`` on a PIL image (``int(256 * long / short)``, PIL bilinear, which
antialiases when downscaling), ``CenterCrop(224)`` at ``round((size - 224) / 2)``, ``ToTensor`` + ``Normalize``.
The photos are the real JPEGs that matplotlib and scikit-learn ship, re-encoded at several sizes and orientations.
"""
import json
from pathlib import Path
from typing import Dict

import matplotlib
import numpy as np
import pytest
import sklearn
from PIL import Image

from helpers import run
from mindzoo.data.geometry import EvalGeometry, geometry_from_config, resized_shape
from mindzoo.data.transforms import geometry_transforms, preprocess_image

torch = pytest.importorskip("torch")

from refnets import torch_reference  # noqa: E402
from mindzoo.cli.convert import main as convert_main  # noqa: E402
from mindzoo.models import create_model  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# Float32 normalisation in a different order (MindSpore: (x - 255 m) / (255 s); torchvision: (x / 255 - m) / s).
PIL_TOLERANCE = 1e-5
PHOTOS = [
    Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
    Path(sklearn.__file__).parent / "datasets" / "images" / "china.jpg",
    Path(sklearn.__file__).parent / "datasets" / "images" / "flower.jpg",
]
# (photo index, operation, output size or None): landscape, portrait, odd sizes, an upscale, grayscale.
VARIANTS = [(0, "as_is", None), (1, "as_is", None), (2, "rotate", None), (1, "resize", (501, 333)),
            (0, "resize", (257, 383)), (2, "resize", (199, 150)), (1, "gray", (300, 451))]


def torchvision_eval(path: Path, resize: int = 256, crop: int = 224) -> np.ndarray:
    """torchvision's ``Resize(resize) + CenterCrop(crop) + ToTensor + Normalize`` with PIL and numpy."""
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    w, h = image.size
    if w <= h:
        size = (resize, int(resize * h / w))
    else:
        size = (int(resize * w / h), resize)
    image = image.resize(size, Image.BILINEAR)
    w, h = image.size
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    array = np.asarray(image.crop((left, top, left + crop, top + crop)), dtype=np.float32) / 255.0
    return ((array - MEAN) / STD).transpose(2, 0, 1)


def opencv_eval(path: Path, resize: int = 256, crop: int = 224) -> np.ndarray:
    """The same geometry through MindSpore's default (OpenCV bilinear, floor crop offsets) pipeline."""
    from mindzoo.data.geometry import DataConfig, resolve_eval_geometry

    return preprocess_image(path, resolve_eval_geometry(DataConfig(crop_pct=crop / resize), crop))


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    folder = root / "val" / "photo"
    folder.mkdir(parents=True)
    for i, (index, operation, size) in enumerate(VARIANTS):
        with Image.open(PHOTOS[index]) as opened:
            image = opened.convert("RGB")
        if operation == "rotate":
            image = image.transpose(Image.Transpose.ROTATE_90)
        elif operation == "resize":
            image = image.resize(size, Image.LANCZOS)
        elif operation == "gray":
            image = image.resize(size, Image.LANCZOS).convert("L")
        image.save(folder / f"{i:02d}_{operation}_{image.width}x{image.height}.jpg", quality=90)
    return root


@pytest.fixture(scope="module")
def torchvision_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tv")
    torch.manual_seed(0)
    torch.save(torch_reference.build("resnet18", num_classes=3).state_dict(), tmp / "resnet18.pth")
    assert convert_main(["--arch", "resnet18", "--src", str(tmp / "resnet18.pth"), "--out", str(tmp / "r18.ckpt")]) == 0
    return tmp / "r18.ckpt"


def _eval_tensors(root: Path, geometry: EvalGeometry) -> Dict[str, np.ndarray]:
    from mindzoo.data import create_dataset

    dataset = create_dataset(str(root), "val", geometry_transforms(geometry), batch_size=1, shuffle=False,
                             num_parallel_workers=2)
    names = sorted(p.name for p in (root / "val" / "photo").iterdir())
    return {name: image[0] for name, (image, _) in zip(names, dataset.create_tuple_iterator(output_numpy=True))}


def test_torchvision_weights_evaluate_with_torchvisions_preprocessing(photo_folder: Path, torchvision_ckpt: Path):
    """The eval pipeline of a net built from converted torchvision weights equals torchvision's eval transform on
    every photo (float32 rounding of the normalisation only), while MindSpore's OpenCV pipeline, same geometry,
    differs on each of them (least on the 257x383 image, which is barely downscaled)."""
    net = create_model("resnet18", num_classes=3, pretrained=str(torchvision_ckpt))
    assert net.data_config.resize_backend == "pil"
    geometry = geometry_from_config(net.data_config, {})
    assert (geometry.resize_size, geometry.crop_size, geometry.resize_backend) == (256, 224, "pil")
    tensors = _eval_tensors(photo_folder, geometry)
    assert len(tensors) == len(VARIANTS)
    pil_errors, opencv_errors = {}, {}
    for name, got in tensors.items():
        path = photo_folder / "val" / "photo" / name
        expected = torchvision_eval(path)
        assert got.shape == expected.shape == (3, 224, 224)
        pil_errors[name] = float(np.abs(got - expected).max())
        opencv_errors[name] = float(np.abs(opencv_eval(path) - expected).max())
        np.testing.assert_array_equal(preprocess_image(path, geometry), got)
    print("max abs difference to torchvision's transform: pil", pil_errors, "opencv", opencv_errors)
    assert max(pil_errors.values()) < PIL_TOLERANCE, pil_errors
    assert min(opencv_errors.values()) > 100 * PIL_TOLERANCE, opencv_errors


def test_pil_output_size_and_crop_rounding_are_torchvisions():
    """``int(256 * long / short)`` in double precision and half-to-even offsets, unlike MindSpore's float32 ratio
    and floor."""
    from mindzoo.data.geometry import crop_offsets

    assert resized_shape(375, 500, 256, "pil") == (256, 341)
    assert resized_shape(480, 384, 256, "pil") == (320, 256)
    for h, w in [(333, 501), (1000, 499), (77, 1024), (256, 256)]:
        short, long = min(h, w), max(h, w)
        expected_long = int(256 * long / short)
        assert max(resized_shape(h, w, 256, "pil")) == expected_long
    assert crop_offsets(257, 259, 224, 224, "pil") == (16, 18)  # round(16.5) = 16, round(17.5) = 18
    assert crop_offsets(257, 259, 224, 224, "opencv") == (16, 17)
    assert crop_offsets(221, 224, 224, 224, "pil") == (-1, 0)  # torchvision pads (224 - 221) // 2 = 1 on top


def test_sidecar_and_infer_carry_the_backend(torchvision_ckpt: Path, tmp_path: Path):
    """export.py records resize_backend in NAME.json; infer.py uses it for the export and for the .ckpt."""
    proc = run("export.py", ["--net_name=resnet18", "--num_classes=3", f"--ckpt_file={torchvision_ckpt}",
                             "--eval_image_size=224", f"--file_name={tmp_path / 'm'}", "--file_format=ONNX"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    preprocess = json.loads((tmp_path / "m.json").read_text())["preprocess"]
    assert preprocess["resize_backend"] == "pil"
    assert EvalGeometry.from_sidecar({k: v for k, v in preprocess.items() if k != "resize_backend"}).resize_backend \
        == "opencv"
    from mindzoo.deploy.predictor import load_predictor

    for model in (tmp_path / "m.onnx", torchvision_ckpt):
        assert load_predictor(str(model), net_name="resnet18", num_classes=3).geometry.resize_backend == "pil", model

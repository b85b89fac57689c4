"""Data layer: demo dataset, transforms geometry, the ImageFolderDataset factory and its input checks."""
import hashlib
import io
import json
import logging
from pathlib import Path

import mindzoo  # noqa: F401  (must precede mindspore)
import mindspore.dataset as ds
import numpy as np
import pytest
from PIL import Image

from mindzoo.data import (
    create_dataset,
    eval_transforms,
    fixres_finetune_transforms,
    preprocess_image,
    train_transforms,
    validate_image_folder,
)
from mindzoo.data.demo import CLASS_NAMES, build_demo_dataset, main as demo_main
from mindzoo.data.geometry import crop_box, resized_shape, resolve_eval_geometry
from mindzoo.data.transforms import check_image_bytes
from mindzoo.errors import DataError, UsageError
from mindzoo.models import DataConfig

DC = DataConfig()
MEAN = np.array(DC.mean, dtype=np.float64)[:, None, None]
STD = np.array(DC.std, dtype=np.float64)[:, None, None]
ONE_LEVEL = 1.0 / (255.0 * min(DC.std))  # one uint8 step after normalisation


def compose(ops):
    from mindspore.dataset.transforms import Compose

    return Compose(ops)


def encode(array: np.ndarray, fmt: str = "PNG", mode: str = None, **kw) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt, **kw)
    return out.getvalue()


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    coarse = rng.randint(0, 256, (4, 5, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC))


def make_folder(root: Path, per_class: dict, size: int = 20) -> Path:
    """Class folders of small distinct PNG/JPEG images: {class: count}."""
    k = 0
    for name, count in per_class.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (root / name / f"img{i:03d}.JPEG").write_bytes(encode(smooth_image(size, size + 3, k), "JPEG", quality=95))
            k += 1
    return root


def cv_bilinear(img: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """OpenCV INTER_LINEAR in float: half-pixel centres, edge clamp, no antialiasing."""
    h, w = img.shape[:2]
    sy = np.clip((np.arange(oh) + 0.5) * (h / oh) - 0.5, 0, h - 1)
    sx = np.clip((np.arange(ow) + 0.5) * (w / ow) - 0.5, 0, w - 1)
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (sy - y0)[:, None, None], (sx - x0)[None, :, None]
    f = img.astype(np.float64)
    top = f[y0][:, x0] * (1 - fx) + f[y0][:, x1] * fx
    bottom = f[y1][:, x0] * (1 - fx) + f[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def hash_transform(data: np.ndarray) -> np.ndarray:
    """Identify a sample by the hash of its encoded bytes (for sharding/coverage tests)."""
    return np.frombuffer(hashlib.md5(data.tobytes()).digest(), dtype=np.uint8).copy()


def collect(dataset) -> tuple:
    images, labels, sizes = [], [], []
    for batch in dataset.create_dict_iterator(output_numpy=True, num_epochs=1):
        images.append(batch["image"])
        labels.append(batch["label"])
        sizes.append(len(batch["label"]))
    return np.concatenate(images), np.concatenate(labels), sizes


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "digits"
    build_demo_dataset(out, size=32)
    return out


# ---------------------------------------------------------------- demo dataset

def test_demo_layout_counts_and_labels(demo):
    labels = (demo / "labels.txt").read_text().split()
    assert labels == list(CLASS_NAMES)
    for split, expected in (("train", 1438), ("val", 359)):
        folders = sorted(p.name for p in (demo / split).iterdir())
        assert [f.split("_", 1)[1] for f in folders] == labels  # sorted folder order == label order
        assert len(list((demo / split).glob("*/*.JPEG"))) == expected
    assert 359 % 32 != 0
    with Image.open(next((demo / "val").glob("3_three/*.JPEG"))) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (32, 32))
    train = {p.name for p in (demo / "train").glob("*/*.JPEG")}
    assert not train & {p.name for p in (demo / "val").glob("*/*.JPEG")}


def test_demo_is_deterministic_and_idempotent(demo, tmp_path):
    copy = tmp_path / "again"
    assert demo_main(["--out", str(copy), "--size", "32"]) == 0
    files = sorted(p.relative_to(demo) for p in demo.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(copy) for p in copy.rglob("*") if p.is_file())
    assert all((demo / f).read_bytes() == (copy / f).read_bytes() for f in files)
    probe = next(copy.glob("val/*/*.JPEG"))
    stamp = probe.stat().st_mtime_ns
    assert build_demo_dataset(copy, size=32) == {"train": 1438, "val": 359}
    assert probe.stat().st_mtime_ns == stamp  # complete dir: nothing rewritten
    assert build_demo_dataset(copy, size=16)["val"] == 359
    with Image.open(next(copy.glob("val/*/*.JPEG"))) as image:
        assert image.size == (16, 16)
    marker = copy / ".mindzoo_demo.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "counts": None}))  # as if interrupted
    probe.unlink()
    assert build_demo_dataset(copy, size=16)["train"] == 1438 and probe.is_file()


def test_demo_refuses_foreign_directory(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="refusing to write"):
        build_demo_dataset(tmp_path)
    assert demo_main(["--out", str(tmp_path), "--val_fraction", "1.5"]) == 2


# ---------------------------------------------------------------- transforms

@pytest.mark.parametrize("shape", [(45, 61), (61, 45), (40, 40)])
def test_eval_transform_matches_numpy_reference(tmp_path, shape):
    h, w = shape
    pixels = smooth_image(h, w, seed=h)
    path = tmp_path / "x.png"
    path.write_bytes(encode(pixels))
    geometry = resolve_eval_geometry(DC, 24)
    out = preprocess_image(path, geometry)
    assert out.shape == (3, 24, 24) and out.dtype == np.float32
    rh, rw, top, left = crop_box(h, w, geometry)
    assert min(rh, rw) == int(24 / 0.875) == 27
    ref = cv_bilinear(pixels, rh, rw)[top:top + 24, left:left + 24].transpose(2, 0, 1)
    ref = (ref / 255.0 - MEAN) / STD
    assert np.abs(out - ref).max() <= ONE_LEVEL * 1.01


def test_center_crop_offset_is_floor_and_resize_truncates_in_float32():
    from mindspore.dataset import vision

    rows, cols = np.indices((11, 14), dtype=np.uint8)
    corner = vision.CenterCrop(4)(np.stack([rows, cols, cols], axis=-1))[0, 0]
    assert (corner[0], corner[1]) == ((11 - 4) // 2, (14 - 4) // 2)  # top 3, not round(3.5) = 4
    # int math says 27 * 29 // 27 = 29; MindSpore computes (float)29 / 27 * 27 = 28.99.. -> 28
    for h, w, short in [(27, 29, 27), (73, 90, 73), (375, 500, 256), (500, 333, 438), (64, 64, 73)]:
        got = vision.Resize(short)(np.zeros((h, w, 3), np.uint8)).shape[:2]
        assert got == resized_shape(h, w, short)
    assert resized_shape(27, 29, 27) == (27, 28)


def test_fixres_finetune_is_test_geometry():
    data = encode(smooth_image(50, 70, seed=3), "JPEG", quality=95)
    arr = np.frombuffer(data, np.uint8)
    for test_size in (32, 48):
        geometry = resolve_eval_geometry(DC, test_size, crop_pct=224 / 256)
        plain = compose(fixres_finetune_transforms(geometry))(arr)
        reference = compose(eval_transforms(test_size, DC, crop_pct=224 / 256))(arr)
        assert plain.shape == (3, test_size, test_size)
        np.testing.assert_array_equal(plain, reference)
    assert 384 * 256 // 224 == int(384 / (224 / 256)) == 438
    # Through a real pipeline: eager calls re-seed every call once a global dataset seed is set.
    geometry = resolve_eval_geometry(DC, 32)
    plain = compose(fixres_finetune_transforms(geometry))(arr)

    def kinds(**options):
        pipeline = ds.NumpySlicesDataset({"image": np.stack([arr] * 24)}, shuffle=False)
        pipeline = pipeline.map(fixres_finetune_transforms(geometry, **options), input_columns="image")
        return {"same" if np.array_equal(f, plain) else "mirror" if np.array_equal(f, plain[:, :, ::-1]) else "other"
                for f in (row[0] for row in pipeline.create_tuple_iterator(num_epochs=1, output_numpy=True))}

    assert kinds() == {"same"}  # the reference fine-tune: the test transform, nothing random
    assert kinds(flip=True) == {"same", "mirror"}
    assert kinds(color_jitter=0.05) == {"other"}  # transforms_v2's jitter strength changes every image a little


def _fixres_reference_geometry(h: int, w: int, test_size: int):
    """The FixRes code's val transform (imnet_finetune/transforms.py) as shapes: ``Resize(int(256 / 224 * s))``
    sets the *height* (``target_size(w, h, size, largest=False)`` returns ``(size, int(size * w / h))``), then
    torchvision's ``CenterCrop(s)`` (offsets ``round((H - s) / 2)``; zero padding where the image is smaller)."""
    size = int((256 / 224) * test_size)
    rh, rw = size, int(size * w / h)
    return rh, rw, int(round((rh - test_size) / 2.0)), int(round((rw - test_size) / 2.0))


# (h, w) with even crop surpluses, so round() and floor() offsets agree: portrait (the edges differ),
# portrait narrower than the crop after the resize (zero padding), landscape (the edges agree).
@pytest.mark.parametrize("shape", [(45, 38), (60, 30), (30, 44)])
def test_resize_edge_height_is_the_fixres_reference_resize(tmp_path, shape):
    h, w = shape
    pixels = smooth_image(h, w, seed=w)
    path = tmp_path / "x.png"
    path.write_bytes(encode(pixels))
    test_size = 32
    geometry = resolve_eval_geometry(DC, test_size, crop_pct=224 / 256, resize_edge="height")
    assert geometry.resize_size == int((256 / 224) * test_size) == 36
    rh, rw, top, left = _fixres_reference_geometry(h, w, test_size)
    assert crop_box(h, w, geometry) == (rh, rw, top, left)
    resized = np.zeros((max(rh, test_size), max(rw, test_size) + 2 * max(0, -left), 3))
    pad = max(0, -left)
    resized[:rh, pad:pad + rw] = cv_bilinear(pixels, rh, rw)
    ref = resized[top:top + test_size, pad + left:pad + left + test_size].transpose(2, 0, 1)
    ref = (ref / 255.0 - MEAN) / STD
    out = preprocess_image(path, geometry)
    assert out.shape == (3, test_size, test_size)
    assert np.abs(out - ref).max() <= ONE_LEVEL * 1.01
    shorter = preprocess_image(path, resolve_eval_geometry(DC, test_size, crop_pct=224 / 256))
    if h > w:  # portrait: the reference resize is not the shorter-side resize
        assert np.abs(out - shorter).max() > 10 * ONE_LEVEL
    else:
        np.testing.assert_array_equal(out, shorter)


@pytest.mark.parametrize("mode,fmt", [("L", "JPEG"), ("CMYK", "JPEG"), ("L", "PNG"), ("P", "PNG"), ("RGBA", "PNG")])
def test_non_rgb_images_decode_to_rgb(mode, fmt):
    pixels = smooth_image(30, 40, seed=5)
    data = encode(pixels, fmt, mode=mode, quality=95) if fmt == "JPEG" else encode(pixels, fmt, mode=mode)
    for ops in (eval_transforms(16, DC), train_transforms(16, DC)):  # Decode and RandomCropDecodeResize
        out = compose(ops)(np.frombuffer(data, np.uint8))
        assert out.shape == (3, 16, 16) and out.dtype == np.float32
    if mode == "L":
        rgb = preprocess_image(data, resolve_eval_geometry(DC, 16)) * STD + MEAN
        np.testing.assert_allclose(rgb[0], rgb[1], atol=1e-5)
        np.testing.assert_allclose(rgb[1], rgb[2], atol=1e-5)


def test_check_image_bytes_flags_what_decode_rejects():
    good = encode(smooth_image(30, 40), "JPEG")
    assert check_image_bytes(good) is None
    assert check_image_bytes(good + b"\0" * 2000 + b"trailer") is None  # trailer after EOI decodes fine
    assert "truncated JPEG" in check_image_bytes(good[: len(good) // 2])
    assert "truncated PNG" in check_image_bytes(encode(smooth_image(30, 40))[:-40])
    assert "GIF" in check_image_bytes(encode(smooth_image(30, 40), "GIF"))
    assert check_image_bytes(b"") == "empty file"
    assert "not a JPEG" in check_image_bytes(b"<html>not found</html>")


# ---------------------------------------------------------------- datasets

def test_eval_dataset_counts_every_image(demo):
    files = list((demo / "val").glob("*/*.JPEG"))
    assert validate_image_folder(demo / "val").num_images == len(files) == 359
    dataset = create_dataset(demo, "val", eval_transforms(16, DC), batch_size=32, shuffle=False)
    images, labels, sizes = collect(dataset)
    assert sizes == [32] * 11 + [7]
    assert images.shape == (359, 3, 16, 16) and images.dtype == np.float32 and labels.dtype == np.int32
    per_class = [len(list(p.glob("*.JPEG"))) for p in sorted((demo / "val").iterdir())]
    assert np.bincount(labels, minlength=10).tolist() == per_class


def test_train_dataset_shapes_and_determinism(demo):
    ds.config.set_seed(1)
    dataset = create_dataset(demo, "train", train_transforms(24, DC, color_jitter=0.4), batch_size=64,
                             shuffle=True)
    images, labels, sizes = collect(dataset)
    assert sizes == [64] * (1438 // 64)  # drop_remainder for train
    assert images.shape[1:] == (3, 24, 24) and images.dtype == np.float32 and labels.dtype == np.int32
    assert labels.min() == 0 and labels.max() == 9
    fixed = [collect(create_dataset(demo, "train", train_transforms(16, DC, random_augment=False), 64,
                                    shuffle=False))[0] for _ in range(2)]
    np.testing.assert_array_equal(fixed[0], fixed[1])
    first = sorted((demo / "train").glob("0_zero/*.JPEG"))[0]
    np.testing.assert_array_equal(fixed[0][0], preprocess_image(first, resolve_eval_geometry(DC, 16)))


def _shard_hashes(root: Path, split: str, num_shards: int, **kw) -> list:
    shards = []
    for shard_id in range(num_shards):
        ds.config.set_seed(3)
        dataset = create_dataset(root, split, [hash_transform], batch_size=1, shuffle=True, num_shards=num_shards,
                                 shard_id=shard_id, **kw)
        shards.append([row.tobytes() for row in collect(dataset)[0]])
    return shards


def test_two_shards_are_disjoint_and_cover(tmp_path, demo):
    make_folder(tmp_path / "train", {"a": 7, "b": 5})
    all_files = {hashlib.md5(p.read_bytes()).digest() for p in (tmp_path / "train").glob("*/*")}
    first, second = _shard_hashes(tmp_path, "train", 2)
    assert len(first) == len(second) == 6
    assert not set(first) & set(second) and set(first) | set(second) == all_files
    # Evaluation shards are strided subsets: 359 splits 180 + 179 with no image repeated
    # (ImageFolderDataset's own sharding would pad both to 180 and count one image twice).
    first, second = _shard_hashes(demo, "val", 2)
    assert (len(first), len(second)) == (180, 179)
    assert len(set(first) | set(second)) == 359


def test_extensions_are_case_insensitive(tmp_path):
    make_folder(tmp_path, {"a": 1, "b": 1})
    pixels = smooth_image(20, 20)
    (tmp_path / "a" / "x.jpg").write_bytes(encode(pixels, "JPEG"))
    (tmp_path / "a" / "y.Png").write_bytes(encode(pixels, "PNG"))
    (tmp_path / "b" / "z.BMP").write_bytes(encode(pixels, "BMP"))
    (tmp_path / "b" / "notes.txt").write_text("not an image")
    info = validate_image_folder(tmp_path)
    assert info.counts == (3, 2) and info.class_names == ("a", "b")
    dataset = create_dataset(tmp_path.parent, tmp_path.name, eval_transforms(8, DC), 2, shuffle=False)
    assert collect(dataset)[1].tolist() == [0, 0, 0, 1, 1]


# ---------------------------------------------------------------- bad input

def test_layout_errors_name_the_path(tmp_path):
    with pytest.raises(DataError, match=f"image folder not found: {tmp_path / 'train'}"):
        create_dataset(tmp_path, "train", eval_transforms(8, DC), 2, shuffle=True)
    (tmp_path / "val").mkdir()
    with pytest.raises(DataError, match=f"no class folders in {tmp_path / 'val'}"):
        validate_image_folder(tmp_path / "val")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=f"not a directory: {tmp_path / 'file'}"):
        validate_image_folder(tmp_path / "file")
    make_folder(tmp_path / "train", {"a": 2, "b": 2, "c": 0})
    with pytest.raises(DataError, match=f"class folder {tmp_path / 'train' / 'c'} has no images"):
        validate_image_folder(tmp_path / "train")
    (tmp_path / "train" / "c").rmdir()
    with pytest.raises(DataError) as err:
        create_dataset(tmp_path, "train", eval_transforms(8, DC), 2, shuffle=True, num_classes=1000)
    assert str(err.value) == f"{tmp_path / 'train'} has 2 class folders but num_classes=1000; pass --num_classes=2"
    assert isinstance(err.value, UsageError) and "\n" not in str(err.value)
    with pytest.raises(DataError, match="fewer than batch_size=8"):
        create_dataset(tmp_path, "train", eval_transforms(8, DC), 8, shuffle=True)
    (tmp_path / "train" / ".ipynb_checkpoints").mkdir()
    with pytest.raises(DataError, match="hidden folder .*ipynb_checkpoints"):
        validate_image_folder(tmp_path / "train")


@pytest.fixture
def corrupt(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # MindSpore dumps undecodable images into the cwd: there must be none
    root = make_folder(tmp_path / "data" / "train", {"a": 4, "b": 4})
    good = (root / "a" / "img001.JPEG").read_bytes()
    (root / "a" / "img001.JPEG").write_bytes(good[: len(good) // 2])
    (root / "b" / "img000.JPEG").write_bytes(b"\x00garbage" * 50)
    return root


def test_corrupt_images_fail_naming_the_file(corrupt):
    with pytest.raises(DataError) as err:
        create_dataset(corrupt.parent, "train", eval_transforms(8, DC), 2, shuffle=False)
    assert str(err.value).startswith(f"unreadable image {corrupt / 'a' / 'img001.JPEG'}: truncated JPEG")
    assert "and 1 more bad images" in str(err.value)
    with pytest.raises(DataError, match=f"unreadable image {corrupt / 'b' / 'img000.JPEG'}: not a JPEG"):
        preprocess_image(corrupt / "b" / "img000.JPEG", resolve_eval_geometry(DC, 8))
    assert not list(Path.cwd().glob("abnormal_image*"))


def test_corrupt_images_can_be_skipped(corrupt, caplog):
    with caplog.at_level(logging.WARNING, logger="mindzoo.data"):
        info = validate_image_folder(corrupt, skip_bad_images=True)
    assert "skipping 2 unreadable images" in caplog.text
    assert info.counts == (3, 3) and info.num_files == 8
    assert set(info.skipped) == {str(corrupt / "a" / "img001.JPEG"), str(corrupt / "b" / "img000.JPEG")}
    good = {hashlib.md5(p.read_bytes()).digest() for p in corrupt.glob("*/*") if str(p) not in info.skipped}
    dataset = create_dataset(corrupt.parent, "train", [hash_transform], 1, shuffle=True, skip_bad_images=True)
    hashes, labels, _ = collect(dataset)
    assert {h.tobytes() for h in hashes} == good and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
    first, second = _shard_hashes(corrupt.parent, "train", 2, skip_bad_images=True)
    assert len(first) == len(second) == 3 and set(first) | set(second) == good
    for name in ("img001.JPEG", "img002.JPEG", "img003.JPEG"):
        (corrupt / "b" / name).write_bytes(b"")
    with pytest.raises(DataError, match=f"class folder {corrupt / 'b'} has no readable images"):
        validate_image_folder(corrupt, skip_bad_images=True)
    assert not list(Path.cwd().glob("abnormal_image*"))


"""One source of evaluation/deployment geometry: resolution rules, sidecar round trip, and its consumers."""
import json
import subprocess
import sys

import pytest

from helpers import REPO
from mindzoo.data.geometry import DataConfig, EvalGeometry, geometry_from_config, resolve_eval_geometry
from mindzoo.errors import ConfigError

FIXRES = DataConfig(input_size=224, test_input_size=384, crop_pct=0.875)


def test_defaults_come_from_the_data_config():
    g = resolve_eval_geometry(DataConfig())
    assert (g.resize_size, g.crop_height, g.crop_width, g.crop_pct) == (256, 224, 224, 0.875)
    g = resolve_eval_geometry(FIXRES)
    assert (g.resize_size, g.crop_size) == (438, 384)


def test_run_settings_override_the_data_config():
    g = resolve_eval_geometry(DataConfig(), eval_image_size=64, crop_pct=0.5)
    assert (g.resize_size, g.crop_size, g.crop_pct) == (128, 64, 0.5)
    # a non-square export crop resizes for its larger side, so the crop always fits
    g = resolve_eval_geometry(DataConfig(), height=256, width=320)
    assert (g.resize_size, g.crop_height, g.crop_width) == (int(320 / 0.875), 256, 320)
    with pytest.raises(ConfigError, match="single crop size"):
        g.crop_size


def test_geometry_from_a_run_config_reads_eval_image_size_and_crop_pct():
    g = geometry_from_config(DataConfig(), {"eval_image_size": 64, "crop_pct": 0.8})
    assert (g.resize_size, g.crop_size) == (80, 64)
    assert geometry_from_config(FIXRES, {"eval_image_size": 0, "crop_pct": 0.0}) == resolve_eval_geometry(FIXRES)


def test_geometry_from_a_run_config_reads_exports_height_and_width():
    """export.py's --height/--width reach the geometry by the same route as eval_image_size (no hand-picked fields)."""
    g = geometry_from_config(DataConfig(), {"height": 48, "width": 64, "crop_pct": 0.8})
    assert (g.crop_height, g.crop_width, g.resize_size) == (48, 64, 80)
    assert g == resolve_eval_geometry(DataConfig(), crop_pct=0.8, height=48, width=64)
    assert geometry_from_config(DataConfig(), {"height": 0, "width": 0}) == resolve_eval_geometry(DataConfig())


@pytest.mark.parametrize("bad", [dict(eval_image_size=-1), dict(crop_pct=-0.5), dict(height=-2)])
def test_negative_settings_are_config_errors(bad):
    with pytest.raises(ConfigError):
        resolve_eval_geometry(DataConfig(), **bad)


def test_sidecar_round_trip_and_errors():
    g = resolve_eval_geometry(FIXRES, crop_pct=0.9)
    entry = json.loads(json.dumps(g.to_sidecar()))
    assert EvalGeometry.from_sidecar(entry) == g
    assert entry["resize_size"] == int(384 / 0.9) and entry["crop_size"] == [384, 384]
    broken = dict(entry)
    del broken["resize_size"]
    with pytest.raises(ConfigError, match="resize_size"):
        EvalGeometry.from_sidecar(broken, where="x.json")
    with pytest.raises(ConfigError, match="interpolation"):
        EvalGeometry.from_sidecar({**entry, "interpolation": "lanczos9"})


def test_geometry_module_does_not_load_mindspore():
    code = "import mindzoo.data.geometry, sys; print('mindspore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_export_records_crop_pct_in_the_sidecar(tmp_path):
    """export.py --crop_pct must reach NAME.json, which is what the C++ harness deploys with."""
    import mindspore as ms

    from helpers import run
    from mindzoo.models import create_model

    ckpt = tmp_path / "r18.ckpt"
    ms.save_checkpoint(create_model("resnet18", num_classes=3), str(ckpt))
    proc = run("export.py", ["--net_name=resnet18", "--num_classes=3", f"--ckpt_file={ckpt}", "--eval_image_size=32",
                             "--crop_pct=0.8", f"--file_name={tmp_path / 'm'}", "--file_format=ONNX"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    pre = json.loads((tmp_path / "m.json").read_text())["preprocess"]
    assert (pre["resize_size"], pre["crop_size"], pre["crop_pct"]) == (40, [32, 32], 0.8)


def test_resize_edge_is_recorded_in_the_sidecar_and_absent_means_shorter():
    g = resolve_eval_geometry(FIXRES, resize_edge="height")
    entry = json.loads(json.dumps(g.to_sidecar()))
    assert entry["resize_edge"] == "height" and EvalGeometry.from_sidecar(entry) == g
    assert resolve_eval_geometry(FIXRES).to_sidecar()["resize_edge"] == "shorter"
    old = {k: v for k, v in entry.items() if k != "resize_edge"}  # a sidecar written before the key existed
    assert EvalGeometry.from_sidecar(old).resize_edge == "shorter"
    with pytest.raises(ConfigError, match="unknown resize_edge 'longest'; use one of shorter, height"):
        EvalGeometry.from_sidecar({**entry, "resize_edge": "longest"}, where="x.json")
    assert geometry_from_config(FIXRES, {"resize_edge": "height"}).resize_edge == "height"
    assert geometry_from_config(FIXRES, {"resize_edge": ""}).resize_edge == "shorter"
    assert geometry_from_config(DataConfig(resize_edge="height"), {}).resize_edge == "height"

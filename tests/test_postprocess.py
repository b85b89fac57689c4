"""postprocess.py and create_imagenet2012_label.py on hand-written results (no C++ build needed)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
POSTPROCESS = REPO / "postprocess.py"
CREATE_LABEL = REPO / "create_imagenet2012_label.py"
NUM_CLASSES = 10

# key -> (label, logits). Expected: top-1 right for a and d; top-5 right for a, b (label ranked 3rd) and d;
# c's label is ranked 7th. So top1 = 2/4 = 0.5 and top5 = 3/4 = 0.75.
CASES = {
    "ILSVRC2012_val_00000001": (3, [0, 1, 2, 9, 3, 4, 0, 0, 0, 0]),
    "ILSVRC2012_val_00000002": (2, [5, 9, 7, 0, 0, 0, 0, 0, 8, 0]),
    "ILSVRC2012_val_00000003": (9, [9, 8, 7, 6, 5, 4, 0, 0, 0, 3]),
    "ILSVRC2012_val_00000004": (0, [4, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
}
EXPECTED = "Total data: 4, top1 accuracy: 0.5, top5 accuracy: 0.75."


def _write_results(result_dir: Path, dtype: str = "float32", meta: bool = True, cases=CASES) -> Path:
    result_dir.mkdir(parents=True, exist_ok=True)
    for key, (_, logits) in cases.items():
        np.asarray(logits, dtype=dtype).reshape(1, -1).tofile(result_dir / f"{key}_0.bin")
    if meta:
        (result_dir / "meta.json").write_text(json.dumps({
            "dtype": dtype, "shape": [1, NUM_CLASSES], "count": len(cases),
            "files": [{"result": f"{key}_0.bin", "image": f"c/{key}.JPEG", "label": label}
                      for key, (label, _) in cases.items()]}))
    return result_dir


def _write_labels(path: Path, cases=CASES) -> Path:
    path.write_text(json.dumps({key: label for key, (label, _) in cases.items()}))
    return path


def _postprocess(tmp_path: Path, *args: str):
    return subprocess.run([sys.executable, str(POSTPROCESS), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def _assert_one_line_error(proc, *fragments: str):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("postprocess.py: error:"), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_acc_log_matches_known_logits(tmp_path):
    _write_results(tmp_path / "result_Files")
    _write_labels(tmp_path / "imagenet_label.json")
    proc = _postprocess(tmp_path, "--result_path", "result_Files", "--label_path", "imagenet_label.json")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "acc.log").read_text() == EXPECTED + "\n"
    assert EXPECTED in proc.stdout


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_sidecar_dtype_is_honoured(tmp_path, dtype):
    _write_results(tmp_path / "r", dtype=dtype)
    _write_labels(tmp_path / "l.json")
    proc = _postprocess(tmp_path, "--result_path", "r", "--label_path", "l.json", "--acc_log", "acc2.log")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "acc2.log").read_text().strip() == EXPECTED
    assert f"({dtype}, {NUM_CLASSES} classes)" in proc.stdout


def test_flags_when_there_is_no_sidecar(tmp_path):
    _write_results(tmp_path / "r16", dtype="float16", meta=False)
    _write_results(tmp_path / "r32", dtype="float32", meta=False)
    _write_labels(tmp_path / "l.json")
    proc = _postprocess(tmp_path, "--result_path", "r16", "--label_path", "l.json", "--dtype", "float16",
                        "--num_classes", str(NUM_CLASSES))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "acc.log").read_text().strip() == EXPECTED
    # model-zoo default: float32, class count from the file size
    proc = _postprocess(tmp_path, "--result_path", "r32", "--label_path", "l.json")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "acc.log").read_text().strip() == EXPECTED
    # float16 files read as float32 hold 5 values, not the 10 classes asked for
    proc = _postprocess(tmp_path, "--result_path", "r16", "--label_path", "l.json", "--num_classes", "10")
    _assert_one_line_error(proc, "does not fit", "float32")


def test_ties_count_against_the_label_and_nan_is_never_correct(tmp_path):
    """eval.py's rule (tests/test_metrics.py has the full table): a constant or NaN network scores 0%."""
    cases = {"tie_low": (0, [1.0] * NUM_CLASSES), "tie_high": (7, [1.0] * NUM_CLASSES),
             "pair": (4, [0, 0, 0, 0, 2, 2, 0, 0, 0, 0]), "nan": (0, [float("nan")] * NUM_CLASSES)}
    _write_results(tmp_path / "r", cases=cases)
    _write_labels(tmp_path / "l.json", cases=cases)
    proc = _postprocess(tmp_path, "--result_path", "r", "--label_path", "l.json")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "acc.log").read_text().strip() == "Total data: 4, top1 accuracy: 0.0, top5 accuracy: 0.25."


def test_fewer_than_five_classes(tmp_path):
    cases = {"x": (2, [0.1, 0.2, 0.05]), "y": (1, [0.5, 0.2, 0.3])}
    _write_results(tmp_path / "r", meta=False, cases=cases)
    _write_labels(tmp_path / "l.json", cases=cases)
    proc = _postprocess(tmp_path, "--result_path", "r", "--label_path", "l.json")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "acc.log").read_text().strip() == "Total data: 2, top1 accuracy: 0.0, top5 accuracy: 1.0."


def test_errors_are_one_line_exit_2(tmp_path):
    labels = _write_labels(tmp_path / "l.json")
    good = _write_results(tmp_path / "good")
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", "missing", "--label_path", str(labels)),
                           "result directory not found")
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", str(good), "--label_path", "nolabels.json"),
                           "label file not found")
    (tmp_path / "bad.json").write_text("[1, 2")
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", str(good), "--label_path", "bad.json"),
                           "cannot read label file")

    truncated = _write_results(tmp_path / "truncated")
    (truncated / "ILSVRC2012_val_00000003_0.bin").write_bytes(b"\0" * 36)
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", str(truncated), "--label_path", str(labels)),
                           "ILSVRC2012_val_00000003_0.bin", "36 bytes", "[1, 10]")

    (tmp_path / "empty").mkdir()
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", "empty", "--label_path", str(labels)),
                           "no .bin results")

    unlabelled = _write_results(tmp_path / "unlabelled")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"ILSVRC2012_val_00000001": 3}))
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", str(unlabelled), "--label_path", str(partial)),
                           "no label")

    stale = _write_results(tmp_path / "stale")
    np.zeros(NUM_CLASSES, np.float32).tofile(stale / "old_run_0.bin")
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", str(stale), "--label_path", str(labels)),
                           "not listed in meta.json", "old_run_0.bin")

    lost = _write_results(tmp_path / "lost")
    (lost / "ILSVRC2012_val_00000002_0.bin").unlink()
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", str(lost), "--label_path", str(labels)),
                           "missing", "ILSVRC2012_val_00000002_0.bin")

    _assert_one_line_error(_postprocess(tmp_path, "--result_path", str(good), "--label_path", str(labels),
                                        "--dtype", "float16"), "contradicts", "float32")
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", str(good), "--label_path", str(labels),
                                        "--num_classes", "1000"), "contradicts")
    nometa = _write_results(tmp_path / "nometa", meta=False)
    _assert_one_line_error(_postprocess(tmp_path, "--result_path", str(nometa), "--label_path", str(labels),
                                        "--dtype", "int8"), "unsupported result dtype")
    assert not (tmp_path / "acc.log").exists()


def _label_tool(cwd: Path, *args: str):
    return subprocess.run([sys.executable, str(CREATE_LABEL), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_create_imagenet2012_label(tmp_path):
    val = tmp_path / "val"
    for class_name, files in {"n02": ["b.JPEG", "x.JPEG"], "n01": ["a.JPEG", "x.JPEG", "a.png"],
                              "n03": []}.items():
        (val / class_name).mkdir(parents=True)
        for name in files:
            (val / class_name / name).write_bytes(b"")
    (val / "n01" / "readme.txt").write_text("skip me")
    proc = _label_tool(tmp_path, "--img_path", "val")
    assert proc.returncode == 0, proc.stderr
    labels = json.loads((tmp_path / "imagenet_label.json").read_text())
    # sorted folders: n01 -> 0, n02 -> 1, n03 -> 2 (empty, still counted); stems colliding -> <class>@<file>
    assert labels == {"n01@a.JPEG": 0, "n01@a.png": 0, "n01@x.JPEG": 0, "b": 1, "n02@x.JPEG": 1}


def test_create_imagenet2012_label_errors(tmp_path):
    proc = _label_tool(tmp_path, "--img_path", "missing")
    assert proc.returncode == 2 and "image folder not found" in proc.stderr
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.JPEG").write_bytes(b"")
    proc = _label_tool(tmp_path, "--img_path", "flat")
    assert proc.returncode == 2 and "no class subfolders" in proc.stderr
    (tmp_path / "hollow" / "n01").mkdir(parents=True)
    proc = _label_tool(tmp_path, "--img_path", "hollow")
    assert proc.returncode == 2 and "no images" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_infer_io_errors_are_mindzoo_usage_errors():
    """One error hierarchy: the deployment tools' errors are UsageErrors (exit 2), and stay MindSpore-free."""
    proc = subprocess.run([sys.executable, "-c", (
        "import sys; sys.path.insert(0, 'src'); from mindzoo.deploy import harness_files; from mindzoo.data import layout; from mindzoo import errors; "
        "assert harness_files.InferIOError is layout.InferIOError is errors.InferIOError; assert issubclass(errors.InferIOError, errors.UsageError); "
        "assert errors.InferIOError('x').exit_code == 2; assert 'mindspore' not in sys.modules")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_the_harness_files_are_parsed_in_one_place(tmp_path):
    """acc.log and the timing file, as postprocess.py and ascend310_infer/src/main.cc write them, read back by
    mindzoo.deploy.harness_files (quickstart and bench/infer.py use these, not regexes of their own)."""
    from mindzoo.deploy.harness_files import TIMING_FILE, acc_line, parse_acc_line, read_timing
    from mindzoo.errors import InferIOError

    assert parse_acc_line(acc_line(4, 0.5, 0.75) + "\n") == (4, 0.5, 0.75)
    assert parse_acc_line(EXPECTED) == (4, 0.5, 0.75)
    with pytest.raises(InferIOError, match="acc.log"):
        parse_acc_line("nothing here")
    timing = tmp_path / TIMING_FILE
    timing.parent.mkdir(parents=True)
    timing.write_text("NN inference cost average time: 42.5 ms of infer_count 7\n"
                      "NN inference cost median time: 41 ms of infer_count 7\nwarmup calls: 3\n"
                      "backend: onnxruntime: ONNX Runtime 1.31 CPU\n")
    got = read_timing(str(tmp_path))
    assert (got.mean_ms, got.median_ms, got.count) == (42.5, 41.0, 7)
    timing.write_text("warmup calls: 3\n")
    with pytest.raises(InferIOError, match="average/median"):
        read_timing(str(tmp_path))

"""Checkpoint I/O: atomic writes that survive a crash mid-write, rotation, strict loading errors."""
import mindspore as ms
import numpy as np
import pytest

from mindzoo.weights.checkpoint import load_weights
from mindzoo.weights.files import read_checkpoint, save_checkpoint_atomic
from mindzoo.errors import CheckpointError
from mindzoo.models import create_model
from mindzoo.train.resume import CheckpointManager


def _params(value: float):
    return [{"name": "w", "data": ms.Tensor(np.full((2, 2), value, np.float32))}]


def test_atomic_save_replaces_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "run" / "model.ckpt"
    save_checkpoint_atomic(_params(1.0), path)
    save_checkpoint_atomic(_params(2.0), path, append_dict={"epoch": 3})
    state = read_checkpoint(path)
    assert float(state["w"].asnumpy()[0, 0]) == 2.0 and int(state["epoch"].asnumpy()) == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.ckpt"]


def test_a_crash_during_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"
    save_checkpoint_atomic(_params(1.0), path)
    real_save = ms.save_checkpoint

    def dying_save(obj, name, **kwargs):
        real_save(obj, name, **kwargs)
        with open(name, "r+b") as fh:  # a half-written file, then the process "dies"
            fh.truncate(10)
        raise KeyboardInterrupt

    monkeypatch.setattr(ms, "save_checkpoint", dying_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint_atomic(_params(2.0), path)
    assert float(read_checkpoint(path)["w"].asnumpy()[0, 0]) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]


def test_manager_keeps_the_newest_and_finds_latest(tmp_path):
    manager = CheckpointManager(tmp_path, "resnet18", keep_max=2)
    for epoch in (1, 2, 10, 11):
        manager.save(_params(float(epoch)), epoch, 5, {"epoch": epoch})
    assert [p.name for p in manager.epoch_checkpoints()] == ["resnet18-10_5.ckpt", "resnet18-11_5.ckpt"]
    assert manager.latest().name == "resnet18-11_5.ckpt"


def test_load_weights_num_classes_mismatch_is_clear(tmp_path):
    path = tmp_path / "r18.ckpt"
    save_checkpoint_atomic(create_model("resnet18", num_classes=10), path)
    with pytest.raises(CheckpointError, match=r"10-class classifier.*num_classes=4; set --num_classes=10"):
        load_weights(create_model("resnet18", num_classes=4), path)


def test_load_weights_wrong_architecture_names_the_key(tmp_path):
    path = tmp_path / "r18.ckpt"
    save_checkpoint_atomic(create_model("resnet18", num_classes=10), path)
    with pytest.raises(CheckpointError, match=r"parameter 'layer1.0.conv1.weight' has shape \(64, 64, 3, 3\), the network expects \(64, 64, 1, 1\)"):
        load_weights(create_model("resnet50", num_classes=10), path)


def test_load_weights_round_trip(tmp_path):
    src = create_model("resnet18", num_classes=5)
    path = save_checkpoint_atomic(src, tmp_path / "r18.ckpt")
    dst = create_model("resnet18", num_classes=5)
    load_weights(dst, path)
    np.testing.assert_array_equal(src.fc.weight.asnumpy(), dst.fc.weight.asnumpy())
    np.testing.assert_array_equal(src.layer3[0].conv2.weight.asnumpy(), dst.layer3[0].conv2.weight.asnumpy())


def test_unreadable_checkpoint_is_one_line(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "missing.ckpt")


def test_save_fsyncs_the_file_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    """Without these two fsyncs a power loss after the rename can leave an empty or missing checkpoint."""
    import os
    import stat

    import mindzoo.weights.files as checkpoint

    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def spy_fsync(fd):
        events.append(("fsync", "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        return real_fsync(fd)

    def spy_replace(src, dst):
        events.append(("replace", os.path.basename(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "fsync", spy_fsync)
    monkeypatch.setattr(checkpoint.os, "replace", spy_replace)
    save_checkpoint_atomic(_params(1.0), tmp_path / "model.ckpt")
    assert events == [("fsync", "file"), ("replace", "model.ckpt"), ("fsync", "dir")]
    assert float(read_checkpoint(tmp_path / "model.ckpt")["w"].asnumpy()[0, 0]) == 1.0


_WRITER = """
import os, sys, time
import mindzoo
import mindzoo.weights.files as checkpoint
import mindspore as ms
import numpy as np

def stall(src, dst):  # the data is written and fsynced; die before the rename
    print("written", flush=True)
    time.sleep(600)

checkpoint.os.replace = stall
checkpoint.save_checkpoint_atomic([{"name": "w", "data": ms.Tensor(np.full((256, 256), 2.0, np.float32))}],
                                  sys.argv[1])
"""


def test_a_killed_writer_leaves_the_old_checkpoint_and_its_temp_file_is_cleaned_up(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    path = tmp_path / "model.ckpt"
    save_checkpoint_atomic(_params(1.0), path)
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "written"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=60)
        writer.stdout.close()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model.ckpt"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".model.tmp-") and leftovers[0].endswith(
        f"-{writer.pid}.ckpt")
    assert float(read_checkpoint(path)["w"].asnumpy()[0, 0]) == 1.0  # the kill did not touch the old one

    # a temp file of a writer that is still alive stays
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        import socket

        busy = tmp_path / f".other.tmp-{socket.gethostname()}-{alive.pid}.ckpt"
        busy.write_bytes(b"being written")
        save_checkpoint_atomic(_params(3.0), tmp_path / "next.ckpt")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.ckpt", "next.ckpt", busy.name])
    finally:
        alive.kill()
        alive.wait(timeout=60)
    assert float(read_checkpoint(path)["w"].asnumpy()[0, 0]) == 1.0
    assert float(read_checkpoint(tmp_path / "next.ckpt")["w"].asnumpy()[0, 0]) == 3.0


def test_eval_directory_listing_skips_temp_files(tmp_path):
    from mindzoo.weights.naming import checkpoint_files

    save_checkpoint_atomic(_params(1.0), tmp_path / "a-1_2.ckpt")
    (tmp_path / ".a-2_2.tmp-host-1.ckpt").write_bytes(b"half")
    assert [p.name for p in checkpoint_files(str(tmp_path))] == ["a-1_2.ckpt"]


def test_train_step_checkpoints_record_the_variant_and_preprocessing_of_their_net(tmp_path):
    """What train.py saves (a TrainStep wrapping the net, through CheckpointManager) carries the net's variant and
    resize backend, so a fine-tuned converted checkpoint rebuilds the same network: create_model reads both back,
    and a net built without the variant refuses it in one line."""
    from mindzoo.weights.pretrained import PRETRAINED_CFG_KEY, read_pretrained_cfg
    from mindzoo.weights.pretrained import ResNetVariant
    from mindzoo.train.amp import build_train_step
    from mindzoo.train.loss import CrossEntropySmooth
    from mindzoo.train.optim import build_optimizer

    variant = ResNetVariant(conv_padding="same", pool_padding="same", bn_eps=1e-4, block_bn_eps=1e-4)
    net = create_model("resnet18", num_classes=3, variant=variant)
    net.data_config = net.data_config.replace(resize_backend="pil")
    optimizer = build_optimizer(net, 0.1, 0.9, 1e-4)
    step = build_train_step(net, CrossEntropySmooth(3, 0.0), optimizer)
    path = CheckpointManager(tmp_path, "resnet18", keep_max=2).save(step, 1, 5, {"epoch": 1})
    state = read_checkpoint(path)
    assert PRETRAINED_CFG_KEY in state and "epoch" in state
    cfg = read_pretrained_cfg(state, str(path))
    assert cfg.variant == variant and cfg.data_config == {"resize_backend": "pil"}
    rebuilt = create_model("resnet18", num_classes=3, pretrained=str(path))
    assert rebuilt.variant == variant and rebuilt.data_config.resize_backend == "pil"
    np.testing.assert_array_equal(rebuilt.layer4[1].conv2.weight.asnumpy(), net.layer4[1].conv2.weight.asnumpy())
    with pytest.raises(CheckpointError, match=r"conv_padding='same' \(not 'symmetric'\).*create_model\(NAME") as err:
        load_weights(create_model("resnet18", num_classes=3), path)
    assert "\n" not in str(err.value)


def test_checkpoint_without_metadata_is_torchvisions_variant(tmp_path):
    """Checkpoints from before the metadata (or from plain ms.save_checkpoint) load into the default network."""
    path = tmp_path / "plain.ckpt"
    ms.save_checkpoint(create_model("resnet18", num_classes=2), str(path))
    net = create_model("resnet18", num_classes=2, pretrained=str(path))
    assert net.variant.is_torchvision and net.data_config.resize_backend == "opencv"


def test_run_checkpoints_are_named_listed_and_chosen_in_one_place(tmp_path):
    """weights.naming: <net>-<epoch>_<step>.ckpt, listed in (epoch, step) order, other nets and temp files ignored;
    the demos and the launchers' --resume_ckpt=auto take newest_checkpoint."""
    from mindzoo.weights.naming import CKPT_PATTERN, checkpoint_name, list_checkpoints, newest_checkpoint

    assert newest_checkpoint(tmp_path, "resnet18") is None
    names = [checkpoint_name("resnet18", 10, 5), checkpoint_name("resnet18", 2, 5), checkpoint_name("resnet18", 2, 3),
             checkpoint_name("resnet18x", 99, 1), ".resnet18-11_1.tmp-host-1.ckpt"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert CKPT_PATTERN.match("resnet18-10_5.ckpt")["epoch"] == "10"
    assert [p.name for p in list_checkpoints(tmp_path, "resnet18")] == [
        "resnet18-2_3.ckpt", "resnet18-2_5.ckpt", "resnet18-10_5.ckpt"]
    assert newest_checkpoint(tmp_path, "resnet18").name == "resnet18-10_5.ckpt"


def test_checkpoint_size_check_counts_the_page_cache(tmp_path):
    """MindSpore's load_checkpoint compares a file with *free* memory (page cache excluded): with the cache full a
    200 MB checkpoint was refused on a 24 GB machine. After read_checkpoint its check reads MemAvailable, which is
    never below free memory, and a checkpoint still loads."""
    import os

    from mindspore.train import serialization

    from mindzoo.weights.files import mem_available

    net = ms.nn.Dense(3, 2)
    path = save_checkpoint_atomic(net, tmp_path / "dense.ckpt")
    assert set(read_checkpoint(path)) == {"weight", "bias"}
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert serialization._get_available_memory is mem_available
    assert serialization._get_available_memory() >= free * 0.9  # free memory moves a little between the two reads

"""BatchNorm folding: same logits as the unfolded eval network, no BN left, recompiles in GRAPH mode, exports."""
import json

import mindspore as ms
import numpy as np
import onnx
import pytest
from mindspore import Tensor, nn

from mindzoo.cli import export as export_cli
from mindzoo.errors import MindzooError
from mindzoo.export.exporter import fold_batchnorm_checked
from mindzoo.export.verify import relative_error
from mindzoo.models import create_model
from mindzoo.models.fold import fold_batchnorm

TOL = 1e-5


def _randomise_batchnorm(net: nn.Cell, seed: int = 0) -> int:
    """Trained-looking BN statistics: with the initial ones (mean 0, var 1, gamma 1, beta 0) folding is ~identity
    and a wrong axis or a dropped term would go unnoticed."""
    rng = np.random.default_rng(seed)
    count = 0
    for _, cell in net.cells_and_names():
        if isinstance(cell, nn.BatchNorm2d):
            n = cell.gamma.shape[0]
            cell.gamma.set_data(Tensor(rng.uniform(0.5, 1.5, n).astype(np.float32)))
            cell.beta.set_data(Tensor(rng.normal(0, 0.2, n).astype(np.float32)))
            cell.moving_mean.set_data(Tensor(rng.normal(0, 0.3, n).astype(np.float32)))
            cell.moving_variance.set_data(Tensor(rng.uniform(0.3, 2.0, n).astype(np.float32)))
            count += 1
    return count


def _eval_net(name: str, num_classes: int = 5, seed: int = 0) -> nn.Cell:
    net = create_model(name, num_classes=num_classes)
    _randomise_batchnorm(net, seed)
    net.set_train(False)
    return net


def _x(shape, seed=3) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _batchnorms(net: nn.Cell) -> int:
    return sum(isinstance(cell, nn.BatchNorm2d) for _, cell in net.cells_and_names())


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d"])
def test_folded_network_has_no_batchnorm_and_the_same_logits(name):
    net = _eval_net(name)
    x = _x((2, 3, 32, 32))
    before = net(x).asnumpy()
    bns = _batchnorms(net)
    assert bns > 0
    assert fold_batchnorm(net) == bns
    assert _batchnorms(net) == 0
    assert relative_error(net(x).asnumpy(), before) <= TOL
    names = [p.name for p in net.get_parameters()]
    assert len(names) == len(set(names)) and "conv1.bias" in names and "layer1.0.conv1.bias" in names


def test_folding_keeps_same_padding_and_bn_eps_of_a_variant():
    """The model zoo's variant (``same`` convs/pool, eps 1e-4): folded convs keep ``same`` and the eps goes into the
    scale, at an odd size where ``same`` and symmetric padding differ."""
    from mindzoo.weights.pretrained import ResNetVariant

    net = create_model("resnet50", num_classes=5, variant=ResNetVariant("same", "same", 1e-4, 1e-3))
    _randomise_batchnorm(net)
    net.set_train(False)
    x = _x((1, 3, 33, 47))
    before = net(x).asnumpy()
    fold_batchnorm(net)
    assert net.conv1.pad_mode == "same" and net.layer2[0].conv2.pad_mode == "same"
    assert relative_error(net(x).asnumpy(), before) <= TOL


def test_folding_a_training_network_is_refused():
    net = create_model("resnet18", num_classes=3)
    net.set_train(True)
    with pytest.raises(MindzooError, match="eval-mode"):
        fold_batchnorm(net)


def test_graph_mode_runs_the_folded_graph_after_the_unfolded_one_compiled():
    """GRAPH mode caches graphs by cell creation time: without renewing it the old BN graph would keep running,
    and a change to a folded conv's bias would not reach the output."""
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        net = _eval_net("resnet18")
        x = _x((1, 3, 32, 32))
        before = net(x).asnumpy()
        fold_batchnorm(net)
        assert relative_error(net(x).asnumpy(), before) <= TOL
        net.fc.weight.set_data(net.fc.weight * 0)  # the fc is shared by both graphs: zero it to see the bias
        net.fc.bias.set_data(Tensor(np.arange(5, dtype=np.float32)))
        net.layer4[1].conv2.bias.set_data(net.layer4[1].conv2.bias + 100.0)
        np.testing.assert_allclose(net(x).asnumpy(), np.arange(5, dtype=np.float32)[None], atol=1e-5)
    finally:
        ms.set_context(mode=previous)


def test_checked_fold_reports_the_logit_change_and_rejects_a_wrong_fold(monkeypatch):
    net = _eval_net("resnet18")
    folded, error = fold_batchnorm_checked(net, (1, 3, 32, 32))
    assert folded == 20 and 0 <= error <= TOL

    from mindzoo.models import fold as fold_module

    def forgets_the_shift(conv, bn, name):
        fused = original(conv, bn, name)
        fused.bias.set_data(fused.bias * 0)
        return fused

    original = fold_module.folded_conv
    monkeypatch.setattr(fold_module, "folded_conv", forgets_the_shift)
    with pytest.raises(MindzooError, match="folding BatchNorm changed the logits"):
        fold_batchnorm_checked(_eval_net("resnet18"), (1, 3, 32, 32))


@pytest.mark.parametrize("fold_bn", [True, False])
def test_export_folds_batchnorm_unless_told_not_to(tmp_path, fold_bn):
    net = _eval_net("resnet18", seed=1)
    ckpt = tmp_path / "r18.ckpt"
    ms.save_checkpoint(net, str(ckpt))
    x = _x((1, 3, 32, 32))
    expected = net(x).asnumpy()
    result = export_cli.run_export(["--net_name=resnet18", "--num_classes=5", f"--ckpt_file={ckpt}",
                                    f"--file_name={tmp_path / 'r18'}", "--file_format=ONNX", "--width=32",
                                    "--height=32", f"--fold_bn={fold_bn}"], set_context=False)
    ops = [node.op_type for node in onnx.load(str(result.path)).graph.node]
    assert ops.count("BatchNormalization") == (0 if fold_bn else 20)
    assert ops.count("Conv") == 20  # the stem, 16 in the blocks, 3 downsamples
    recorded = json.loads(result.sidecar.read_text())["fold_bn"]
    assert recorded["folded"] == (20 if fold_bn else 0)
    assert (0 <= recorded["max_relative_error"] <= 1e-4) if fold_bn else "max_relative_error" not in recorded

    import onnxruntime as ort

    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.asnumpy()})[0]
    assert relative_error(got, expected) <= 1e-4

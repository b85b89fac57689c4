"""eval.py over a checkpoint directory: one compiled graph, and the same results as a fresh network per checkpoint.

GRAPH mode throughout. The compile count is the counting Cell's compile cache (one entry per compiled graph);
the first tests check that this count, and the creation-time stamp fold_batchnorm / reset_classifier renew,
really track what MindSpore compiles.
"""
from pathlib import Path
from typing import Dict, List

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from helpers import make_image_folder
from mindzoo.weights.checkpoint import load_weights
from mindzoo.data import create_dataset, geometry_transforms, resolve_eval_geometry
from mindzoo.errors import CheckpointError
from mindzoo.eval.metrics import TopKCorrect, evaluate
from mindzoo.eval.sweep import CheckpointEvaluator
from mindzoo.models import create_model
from mindzoo.models.fold import fold_batchnorm, fold_conv_bn, fold_plan, folded_values

NUM_CLASSES, SIZE = 4, 32


@pytest.fixture(autouse=True)
def graph_mode():
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=previous)


@pytest.fixture(scope="module")
def val_dir(tmp_path_factory) -> Path:
    root = make_image_folder(tmp_path_factory.mktemp("sweep"), {"val": {f"c{k}": 3 for k in range(NUM_CLASSES)}})
    return root / "val"


def _dataset(val_dir: Path):
    geometry = resolve_eval_geometry(create_model("resnet18", num_classes=NUM_CLASSES).data_config, SIZE)
    return create_dataset(str(val_dir.parent), "val", geometry_transforms(geometry), batch_size=5, shuffle=False,
                          num_parallel_workers=1)


def _trained_looking(seed: int, num_classes: int = NUM_CLASSES) -> nn.Cell:
    """A resnet18 whose every parameter and BN statistic differs from another seed's (so a stale value shows)."""
    rng = np.random.default_rng(seed)
    net = create_model("resnet18", num_classes=num_classes)
    for param in net.get_parameters():
        value = param.asnumpy()
        if param.name.endswith(("moving_variance", "gamma")):
            new = rng.uniform(0.5, 1.5, value.shape)
        elif param.name.endswith(("moving_mean", "beta")):
            new = rng.normal(0, 0.2, value.shape)
        else:
            new = value * rng.uniform(0.5, 1.5, value.shape)
        param.set_data(Tensor(new.astype(np.float32)))
    return net


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> List[Path]:
    folder = tmp_path_factory.mktemp("ckpts")
    paths = []
    for seed in range(3):
        path = folder / f"resnet18-{seed + 1}_3.ckpt"
        ms.save_checkpoint(_trained_looking(seed), str(path))
        paths.append(path)
    return paths


def _x(seed: int = 7) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal((2, 3, SIZE, SIZE)).astype(np.float32))


def test_compile_cache_counts_compiles_and_the_stamp_forces_a_recompile_after_a_fold():
    """If MindSpore stops keying graphs by the cell's _create_time, fold_batchnorm and reset_classifier would
    silently keep running the old graph (with the old parameters): this test fails first."""
    net = _trained_looking(0)
    net.set_train(False)
    x = _x()
    expected = net(x).asnumpy()
    net(x)
    assert len(net.compile_cache) == 1  # same structure, same shapes: the cached graph runs
    stamp = net._create_time
    fold_batchnorm(net)
    assert net._create_time != stamp
    np.testing.assert_allclose(net(x).asnumpy(), expected, rtol=1e-4, atol=1e-4)
    assert len(net.compile_cache) == 2  # the fold changed the structure: compiled again
    net.fc.weight.set_data(net.fc.weight * 0)
    net.fc.bias.set_data(Tensor(np.arange(NUM_CLASSES, dtype=np.float32)))
    np.testing.assert_allclose(net(x).asnumpy(), np.tile(np.arange(NUM_CLASSES, dtype=np.float32), (2, 1)))
    assert len(net.compile_cache) == 2  # new values, same graph
    net.reset_classifier(3)
    assert net(x).shape == (2, 3)  # not the cached 4-class graph
    assert len(net.compile_cache) == 3


def test_fold_arithmetic_is_one_function_for_both_paths():
    net = _trained_looking(1)
    net.set_train(False)
    plan = fold_plan(net)
    values = folded_values({p.name: p.asnumpy() for p in net.get_parameters()}, plan)
    stem = plan[0]
    assert (stem.name, stem.conv_weight, stem.gamma) == ("conv1", "conv1.weight", "bn1.gamma")
    weight, bias = fold_conv_bn(net.conv1.weight.asnumpy(), None, net.bn1.gamma.asnumpy(), net.bn1.beta.asnumpy(),
                                net.bn1.moving_mean.asnumpy(), net.bn1.moving_variance.asnumpy(), net.bn1.eps)
    assert fold_batchnorm(net) == len(plan) == 20
    folded = {p.name: p.asnumpy() for p in net.get_parameters()}
    assert set(values) <= set(folded)
    for name, value in values.items():
        np.testing.assert_array_equal(folded[name], value, err_msg=name)
    np.testing.assert_array_equal(folded["conv1.weight"], weight)
    np.testing.assert_array_equal(folded["conv1.bias"], bias)


def _fresh_network_results(ckpt: Path, dataset, fold_bn: bool) -> Dict[str, object]:
    """What eval.py did before: a new network per checkpoint, loaded, folded, with its own counter."""
    net = create_model("resnet18", num_classes=NUM_CLASSES)
    load_weights(net, ckpt)
    net.set_train(False)
    if fold_bn:
        fold_batchnorm(net)
    counter = TopKCorrect(net)
    result = evaluate(net, dataset, counter=counter)
    return {"counts": (result.correct_top1, result.correct_top5, result.total), "logits": net(_x()).asnumpy(),
            "compiled": len(counter.compile_cache)}


@pytest.mark.parametrize("fold_bn", [True, False])
def test_one_compile_for_every_checkpoint_and_the_results_of_a_fresh_network(val_dir, checkpoints, fold_bn):
    dataset = _dataset(val_dir)
    evaluator = CheckpointEvaluator("resnet18", NUM_CLASSES, checkpoints[0], fold_bn=fold_bn)
    assert evaluator.folded == (20 if fold_bn else 0)
    seen, references = [], {}
    for ckpt in [*checkpoints, checkpoints[0]]:  # back to the first: nothing of a later checkpoint may stay
        evaluator.load(ckpt)
        result = evaluator.evaluate(dataset)
        if ckpt not in references:  # a fresh network's results depend on the checkpoint only: built once each
            references[ckpt] = _fresh_network_results(ckpt, dataset, fold_bn)
        reference = references[ckpt]
        assert reference["compiled"] == 2
        assert (result.correct_top1, result.correct_top5, result.total) == reference["counts"]
        logits = evaluator.network(_x()).asnumpy()
        np.testing.assert_array_equal(logits, reference["logits"], err_msg=str(ckpt))
        seen.append(logits)
    # 12 images in batches of 5: one graph for the full batches and one for the last 2 images, for all 4 loads
    assert evaluator.graphs_compiled == 2
    assert not np.array_equal(seen[0], seen[1]) and np.array_equal(seen[0], seen[-1])


def test_a_later_checkpoint_of_another_shape_is_a_clear_error(checkpoints, tmp_path):
    other = tmp_path / "other.ckpt"
    ms.save_checkpoint(_trained_looking(5, num_classes=10), str(other))
    evaluator = CheckpointEvaluator("resnet18", NUM_CLASSES, checkpoints[0])
    with pytest.raises(CheckpointError, match=r"other.ckpt has a 10-class classifier"):
        evaluator.load(other)

"""Training recipes (MindCV's keys): each option changes the step exactly as defined, on CPU at tiny sizes.

EMA = closed form; gradient accumulation = one step on the whole batch; clipping bounds the global norm after
unscaling; drop path is the identity in eval and absent at rate 0; BCE / Mixup / CutMix equal timm's code (when
timm is installed; its files are loaded alone, as timm's package import needs torchvision) and the formulas;
AdamW equals torch's, LAMB timm's algorithm; one tiny run with every option on trains, saves EMA weights, resumes
bit-identically and eval.py scores its checkpoint; bad values are one-line errors.
"""
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

import mindzoo  # noqa: F401  (sets the oneDNN ISA before MindSpore loads)
import mindspore as ms
from mindspore import nn

from mindzoo.config import load_config
from mindzoo.data.auto_augment import RandAugment, RandomErasing, auto_augment_ops
from mindzoo.data.mixup import MixParams, Mixup, mix_batch, smoothed_one_hot
from mindzoo.errors import ConfigError
from mindzoo.train.amp import EMA_WARMUP_STEPS, build_train_step
from mindzoo.train.checks import check_train_config
from mindzoo.train.loss import BinaryCrossEntropy, CrossEntropySmooth, SoftTargetCrossEntropy, build_loss
from mindzoo.train.optim import build_optimizer

from helpers import conv_bn_dense, dense_net, error_lines, make_image_folder, run

pytestmark = pytest.mark.usefixtures("graph_mode")

X = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
Y = np.array([0, 1, 1, 0], np.int32)


def weights(cell: nn.Cell) -> Dict[str, np.ndarray]:
    return {p.name: p.asnumpy().copy() for p in cell.get_parameters()}


def timm_file(relative: str):
    """One of timm's modules loaded alone (``import timm`` needs torchvision, which the CPU torch cannot load)."""
    pytest.importorskip("torch")
    spec = importlib.util.find_spec("timm")
    if spec is None:
        pytest.skip("timm is not installed (pip install --no-deps timm)")
    path = Path(spec.submodule_search_locations[0]) / relative
    module_spec = importlib.util.spec_from_file_location(f"timm_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the train step


def test_ema_after_k_steps_equals_the_closed_form():
    net = dense_net()
    step = build_train_step(net, CrossEntropySmooth(2, 0.0), build_optimizer(net, 0.5, 0.9, 0.01), ema=True,
                            ema_decay=0.999)
    history = [weights(net)]
    for _ in range(4):
        step(ms.Tensor(X), ms.Tensor(Y))
        history.append(weights(net))
    decays = [0.999 * (1 - np.exp(-t / EMA_WARMUP_STEPS)) for t in range(1, 5)]
    for name in ("weight", "bias"):
        # ema_k = prod(d) w_0 + sum_t (1 - d_t) prod_{s > t} d_s w_t
        expected = np.prod(decays) * history[0][name]
        for t in range(1, 5):
            expected = expected + (1 - decays[t - 1]) * np.prod(decays[t:]) * history[t][name]
        np.testing.assert_allclose(weights(step)[f"ema.{name}"], expected, rtol=1e-5, atol=1e-7)
    assert float(step.ema_updates.asnumpy()) == 4.0


@pytest.mark.parametrize("make_net, classes, x, y", [
    (dense_net, 2, X, Y),
    (conv_bn_dense, 3, np.random.default_rng(2).normal(size=(4, 3, 6, 6)).astype(np.float32), np.array([0, 2, 1, 2])),
], ids=["dense", "conv_bn_eval"])
def test_accumulating_micro_batches_equals_one_step_on_the_whole_batch(make_net, classes, x, y):
    """Two micro-batches of 2 vs one batch of 4, three steps, SGD-momentum with weight decay, dynamic loss scale
    (a network without BatchNorm, and one whose BatchNorm is in eval mode)."""
    results = []
    for accumulation in (1, 2):
        ms.set_seed(0)
        net = make_net()
        step = build_train_step(net, CrossEntropySmooth(classes, 0.1), build_optimizer(net, 0.1, 0.9, 1e-2),
                                loss_scale_type="dynamic", loss_scale=1024.0,
                                gradient_accumulation_steps=accumulation)
        if make_net is conv_bn_dense:
            net.bn.set_train(False)
        losses = [float(step(ms.Tensor(x), ms.Tensor(y.astype(np.int32)))[0].asnumpy()) for _ in range(3)]
        results.append((losses, weights(step)))
    (losses1, w1), (losses2, w2) = results
    np.testing.assert_allclose(losses2, losses1, rtol=1e-5)
    assert set(w1) == set(w2)
    for name in w1:
        np.testing.assert_allclose(w2[name], w1[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_clipping_bounds_the_global_norm_of_the_unscaled_gradients():
    """Plain SGD with lr 1: the update is minus the gradient; clipped, it is the same direction at norm clip_value."""
    updates = []
    for clip in (False, True):
        net = dense_net()
        before = weights(net)
        step = build_train_step(net, CrossEntropySmooth(2, 0.0), build_optimizer(net, 1.0, 0.0, 0.0), loss_scale=64.0,
                                clip_grad=clip, clip_value=0.05)
        step(ms.Tensor(X), ms.Tensor(Y))
        updates.append(np.concatenate([(weights(net)[k] - before[k]).ravel() for k in ("weight", "bias")]))
    raw, clipped = updates
    assert np.linalg.norm(raw) > 0.05
    np.testing.assert_allclose(np.linalg.norm(clipped), 0.05, rtol=1e-5)
    np.testing.assert_allclose(clipped, raw * 0.05 / np.linalg.norm(raw), rtol=1e-4, atol=1e-7)


def graph_ops(step: nn.Cell) -> List[str]:
    """The op types of ``step``'s compiled graph (MindIR nodes; references to sub-graphs left out)."""
    from mindspore.graph.api import _cell_graph_executor
    from mindspore.train import mind_ir_pb2

    graph_id, _ = _cell_graph_executor.compile(step, ms.Tensor(X), ms.Tensor(Y), phase="train", do_convert=False)
    proto = mind_ir_pb2.ModelProto()
    proto.ParseFromString(_cell_graph_executor._get_func_graph_proto(step, graph_id, "mind_ir"))
    return sorted(n.op_type for g in [proto.graph, *proto.functions] for n in g.node if not n.op_type.startswith("REF::"))


def test_options_off_leave_the_step_graph_as_it_was():
    """With every recipe option off the compiled step has the parameters and the graph of the step before the
    options existed: 28 MindIR op nodes for this Dense with a dynamic loss scale, counted with MindSpore 2.10 on the
    commit before them (the options are Python constants, resolved when the graph compiles)."""
    net = dense_net()
    step = build_train_step(net, CrossEntropySmooth(2, 0.1), build_optimizer(net, 0.1, 0.9, 1e-4),
                            loss_scale_type="dynamic")
    assert {p.name for p in step.get_parameters()} == {
        "weight", "bias", "loss_scale", "loss_scale_clean_steps", "global_step", "learning_rate", "momentum",
        "moments.weight", "moments.bias"}
    plain = graph_ops(step)
    assert len(plain) == 28
    net = dense_net()
    recipe = build_train_step(net, CrossEntropySmooth(2, 0.1), build_optimizer(net, 0.1, 0.9, 1e-4),
                              loss_scale_type="dynamic", ema=True, clip_grad=True)
    assert len(graph_ops(recipe)) > len(plain)


# ---------------------------------------------------------------- losses and optimizers


def test_bce_equals_the_formula_and_timms_binary_cross_entropy():
    logits = np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32)
    labels = np.array([0, 3, 4, 1], np.int32)
    target = smoothed_one_hot(labels, 5, 0.1)
    expected = np.mean(np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits))))
    got = float(BinaryCrossEntropy(5, 0.1)(ms.Tensor(logits), ms.Tensor(labels)).asnumpy())
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    soft = np.random.default_rng(4).dirichlet(np.ones(5), 4).astype(np.float32)
    thresholded = float(BinaryCrossEntropy(5, 0.0, 0.2)(ms.Tensor(logits), ms.Tensor(soft)).asnumpy())
    hard = (soft > 0.2).astype(np.float32)
    np.testing.assert_allclose(thresholded, np.mean(np.maximum(logits, 0) - logits * hard
                                                    + np.log1p(np.exp(-np.abs(logits)))), rtol=1e-6)
    # soft-target CE on smoothed one-hot targets is CrossEntropySmooth
    ce = float(CrossEntropySmooth(5, 0.1)(ms.Tensor(logits), ms.Tensor(labels)).asnumpy())
    np.testing.assert_allclose(float(SoftTargetCrossEntropy()(ms.Tensor(logits), ms.Tensor(target)).asnumpy()), ce,
                               rtol=1e-6)
    assert isinstance(build_loss("BCE", 5, 0.1, soft_targets=True), BinaryCrossEntropy)

    torch = pytest.importorskip("torch")
    timm_bce = timm_file("loss/binary_cross_entropy.py").BinaryCrossEntropy
    reference = timm_bce(smoothing=0.1)(torch.tensor(logits), torch.tensor(labels, dtype=torch.long))
    np.testing.assert_allclose(got, float(reference), rtol=1e-6)
    reference = timm_bce(smoothing=0.0, target_threshold=0.2)(torch.tensor(logits), torch.tensor(soft))
    np.testing.assert_allclose(thresholded, float(reference), rtol=1e-6)


def _lamb_reference(w: Dict[str, np.ndarray], grads: List[Dict[str, np.ndarray]], lr: float, wd: Dict[str, float],
                    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Dict[str, np.ndarray]:
    """timm's Lamb step (max_grad_norm 1, trust ratio only where weight decay is on), in numpy."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    m = {k: 0.0 for k in w}
    v = {k: 0.0 for k in w}
    for t, g in enumerate(grads, 1):
        norm = np.sqrt(sum(np.sum(x.astype(np.float64) ** 2) for x in g.values()))
        for k in w:
            grad = g[k] / max(norm / 1.0, 1.0)
            m[k] = b1 * m[k] + (1 - b1) * grad
            v[k] = b2 * v[k] + (1 - b2) * grad ** 2
            update = (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + eps) + wd[k] * w[k]
            if wd[k]:
                wn, un = np.linalg.norm(w[k]), np.linalg.norm(update)
                update = update * (wn / un if wn > 0 and un > 0 else 1.0)
            w[k] = w[k] - lr * update
    return w


@pytest.mark.parametrize("opt", ["adamw", "lamb"])
def test_adamw_equals_torch_and_lamb_equals_timms_algorithm(opt):
    """Three steps on a Dense with weight decay on the weight only (the config's filter); fixed gradients come
    from a linear loss, so the reference needs no autograd."""
    net = dense_net()
    start = weights(net)
    optimizer = build_optimizer(net, 0.01, 0.9, 0.05, opt=opt)
    grads = [{"weight": np.full((2, 3), 0.3 * (i + 1), np.float32) * np.arange(1, 7).reshape(2, 3).astype(np.float32),
              "bias": np.array([0.2, -0.1 * (i + 1)], np.float32)} for i in range(3)]
    for g in grads:
        optimizer((ms.Tensor(g["weight"]), ms.Tensor(g["bias"])))
    got = weights(net)
    wd = {"weight": 0.05, "bias": 0.0}
    if opt == "lamb":
        expected = _lamb_reference(start, grads, 0.01, wd)
    else:
        torch = pytest.importorskip("torch")
        params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in start.items()}
        reference = torch.optim.AdamW([{"params": [params["weight"]], "weight_decay": 0.05},
                                       {"params": [params["bias"]], "weight_decay": 0.0}], lr=0.01, eps=1e-8)
        for g in grads:
            for k, p in params.items():
                p.grad = torch.tensor(g[k], dtype=torch.float64)
            reference.step()
        expected = {k: p.detach().numpy() for k, p in params.items()}
    for k in ("weight", "bias"):
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(optimizer.global_step.asnumpy()[0]) == 3


# ---------------------------------------------------------------- drop path


def test_drop_path_is_the_identity_in_eval_absent_at_rate_0_and_linear_per_block():
    from mindzoo.models.resnet import DropPath

    with_dp = mindzoo.create_model("resnet18", num_classes=3, drop_path_rate=0.2)
    plain = mindzoo.create_model("resnet18", num_classes=3)
    blocks = [b for layer in (with_dp.layer1, with_dp.layer2, with_dp.layer3, with_dp.layer4) for b in layer]
    rates = [1 - b.drop_path.keep if b.has_drop_path else 0.0 for b in blocks]
    np.testing.assert_allclose(rates, [0.2 * i / 7 for i in range(8)], atol=1e-12)
    assert not any(isinstance(c, DropPath) for _, c in plain.cells_and_names())
    assert [p.name for p in with_dp.get_parameters()] == [p.name for p in plain.get_parameters()]
    ms.load_param_into_net(plain, {p.name: p for p in with_dp.get_parameters()})
    x = ms.Tensor(np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32))
    with_dp.set_train(False)
    plain.set_train(False)
    np.testing.assert_array_equal(with_dp(x).asnumpy(), plain(x).asnumpy())

    drop = DropPath(0.3, salt=1.0)
    drop.set_train(True)
    branch = np.random.default_rng(1).normal(size=(2000, 2, 3, 3)).astype(np.float32)
    out = drop(ms.Tensor(branch)).asnumpy()
    dropped = np.abs(out).sum(axis=(1, 2, 3)) == 0
    assert 0.25 < dropped.mean() < 0.35
    np.testing.assert_allclose(out[~dropped], branch[~dropped] / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(drop(ms.Tensor(branch)).asnumpy(), out)  # a function of the input: resumable


# ---------------------------------------------------------------- Mixup / CutMix


def test_mixup_and_cutmix_equal_the_formulas_for_a_fixed_lambda():
    rng = np.random.default_rng(5)
    images = rng.normal(size=(4, 3, 8, 8)).astype(np.float32)
    labels = np.array([0, 1, 2, 1], np.int32)
    y = smoothed_one_hot(labels, 3, 0.1)
    np.testing.assert_allclose(y[0], [1 - 0.1 + 0.1 / 3, 0.1 / 3, 0.1 / 3], rtol=1e-6)
    mixed, target = mix_batch(images, labels, MixParams(lam=0.7), 3, 0.1)
    np.testing.assert_allclose(mixed, 0.7 * images + 0.3 * images[::-1], rtol=1e-6)
    np.testing.assert_allclose(target, 0.7 * y + 0.3 * y[::-1], rtol=1e-6)
    cut, target = mix_batch(images, labels, MixParams(lam=0.75, box=(2, 6, 0, 4), cutmix=True), 3, 0.1)
    expected = images.copy()
    expected[:, :, 2:6, 0:4] = images[::-1, :, 2:6, 0:4]
    np.testing.assert_array_equal(cut, expected)
    np.testing.assert_allclose(target, 0.75 * y + 0.25 * y[::-1], rtol=1e-6)
    np.testing.assert_allclose(target.sum(axis=1), 1.0, rtol=1e-6)


def test_mixup_and_cutmix_equal_timms_mixup_draw_for_draw():
    torch = pytest.importorskip("torch")
    timm_mixup = timm_file("data/mixup.py").Mixup
    rng = np.random.default_rng(6)
    ours = Mixup(0.8, 1.0, prob=0.9, switch_prob=0.5, smoothing=0.1, num_classes=5, seed=123)
    reference = timm_mixup(mixup_alpha=0.8, cutmix_alpha=1.0, prob=0.9, switch_prob=0.5, label_smoothing=0.1,
                           num_classes=5)
    state = np.random.get_state()
    np.random.seed(123)
    try:
        for _ in range(12):
            images = rng.normal(size=(4, 3, 10, 12)).astype(np.float32)
            labels = rng.integers(0, 5, 4).astype(np.int32)
            got_x, got_y = ours(images, labels)
            ref_x, ref_y = reference(torch.tensor(images), torch.tensor(labels, dtype=torch.long))
            np.testing.assert_allclose(got_x, ref_x.numpy(), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(got_y, ref_y.numpy(), rtol=1e-6, atol=1e-7)
    finally:
        np.random.set_state(state)


# ---------------------------------------------------------------- augmentation


def test_auto_augment_policies_map_to_mindspore_ops_and_ours():
    import mindspore.dataset.vision as vision

    assert isinstance(auto_augment_ops("autoaug")[0], vision.AutoAugment)
    assert isinstance(auto_augment_ops("trivialaugwide")[0], vision.TrivialAugmentWide)
    rand = auto_augment_ops("rand-m6-mstd0.5-inc1")[0]
    assert isinstance(rand, RandAugment) and (rand.magnitude, rand.num_ops, rand.magnitude_std) == (6.0, 2, 0.5)
    assert "SolarizeIncreasing" in rand.names
    assert auto_augment_ops("randaug-m9-n3-mstd0.5")[0].num_ops == 3  # MindCV's spelling
    image = np.random.default_rng(7).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    out = rand(image)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(rand(image), out)  # seeded by the image: the same in every worker and run
    assert any(not np.array_equal(RandAugment(10, 2, prob=1.0, seed=s)(image), image) for s in range(3))


def test_random_erasing_fills_one_box_after_normalisation():
    image = np.random.default_rng(8).normal(size=(3, 16, 16)).astype(np.float32)
    erased = RandomErasing(1.0, (0.1, 0.3), (0.5, 2.0), "0", seed=1)(image)
    zero = np.all(erased == 0, axis=0)
    rows, cols = np.nonzero(zero)
    assert 0.1 * 256 * 0.8 <= zero.sum() <= 0.3 * 256 * 1.2
    assert zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # one rectangle
    np.testing.assert_array_equal(erased[:, ~zero], image[:, ~zero])
    assert RandomErasing(0.0)(image) is image
    noisy = RandomErasing(1.0, value="random", seed=1)(image)
    assert not np.array_equal(noisy, image)


# ---------------------------------------------------------------- the config


@pytest.mark.parametrize("override, message", [
    ("--mixup=-1", "mixup must be >= 0 (a Beta alpha; 0 disables), got -1.0"),
    ("--auto_augment=rand-x9", "auto_augment 'rand-x9': cannot read 'x9'; use autoaug | trivialaugwide |"),
    ("--auto_augment=augmix", "unknown auto_augment policy 'augmix'; use autoaug | trivialaugwide |"),
    ("--ema_decay=1.0", "ema_decay must be in (0, 1), got 1.0"),
    ("--ema_decay=0", "ema_decay must be in (0, 1), got 0.0"),
    ("--opt=adam", "opt must be one of momentum, adamw, lamb, got 'adam'"),
    ("--loss=focal", "loss must be one of CE, BCE, got 'focal'"),
    ("--gradient_accumulation_steps=3", "batch_size 32 does not divide into gradient_accumulation_steps=3 "
                                        "micro-batches; use a batch_size that is a multiple of 3"),
    ("--re_value=grey", "re_value must be a number or 'random', got 'grey'"),
    ("--drop_path_rate=1", "drop_path_rate must be in [0, 1), got 1.0"),
])
def test_bad_recipe_values_are_one_line_config_errors(override, message):
    cfg = load_config(["--data_path=/data", override])
    with pytest.raises(ConfigError) as info:
        check_train_config(cfg)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_foreign_checkpoints_drop_mindcv_optimizer_and_ema_state():
    from mindzoo.weights.formats import is_training_state

    for key in ("ema.conv1.weight", "updates", "adam_m.fc.weight", "adam_v.fc.weight", "lamb_m.fc.bias"):
        assert is_training_state(key), key
    assert not is_training_state("conv1.weight")


def test_rsb_a3_recipe_is_valid_and_says_it_was_not_trained_here():
    from mindzoo.config import DEFAULT_CONFIG

    path = DEFAULT_CONFIG.parent / "rsb_a3_resnet50.yaml"
    cfg = load_config([f"--config_path={path}", "--data_path=/data"])
    check_train_config(cfg)
    assert (cfg.opt, cfg.loss, cfg.epoch_size, cfg.train_image_size, cfg.eval_image_size) == \
        ("lamb", "BCE", 100, 160, 224)
    assert (cfg.mixup, cfg.cutmix, cfg.auto_augment) == (0.1, 1.0, "rand-m6-mstd0.5-inc1")
    header = "\n".join(line for line in path.read_text().splitlines() if line.startswith("#")).lower()
    assert "78.1%" in header and "not trained here" in header and "2110.00476" in header


# ---------------------------------------------------------------- one tiny run with every option on


EVERYTHING = ["--net_name=resnet18", "--num_classes=4", "--train_image_size=32", "--eval_image_size=32",
              "--batch_size=8", "--eval_batch_size=8", "--epoch_size=3", "--lr=0.005", "--lr_base_batch=0",
              "--warmup_epochs=0", "--log_interval=3", "--num_parallel_workers=1", "--save_checkpoint_steps=3",
              "--keep_checkpoint_max=20", "--opt=lamb", "--weight_decay=0.02", "--loss=BCE",
              "--bce_target_thresh=0.2", "--label_smoothing=0.1", "--ema=True", "--ema_decay=0.99", "--mixup=0.2",
              "--cutmix=1.0", "--cutmix_prob=0.5", "--auto_augment=rand-m3-mstd0.5-inc1", "--re_prob=0.25",
              "--drop_path_rate=0.1", "--clip_grad=True", "--clip_value=5.0", "--gradient_accumulation_steps=2"]


def _fit(args: List[str]):
    from mindzoo.train.engine import build_run, fit

    run_ = build_run(load_config(args))
    fit(run_)
    return run_


def _arrays(path: Path) -> Dict[str, np.ndarray]:
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items()}


def test_every_option_on_trains_saves_ema_resumes_exactly_and_eval_scores_it(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": {f"c{k}": 12 for k in range(4)},
                                                 "val": {f"c{k}": 3 for k in range(4)}})
    unbroken = tmp_path / "unbroken"
    _fit([f"--data_path={data}", f"--output_dir={unbroken}", *EVERYTHING])
    records = [json.loads(line) for line in (unbroken / "metrics.jsonl").read_text().splitlines()]
    epochs = [r["mean_loss"] for r in records if r["event"] == "epoch"]
    assert len(epochs) == 3 and np.all(np.isfinite(epochs)) and epochs[-1] < epochs[0], epochs
    final = _arrays(unbroken / "checkpoints" / "resnet18-3_6.ckpt")
    ema_keys = [k for k in final if k.startswith("ema.")]
    assert "ema.fc.weight" in ema_keys and "ema.layer1.0.bn1.moving_mean" in ema_keys
    assert float(final["ema_updates"]) == 18 and not np.array_equal(final["ema.fc.weight"], final["fc.weight"])

    # eval.py / export.py / infer.py build their network like this: EMA weights by default, raw on request
    checkpoint = str(unbroken / "checkpoints" / "resnet18-3_6.ckpt")
    np.testing.assert_array_equal(mindzoo.create_model("resnet18", num_classes=4, pretrained=checkpoint)
                                  .fc.weight.asnumpy(), final["ema.fc.weight"])
    np.testing.assert_array_equal(mindzoo.create_model("resnet18", num_classes=4, pretrained=checkpoint,
                                                       raw_weights=True).fc.weight.asnumpy(), final["fc.weight"])

    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copy(unbroken / "checkpoints" / "resnet18-2_3.ckpt", resumed / "checkpoints")
    run_ = _fit([f"--data_path={data}", f"--output_dir={resumed}", *EVERYTHING, "--resume_ckpt=auto"])
    assert run_.resumed_from.name == "resnet18-2_3.ckpt"
    again = _arrays(resumed / "checkpoints" / "resnet18-3_6.ckpt")
    for key in final:
        if key != "mindzoo.pretrained_cfg":
            np.testing.assert_array_equal(again[key], final[key], err_msg=key)

    last_eval = [r for r in records if r["event"] == "eval"][-1]
    proc = run("eval.py", [f"--data_path={data}", "--net_name=resnet18", "--num_classes=4", "--eval_image_size=32",
                           "--eval_batch_size=8", f"--pretrained={unbroken / 'checkpoints' / 'resnet18-3_6.ckpt'}",
                           f"--output_dir={tmp_path / 'eval'}"])
    assert proc.returncode == 0 and not error_lines(proc), proc.stderr[-2000:]
    result = json.loads((tmp_path / "eval" / "eval_result.json").read_text())
    assert result["total"] == 12 and result["top1"] == pytest.approx(last_eval["top1"])  # the EMA weights
    assert "loading its EMA weights" in (tmp_path / "eval" / "eval_rank0.log").read_text()

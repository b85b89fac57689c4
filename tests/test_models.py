"""The ResNet family: torchvision-exact parameter counts, registry, data configs, head/feature split."""
import os
import subprocess

import mindspore as ms
import numpy as np
import pytest

import mindzoo
from mindzoo.models import Bottleneck, BasicBlock, create_model, list_models
from conftest import PYTHON

EXPECTED_MODELS = [
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d", "resnext101_32x4d", "resnext101_32x8d", "resnext101_64x4d", "resnext152_64x4d",
    "fixres_resnet50",
]

# torchvision's sum(p.numel() for p in model.parameters()) for the same architectures; resnext101_32x4d is not in
# torchvision: its count is MindCV 0.3.0's (trainable parameters) and timm's.
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext101_32x4d": 44_177_704,
    "resnext101_32x8d": 88_791_336,
    "resnext50_32x4d": 25_028_904,
    "resnext101_64x4d": 83_455_272,
    "resnext152_64x4d": 114_971_944,
    "fixres_resnet50": 25_557_032,
}


def test_every_builder_is_listed():
    assert sorted(EXPECTED_MODELS) == list_models()


def test_an_unknown_name_is_a_one_line_config_error_and_a_value_error():
    """The command lines print it as one line (exit 2); library callers may catch ValueError as before."""
    from mindzoo.errors import ConfigError

    for raised in (ConfigError, ValueError):
        with pytest.raises(raised, match=r"^net_name: unknown model 'resnet5'; did you mean 'resnet50'\?"):
            create_model("resnet5")


def test_list_models_from_the_command_line():
    out = subprocess.run(
        [PYTHON, "-c", "import mindzoo; print(mindzoo.list_models())"], capture_output=True, text=True, check=True
    ).stdout
    for name in EXPECTED_MODELS:
        assert f"'{name}'" in out


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model(name):
    """Every model the registry lists (timm's tests/test_models.py style): torchvision's parameter count, a
    forward pass at a tiny input with finite logits, and the features/head split agreeing with the forward."""
    assert name in TORCHVISION_PARAMS, f"add {name}'s reference parameter count to TORCHVISION_PARAMS"
    net = create_model(name)
    assert mindzoo.count_params(net) == TORCHVISION_PARAMS[name]
    net.set_train(False)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32))
    logits = net(x).asnumpy()
    assert logits.shape == (1, 1000) and np.isfinite(logits).all()
    head = net.forward_head(net.forward_features(x)).asnumpy()
    np.testing.assert_allclose(head, logits, rtol=1e-5, atol=1e-5)
    assert net.data_config.input_size > 0


def test_resnext152_shape():
    net = create_model("resnext152_64x4d", num_classes=10)
    assert [len(net.layer1), len(net.layer2), len(net.layer3), len(net.layer4)] == [3, 8, 36, 3]
    conv2 = net.layer1[0].conv2
    assert conv2.group == 64 and conv2.out_channels == 256  # 64 groups x 4 channels


def test_v15_stride_sits_on_the_3x3_conv():
    block = create_model("resnet50", num_classes=10).layer2[0]
    assert isinstance(block, Bottleneck)
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    assert block.downsample[0].stride == (2, 2)


def test_padding_is_explicit_and_symmetric():
    net = create_model("resnet18", num_classes=10)
    assert net.conv1.pad_mode == "pad" and net.conv1.padding == 3
    assert net.maxpool.pad_mode == "VALID"
    for block in net.layer2:
        assert isinstance(block, BasicBlock)
        assert block.conv1.pad_mode == "pad" and block.conv1.padding == 1


def test_variant_selects_mindspore_same_padding_and_bn_eps():
    """The model zoo's ResNet50: every 7x7/3x3 conv and the pool ``same``, 1x1 convs unpadded, eps 1e-4."""
    from mindzoo.weights.pretrained import ResNetVariant

    variant = ResNetVariant(conv_padding="same", pool_padding="same", bn_eps=1e-4, block_bn_eps=1e-3)
    net = create_model("resnet50", num_classes=10, variant=variant)
    assert net.variant == variant and not variant.is_torchvision and ResNetVariant().is_torchvision
    assert net.conv1.pad_mode == "same" and net.maxpool.pad_mode == "SAME"
    block = net.layer2[0]
    assert block.conv2.pad_mode == "same" and block.conv2.stride == (2, 2)
    assert block.conv1.pad_mode == "valid" and block.downsample[0].pad_mode == "valid"
    assert net.bn1.eps == pytest.approx(1e-4) and block.downsample[1].eps == pytest.approx(1e-4)
    assert block.bn1.eps == pytest.approx(1e-3) and block.bn3.eps == pytest.approx(1e-3)
    assert [p.name for p in net.get_parameters()] == [p.name for p in create_model("resnet50", 10).get_parameters()]
    with pytest.raises(ValueError, match="conv_padding must be one of"):
        ResNetVariant(conv_padding="valid")


def test_same_padding_differs_from_symmetric_only_where_a_stride_meets_an_even_size():
    """Same weights, 64x64 input: "same" pads stride-2 windows bottom/right only, so the logits move."""
    from mindzoo.weights.pretrained import ResNetVariant

    ms.set_seed(0)
    a = create_model("resnet18", num_classes=4)
    b = create_model("resnet18", num_classes=4, variant=ResNetVariant(pool_padding="same"))
    ms.load_param_into_net(b, {p.name: p for p in a.get_parameters()})
    a.set_train(False)
    b.set_train(False)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))
    assert np.abs(a(x).asnumpy() - b(x).asnumpy()).max() > 1e-4


def test_unknown_model_suggests_the_closest_name():
    with pytest.raises(ValueError, match="did you mean 'resnet50'"):
        create_model("resnet05")


def test_data_config_travels_with_the_model():
    r50 = create_model("resnet50", num_classes=10).data_config
    fix = create_model("fixres_resnet50", num_classes=10).data_config
    assert (r50.input_size, r50.test_input_size, r50.resize_size(224)) == (224, 224, 256)
    assert (fix.input_size, fix.test_input_size, fix.resize_size(384)) == (224, 384, 438)


def test_init_bn_momentum_and_zero_init_last_bn():
    net = create_model("resnet50", num_classes=10)
    bn = net.layer1[0].bn3
    assert np.all(bn.gamma.asnumpy() == 1) and np.all(bn.beta.asnumpy() == 0)
    assert bn.eps == pytest.approx(1e-5)
    w = net.layer3[0].conv2.weight.asnumpy()  # Kaiming normal, fan_out = 256 * 3 * 3 / 1
    assert np.std(w) == pytest.approx(np.sqrt(2.0 / (256 * 9)), rel=0.05)
    zero = create_model("resnet50", num_classes=10, zero_init_last_bn=True)
    assert np.all(zero.layer1[0].bn3.gamma.asnumpy() == 0)
    assert np.all(zero.layer1[0].bn1.gamma.asnumpy() == 1)


def test_bn_running_stats_update_like_torch_momentum_0_1():
    """One training forward moves running_mean 10% of the way to the batch mean (torch momentum=0.1)."""
    net = create_model("resnet18", num_classes=3)
    net.set_train(True)
    x = np.random.default_rng(1).uniform(1.0, 2.0, (2, 3, 32, 32)).astype(np.float32)
    net(ms.Tensor(x))
    weight = net.conv1.weight.asnumpy()
    out = ms.ops.Conv2D(64, 7, pad_mode="pad", pad=3, stride=2)(ms.Tensor(x), ms.Tensor(weight)).asnumpy()
    np.testing.assert_allclose(net.bn1.moving_mean.asnumpy(), 0.1 * out.mean(axis=(0, 2, 3)), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_forward_features_head_and_reset_classifier(mode):
    previous = ms.get_context("mode")
    ms.set_context(mode=mode)
    try:
        _check_features_head_and_reset()
    finally:
        ms.set_context(mode=previous)


def _check_features_head_and_reset():
    net = create_model("resnet18", num_classes=7)
    net.set_train(False)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))
    feats = net.forward_features(x)
    assert feats.shape == (2, 512, 2, 2)
    logits = net(x)
    np.testing.assert_allclose(net.forward_head(feats).asnumpy(), logits.asnumpy(), rtol=1e-6, atol=1e-6)
    assert net.forward_head(feats, pre_logits=True).shape == (2, 512)
    net.reset_classifier(3)
    assert net(x).shape == (2, 3) and net.get_classifier().weight.shape == (3, 512)
    assert net.last_bn is net.layer4[1].bn2


def test_import_sets_onednn_isa_unless_user_chose():
    code = "import os, mindzoo; print(os.environ['ONEDNN_MAX_CPU_ISA'])"
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
    assert subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "AVX2"
    env["ONEDNN_MAX_CPU_ISA"] = "AVX512_CORE"
    assert subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "AVX512_CORE"
